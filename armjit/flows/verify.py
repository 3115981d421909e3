"""``invoke verify``: re-run the baseline's exact parameters on the current head and judge from -> to.

Paired when it can be (the baseline's commit is in the repo: ``ab`` of that commit against the
head, interleaved on the same host), otherwise a fresh baseline judged unpaired with ``compare``.
Either way the report carries the JIT activity proof of both sides, crash accounting and, when
JIT logs exist, the compiled-size guard.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from armjit.analysis import compare
from armjit.analysis.mine import LogInput, SizeDiff, diff, mine
from armjit.analysis.noise_store import check_noise_file
from armjit.cinderx.buildsource import BuildSource
from armjit.cinderx.pins import pinned_build
from armjit.config import Settings, merge_settings
from armjit.errors import UsageError
from armjit.flows.control_scope import control_scope
from armjit.render.progress import Progress
from armjit.seams.hosts import Host
from armjit.seams.records import RunRecord
from armjit.seams.store import RunDir, RunStore, is_finished

__all__ = ["VerifyOutcome", "baseline_settings", "run_verify", "size_guard"]


@dataclass
class VerifyOutcome:
    from_run: RunDir
    to_run: RunDir
    report: compare.Report
    paired: bool
    record: RunRecord  # the run that measured the head: an ab run when paired, else a baseline

    @property
    def manifest(self) -> dict[str, Any]:
        """The record as run.json holds it."""
        return self.record.to_json()


def baseline_settings(record: RunRecord) -> Settings:
    """The settings a baseline ran with, from its record (so the comparison is fair by construction)."""
    if not isinstance(record.settings, dict):
        raise UsageError(f"run {record.run_id} has no recorded settings")
    recorded = {k: v for k, v in record.settings.items() if v is not None}
    # `--build pypi` took the newest cinderx: verify installs the version the baseline measured.
    pinned = pinned_build(recorded, record.details.get("pins"))
    return merge_settings(cli={**recorded, "build": pinned} if pinned else recorded)


def _is_measured_baseline(run: RunDir) -> bool:
    """A successful baseline that benchmarked something (not a red/green --deploy run)."""
    m = run.record()
    return m.kind == "baseline" and run.status() == "ok" and bool(m.modes)


def _find_baseline(store: RunStore, ref: str | None) -> RunDir:
    if ref:
        run = store.resolve(ref)
    else:
        found = store.latest(_is_measured_baseline)
        if found is None:
            raise UsageError(f"no successful baseline under {store.root}: run `invoke baseline` first")
        run = found
    kind = run.record().kind
    if kind != "baseline":
        raise UsageError(f"run {run.run_id} is a {kind or None!r} run, not a baseline")
    if not is_finished(run.manifest()):
        # Its results may be half there: comparing against them would judge missing data.
        raise UsageError(f"baseline {run.label()} did not finish: pick another with --baseline")
    return run


def _mode_logs(run: RunDir, side: str | None) -> dict[str, list[Path]]:
    """JIT logs per mode and benchmark ("mode/bench"; "mode" for a record from before logs were
    kept per benchmark): a baseline's from run.json, one side (a/b) of an ab run from its tree."""
    if side is None:
        found: dict[str, list[Path]] = {}
        for m, rec in (run.record().modes or {}).items():
            per_bench: dict[str, list[str]] = {
                b: r["jit_logs"] for b, r in (rec.results or {}).items() if r.get("jit_logs")
            }
            if not per_bench:
                found[m] = [run.path / p for p in rec.jit_logs or []]
            for bench, logs in per_bench.items():
                found[f"{m}/{bench}"] = [run.path / p for p in logs]
        return found
    root = run.path / "jitlogs" / side
    if not root.is_dir():
        return {}
    # jitlogs/<side>/<mode>/<benchmark>/*.log: each benchmark's processes log apart
    return {
        "/".join(log_dir.relative_to(root).parts): sorted(log_dir.glob("*.log"))
        for log_dir in sorted({p.parent for p in root.rglob("*.log")})
    }


def size_guard(outcome: VerifyOutcome) -> dict[str, SizeDiff]:
    """Compiled code from -> to per JIT mode and benchmark, from the JIT logs of both sides."""
    if outcome.paired:
        before, after = _mode_logs(outcome.to_run, "a"), _mode_logs(outcome.to_run, "b")
    else:
        before, after = _mode_logs(outcome.from_run, None), _mode_logs(outcome.to_run, None)
    guards: dict[str, SizeDiff] = {}
    for mode in before:
        if not before[mode] or not after.get(mode):
            continue
        try:
            a = mine("from", [LogInput(p, mode) for p in before[mode]]).overall
            b = mine("to", [LogInput(p, mode) for p in after[mode]]).overall
        except UsageError:
            continue  # a mode whose logs hold no compile lines (nojit) has no code to guard
        guards[mode] = diff(a, b)
    return guards


def run_verify(
    *,
    reports: Path,
    baseline_ref: str | None,
    paired: str,
    blocks: int,
    worktree: bool,
    progress: Progress,
    host: Host | None = None,
    metric: str | None = None,
    until_decided: bool = False,
    budget: float = 0.0,
) -> VerifyOutcome:
    from armjit.flows.ab import run_ab
    from armjit.flows.ab_blocks import check_design_flags
    from armjit.flows.baseline import run_baseline

    check_design_flags(blocks=blocks, until_decided=until_decided, budget=budget)  # as ab refuses them
    check_noise_file(compare.noise_path(reports))
    store = RunStore(reports / "runs")
    base = _find_baseline(store, baseline_ref)
    recorded = base.record()
    settings = replace(baseline_settings(recorded), reports=str(reports), sync_upstream=False, worktree=worktree)
    if metric is not None:
        settings = replace(settings, metric=metric)
    explicit = set(recorded.explicit_settings or [])
    commit = recorded.commit
    can_pair = bool(settings.repo and commit) and paired != "no"
    if paired == "yes" and not can_pair:
        raise UsageError("--paired needs a baseline with a recorded commit of a --repo")
    if not can_pair and (settings.metric != "time" or until_decided):
        raise UsageError(
            "--metric instructions and --until-decided need the paired method (a baseline commit of a --repo)"
        )
    if can_pair:
        cand = BuildSource.worktree() if worktree else BuildSource.branch(settings.branch)
        against = "the working tree" if worktree else f"branch {settings.branch}"
        progress.message(f"verify: paired A/B of baseline commit {commit[:10]} against {against}")
        outcome = run_ab(
            settings,
            explicit,
            base=BuildSource.commit(commit),
            cand=cand,
            blocks=blocks,
            aa=False,
            reports=reports,
            progress=progress,
            host=host,
            until_decided=until_decided,
            budget=budget,
        )
        return VerifyOutcome(base, outcome.run, outcome.report, True, outcome.record)
    progress.message(f"verify: re-running baseline {base.run_id}'s parameters (unpaired comparison)")
    fresh = run_baseline(settings, explicit, reports=reports, progress=progress, host=host)
    report = compare.compare_inputs(
        compare.load_input(base.path, store),
        compare.load_input(fresh.run.path, store),
        noise_file=compare.noise_path(reports),
        # nojit measured in both runs cancels the machine's drift, if the change leaves it alone.
        control_scope=control_scope(settings.repo, base.manifest(), fresh.run.manifest()),
    )
    return VerifyOutcome(base, fresh.run, report, False, fresh.record)
