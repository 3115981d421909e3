"""RED and GREEN on several hosts at once (``--hosts``): the same targeted test on every host, in
parallel (armjit.flows.fleet), judged as one step.

RED is met only when the test failed as expected on every host, GREEN only when it passed on every
host: a host that could not connect or whose run broke off counts as not met, because the step
claims something about each of those machines. Each host keeps its own run record and logs; the
notes (progress.md's Test Results row, task_plan.md's errors and phases) get the fleet's one result.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TextIO

from armjit.config import Settings
from armjit.flows import redgreen
from armjit.flows.fleet import FleetOutcome, HostResult, run_fleet
from armjit.flows.fleet_report import sync_once
from armjit.flows.iteration import TEST_HEADER, record_error, resolve_errors, update_plan
from armjit.render.progress import Progress
from armjit.render.tables import markdown_row
from armjit.seams import notes
from armjit.seams.fleets import FleetRecord
from armjit.seams.hosts import Host

__all__ = ["HostRow", "TargetedFleet", "json_result", "run_targeted_fleet"]


@dataclasses.dataclass(frozen=True)
class HostRow:
    host: str  # as --hosts named it
    status: str  # ok | NOT MET | error (the test did not run to a result)
    detail: str
    run_id: str | None
    build_seconds: float | None  # the --deploy build on that host
    outcome: redgreen.TargetedOutcome | None


@dataclasses.dataclass(frozen=True)
class TargetedFleet:
    step: str
    fleet: FleetOutcome
    rows: tuple[HostRow, ...]
    attempt: int  # the errors table's attempt count when not met, else 0

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.rows)

    @property
    def fleet_id(self) -> str:
        return self.fleet.record.fleet_id

    def summary_line(self) -> str:
        """The step's one line: met on every host, or which hosts did not meet it and why."""
        hosts = len(self.rows)
        if self.ok:
            return f"{self.step.upper()} ok on {hosts} hosts (fleet {self.fleet_id})"
        missed = sum(1 for r in self.rows if r.status != "ok")
        return f"{self.step.upper()} NOT MET on {missed} of {hosts} hosts (fleet {self.fleet_id}): {self.causes()}"

    def causes(self) -> str:
        """Each host that did not meet the step, and why."""
        return "; ".join(f"{r.host}: {r.detail}" for r in self.rows if r.status != "ok")


def _row(result: HostResult) -> HostRow:
    outcome = result.outcome if isinstance(result.outcome, redgreen.TargetedOutcome) else None
    if outcome is None:
        return HostRow(result.host, "error", result.cause, result.run_id, None, None)
    build = outcome.record.details.get("deploy_build") or {}
    seconds = build.get("seconds") if isinstance(build, dict) else None
    status = "ok" if outcome.ok else "NOT MET"
    return HostRow(result.host, status, outcome.reason, outcome.run.run_id, seconds, outcome)


def run_targeted_fleet(
    settings: Settings,
    explicit: set[str],
    *,
    step: str,
    keyword: str,
    test_file: str,
    deploy: bool,
    python: str,
    runner: str,
    reports: Path,
    stream: TextIO | None,
) -> TargetedFleet:
    """``run_targeted`` on every host of ``settings.hosts`` in parallel, then the notes once."""
    redgreen.check_args(settings, step=step, keyword=keyword, test_file=test_file, runner=runner, deploy=deploy)
    notes_dir = settings.notes_path
    notes.ensure_writable([notes_dir / notes.PROGRESS, notes_dir / notes.TASK_PLAN])
    if deploy and "sync_upstream" in explicit:
        # Each host's deploy would rebase the one local checkout; rebase it once, before they start.
        settings = sync_once(settings)
    hosts = list(settings.hosts)
    record = FleetRecord.create(reports, step, hosts, settings.reference or hosts[0])

    def job(s: Settings, host: Host, progress: Progress) -> redgreen.TargetedOutcome:
        fleet = {"id": record.fleet_id, "hosts": hosts, "host": s.host}
        return redgreen.run_targeted(
            s, explicit, step=step, keyword=keyword, test_file=test_file, deploy=deploy, python=python,
            runner=runner, reports=reports, progress=progress, host=host, fleet=fleet,
        )  # fmt: skip

    outcome = run_fleet(settings, kind=step, reports=reports, job=job, stream=stream, record=record)
    result = TargetedFleet(step, outcome, tuple(_row(r) for r in outcome.results), 0)
    row = _test_result_row(result, keyword, test_file)
    notes.append_row(notes_dir / notes.PROGRESS, "test-results", TEST_HEADER, row)
    if result.ok:
        resolve_errors(notes_dir, step, f"{step.upper()} met on every host in fleet {result.fleet_id}")
    else:
        result = dataclasses.replace(result, attempt=record_error(notes_dir, step, result.causes()))
    update_plan(notes_dir, reports)
    return result


def _test_result_row(result: TargetedFleet, keyword: str, test_file: str) -> str:
    """progress.md's one Test Results row for the fleet (each host's own row is its run record)."""
    outcomes = [r.outcome for r in result.rows if r.outcome is not None]
    tests: list[dict[str, Any]] = next(
        (o.manifest["targeted"]["tests"] for o in outcomes if o.manifest["targeted"].get("tests")), []
    )
    name = ", ".join(dict.fromkeys(str(t["id"]) for t in tests)) or f"-k {keyword}"
    commits = {str(o.record.commit)[:10] for o in outcomes if o.record.commit}
    at = f" @ {', '.join(sorted(commits))}" if commits else ""
    given = f"-k {keyword} in {test_file} on {', '.join(r.host for r in result.rows)}" + at
    expected = "fails (RED)" if result.step == "red" else "passes (GREEN)"
    actual = ", ".join(f"{r.host} {r.outcome.verdict if r.outcome else 'error'}" for r in result.rows)
    status = f"{result.step.upper()} {'ok' if result.ok else 'not met'}"
    excerpt = "; ".join(
        f"{r.host}: {r.outcome.manifest['targeted'].get('excerpt', '') if r.outcome else r.detail}" for r in result.rows
    )
    return markdown_row([name, given, expected, actual, status, excerpt, f"`{result.fleet_id}`"])


def json_result(result: TargetedFleet) -> dict[str, Any]:
    """What ``--json`` prints: the fleet and each host's result."""
    hosts = []
    for r in result.rows:
        entry: dict[str, Any] = {
            "host": r.host, "status": r.status, "detail": r.detail, "run_id": r.run_id,
            "build_seconds": r.build_seconds,
        }  # fmt: skip
        if r.outcome is not None:
            entry |= {"run_dir": str(r.outcome.run.path), **r.outcome.manifest["targeted"]}
        hosts.append(entry)
    return {
        "fleet_id": result.fleet_id,
        "fleet_dir": str(result.fleet.record.path),
        "step": result.step,
        "ok": result.ok,
        "summary": result.summary_line(),
        "hosts": hosts,
    }
