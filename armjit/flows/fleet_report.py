"""The fleet versions of the plan steps: ``baseline`` and ``ab`` on every host of ``--hosts``, and
the fleet's tables (how each host ended, benchmark x mode across hosts, host facts, verdicts per
host) on the console and in findings.md."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TextIO

from armjit.analysis.crosshost import cross_host_rows, helped_and_hurt, host_facts_row
from armjit.analysis.run_inputs import Input, load_input
from armjit.config import Settings
from armjit.errors import ArmjitError
from armjit.flows.fleet import FleetOutcome, run_fleet
from armjit.render import fleet_report as render
from armjit.seams import notes
from armjit.seams.hosts import Host
from armjit.seams.store import RunStore

__all__ = ["FleetReport", "ab_fleet", "baseline_fleet", "fleet_report", "sync_once"]


@dataclasses.dataclass(frozen=True)
class FleetReport:
    outcome: FleetOutcome
    text: str  # the console tables
    block: str  # findings.md's block


def sync_once(settings: Settings) -> Settings:
    """Rebase the work branch once, before the hosts start: several threads rebasing one local
    checkout would fight over its index. The hosts then deploy the same commit."""
    from armjit.seams import gitops, upstream

    if not settings.repo or not settings.sync_upstream or settings.bench_only:
        return settings
    repo = Path(settings.repo).expanduser()
    gitops.check_repo(repo, settings.branch)
    upstream.sync_upstream(
        repo, settings.upstream_remote, settings.upstream_branch, settings.branch, rebase=settings.rebase
    )
    return dataclasses.replace(settings, sync_upstream=False)


def baseline_fleet(settings: Settings, explicit: set[str], *, reports: Path, stream: TextIO | None) -> FleetReport:
    from armjit.flows.baseline import run_baseline

    settings = sync_once(settings)

    def job(s: Settings, host: Host, progress: Any) -> Any:
        return run_baseline(s, explicit, reports=reports, progress=progress, host=host)

    outcome = run_fleet(settings, kind="baseline", reports=reports, job=job, stream=stream)
    return fleet_report(outcome, settings, reports)


def ab_fleet(
    settings: Settings, explicit: set[str], *, reports: Path, stream: TextIO | None, **ab_args: Any
) -> FleetReport:
    from armjit.flows.ab import run_ab
    from armjit.render.ab_report import save_ab_plot, write_ab_notes

    def job(s: Settings, host: Host, progress: Any) -> Any:
        outcome = run_ab(s, explicit, reports=reports, progress=progress, host=host, **ab_args)
        write_ab_notes(
            outcome.run, outcome.manifest, outcome.report, s.notes_path, save_ab_plot(outcome.run, outcome.report)
        )
        return outcome

    outcome = run_fleet(settings, kind="aa" if ab_args.get("aa") else "ab", reports=reports, job=job, stream=stream)
    return fleet_report(outcome, settings, reports)


def fleet_report(outcome: FleetOutcome, settings: Settings, reports: Path) -> FleetReport:
    """The tables of a finished fleet, and its block written into findings.md."""
    record = outcome.record
    store = RunStore(reports / "runs")
    hosts = list(record.hosts)
    rows = [(r.host, r.status, r.run_id, r.cause, r.seconds) for r in outcome.results]
    inputs: dict[str, Input] = {}
    facts = []
    verdicts: dict[str, list[tuple[str, str, str]]] = {}
    for r in outcome.results:
        if r.run_id is None:
            continue
        run = store.resolve(r.run_id)
        try:
            manifest = run.manifest()
        except ArmjitError:
            continue
        facts.append(host_facts_row(r.host, manifest))
        report = manifest.get("report")
        if isinstance(report, dict):
            verdicts[r.host] = [
                (str(c.get("benchmark")), str(c.get("mode")), str(c.get("verdict")))
                for c in report.get("comparisons") or []
            ]
        elif r.status == "ok" and manifest.get("modes"):
            try:
                inputs[r.host] = load_input(run.path, store)
            except ArmjitError:
                continue
    if all(f.arch == "?" and f.cpu == "?" for f in facts):
        facts = []  # ab records keep no host facts: an empty table says nothing
    reference = record.reference if record.reference in inputs else next(iter(inputs), record.reference)
    cross = cross_host_rows(inputs, reference) if inputs else []
    lines = []
    if verdicts:
        for host, items in verdicts.items():
            lines.append(f"{host}: " + ", ".join(f"{b}/{m} {v}" for b, m, v in items))
        if record.kind == "ab":  # an A/A fleet measures noise: there is no change to credit or blame
            lines.append(helped_and_hurt(verdicts))
    if outcome.failed:
        lines.append(outcome.summary_line())
    if reference != record.reference and inputs:
        lines.append(f"reference {record.reference} has no results; ratios are to {reference}")
    shown = [h for h in hosts if h in inputs]
    text = "\n\n".join(
        part
        for part in (
            render.hosts_table(rows),
            render.cross_host_table(cross, shown, reference) if cross else "",
            render.host_facts_table(facts) if facts else "",
            "\n".join(lines),
        )
        if part
    )
    block = render.fleet_findings(
        record.fleet_id,
        record.kind,
        render.hosts_table(rows, "github"),
        render.cross_host_table(cross, shown, reference, "github") if cross else "",
        render.host_facts_table(facts, "github") if facts else "",
        reference,
        lines,
    )
    notes.upsert_block(settings.notes_path / notes.FINDINGS, f"fleet-{record.fleet_id}", block)
    return FleetReport(outcome, text, block)
