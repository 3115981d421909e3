"""``invoke verify``: the baseline's parameters on the current head, from -> to with a verdict."""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from invoke import Context

from armjit.analysis import compare, stats
from armjit.analysis.mine import SizeDiff, diff_json
from armjit.cli._task import OUTPUT, armjit_task
from armjit.cli.ab import DEFAULT_BUDGET, parse_duration
from armjit.config import Settings
from armjit.errors import UsageError
from armjit.flows.verify import VerifyOutcome, baseline_settings, run_verify, size_guard
from armjit.render import TableFormat, table
from armjit.render.baseline_report import tidy_paths
from armjit.render.compare_report import comparison_findings_block, render_text
from armjit.render.mine_tables import render_diff
from armjit.render.progress import Progress
from armjit.seams import notes
from armjit.seams.records import Failure, RunRecord
from armjit.seams.store import RunDir, RunStore, run_status

__all__ = ["TASKS", "verify_one"]


def jit_proof(outcome: VerifyOutcome) -> list[tuple[Any, ...]]:
    """Compiles and effective threshold per mode for both sides."""
    rows: list[tuple[Any, ...]] = []
    if outcome.paired:
        for mode, m in (outcome.record.modes or {}).items():
            proofs = {f"{mode}/{b}": r.get("jit_proof") for b, r in (m.results or {}).items()} or {mode: m.jit_proof}
            for shown, proof in proofs.items():
                for side, p in (proof or {}).items():
                    side_label = "from" if side == "a" else "to"
                    rows.append((shown, side_label, p.get("main"), p.get("total"), p.get("threshold")))
        return rows
    for label, run in (("from", outcome.from_run), ("to", outcome.to_run)):
        for mode, m in (run.record().modes or {}).items():
            if m.results:  # each benchmark's own processes
                for bench, r in m.results.items():
                    c = r.get("compiles") or {}
                    rows.append((f"{mode}/{bench}", label, c.get("main"), c.get("total"), r.get("threshold")))
                continue
            c = m.compiles or {}
            rows.append((mode, label, c.get("main"), c.get("total"), m.threshold))
    return rows


def crashes(outcome: VerifyOutcome) -> list[tuple[Any, ...]]:
    if outcome.paired:
        return [
            ("from" if side == "a" else "to", key, n, data.get("successes", {}).get(key, 0))
            for side, data in (outcome.record.details.get("crashes") or {}).items()
            for key, n in data.get("attempts", {}).items()
        ]
    rows = []
    for label, run in (("from", outcome.from_run), ("to", outcome.to_run)):
        for step in run.record().steps or []:
            if step.name.startswith("bench-"):
                rows.append((label, step.name[6:], 1, 1 if step.status == "ok" else 0))
    return rows


def guard_text(guards: dict[str, SizeDiff], limit: int, fmt: TableFormat = "simple") -> str:
    """Per mode: total compiled size from -> to, headroom to the limit, the largest changes."""
    if not guards:
        return "compiled-size guard: no JIT logs with compiled functions on both sides"
    rows = []
    for mode, d in guards.items():
        headroom = "" if not limit else f"{limit - d.total_to:+d}"
        pct = "" if d.total_pct is None else f"{d.total_pct:+.2f}%"
        rows.append((mode, d.total_from, d.total_to, pct, d.compiled_from, d.compiled_to, d.failed_to, headroom))
    headers = ["mode/benchmark", "code bytes from", "to", "%Δ (lower is smaller)", "compiles from", "to", "failed (to)"]
    parts = [table(rows, [*headers, f"headroom to {limit}" if limit else "headroom (no limit)"], fmt)]
    for mode, d in guards.items():
        parts += ["", f"{mode}: largest per-function changes", render_diff(d, top=5, fmt=fmt)]
    return "\n".join(parts)


def _block(outcome: VerifyOutcome, record: RunDir, guards: dict[str, SizeDiff], limit: int) -> str:
    report = outcome.report
    body = comparison_findings_block(report, title=f"Iteration: verify `{record.run_id}`")
    body += "\nJIT activity proof (compiles from the workers' own logs):\n\n"
    body += table(jit_proof(outcome), ["mode", "side", "__main__ compiles", "total", "threshold"], "github")
    body += "\n\nCompiled-size guard (from the JIT logs):\n\n" + guard_text(guards, limit, "github")
    body += "\n\nCrash accounting:\n\n"
    body += table(crashes(outcome), ["side", "mode", "attempts", "successes"], "github")
    body += f"\n\nFrom run `{outcome.from_run.run_id}` -> to run `{outcome.to_run.run_id}`.\n"
    return tidy_paths(body)


@armjit_task(
    settings=("repo", *OUTPUT),
    help={
        "baseline": "the baseline run (id or directory; default: the latest successful baseline [of --repo])",
        "paired": "auto (paired when the baseline commit is known), yes, or no (unpaired re-run + compare)",
        "blocks": "blocks for the paired method",
        "worktree": "measure the working tree including uncommitted changes",
        "metric": "time or instructions (default: the baseline's); instructions need the paired method",
        "until_decided": "paired: add blocks until the interval settles or the budget is spent",
        "budget": "time limit of --until-decided: 600, 90s, 10m, 1h (default 10m)",
        "json": "print the comparisons as JSON",
        "verbose": "stream every output line",
        "fleet": "verify every host of a baseline fleet (its id, or 'latest'): one verdict per host",
    },
)
def verify(
    c: Context,
    settings: Settings,
    sources: dict[str, str],
    baseline: str = "",
    paired: str = "auto",
    blocks: int = stats.DEFAULT_BLOCKS,
    worktree: bool = False,
    metric: str = "",
    until_decided: bool = False,
    budget: str = "",
    json_: bool = False,
    verbose: bool = False,
    fleet: str = "",
) -> None:
    """Re-run the baseline's recorded parameters on the current head; from -> to with an honest verdict."""
    if paired not in ("auto", "yes", "no"):
        from armjit.errors import UsageError

        raise UsageError(f"--paired {paired!r}: expected auto, yes or no")
    if fleet:
        from armjit.cli.verify_fleet import verify_fleet

        if until_decided or budget or metric:
            from armjit.errors import UsageError

            # never take a flag and then ignore it
            raise UsageError("--until-decided, --budget and --metric apply to one baseline, not to --fleet")

        verify_fleet(settings, fleet, paired=paired, blocks=int(blocks), worktree=worktree, json_=json_)
        return
    outcome, record, data, guards, limit = verify_one(
        settings, baseline_of_repo(settings, sources, baseline), paired=paired, blocks=int(blocks), worktree=worktree,
        progress=Progress(sys.stderr, verbose=verbose),
        metric=metric, until_decided=until_decided, budget=budget,
    )  # fmt: skip
    if json_:
        print(json.dumps({"run_id": record.run_id, **data.details["report"]}, indent=2))
    else:
        print(render_text(outcome.report))
        print()
        print(table(jit_proof(outcome), ["mode", "side", "__main__ compiles", "total", "threshold"]))
        print()
        print(guard_text(guards, limit))
        print(f"\nverify record: {record.path}")


def baseline_of_repo(settings: Settings, sources: dict[str, str], baseline: str) -> str | None:
    """With --repo (or a repo set in pyproject, invoke.yaml or ARMJIT_REPO): verify measures that
    checkout, so the baseline is that checkout's latest successful one, and a --baseline of
    another checkout is refused. Without it, the baseline as given (default: the latest)."""
    if "repo" not in sources or not settings.repo:
        return baseline or None
    want = Path(settings.repo).expanduser().resolve()

    def recorded(run: RunDir) -> str:
        return str((run.record().settings or {}).get("repo") or "")

    def of_repo(run: RunDir) -> bool:
        return bool(recorded(run)) and Path(recorded(run)).expanduser().resolve() == want

    store = RunStore(settings.reports_path / "runs")
    if baseline:
        run = store.resolve(baseline)
        if not of_repo(run):
            raise UsageError(
                f"--baseline {run.run_id} measured {recorded(run) or 'no repo'}, not --repo {settings.repo}: "
                "give a baseline of that checkout, or leave out --baseline"
            )
        return baseline
    # A successful baseline that benchmarked something (a red/green --deploy run has no modes).
    found = store.latest(
        lambda r: r.record().kind == "baseline" and r.status() == "ok" and bool(r.record().modes) and of_repo(r)
    )
    if found is None:
        raise UsageError(
            f"no successful baseline of {settings.repo} under {store.root}: run `invoke baseline --repo "
            f"{settings.repo}` first"
        )
    return found.run_id


def verify_one(
    settings: Settings,
    baseline: str | None,
    *,
    paired: str,
    blocks: int,
    worktree: bool,
    progress: Progress,
    metric: str = "",
    until_decided: bool = False,
    budget: str = "",
) -> tuple[VerifyOutcome, RunDir, RunRecord, dict[str, SizeDiff], int]:
    """One verify: the re-run, its record and its findings block (the task prints the rest)."""
    root = settings.reports_path
    outcome = run_verify(
        reports=root,
        baseline_ref=baseline,
        paired=paired,
        blocks=blocks,
        worktree=worktree,
        progress=progress,
        metric=metric or None,
        until_decided=until_decided,
        budget=parse_duration(budget, "--budget") if budget else (DEFAULT_BUDGET if until_decided else 0.0),
    )
    guards = size_guard(outcome)  # parses every JIT log of both sides: once
    limit = int(outcome.from_run.record().setting("code_size_limit") or 0)
    record, data = RunStore(root / "runs").new_run("verify", dt.datetime.now(dt.UTC), "verify")
    # The verify record is only as good as the run that measured the head.
    measured = run_status(outcome.manifest)
    data.status = "ok" if measured == "ok" else "failed"
    data.details |= {
        "verdict": outcome.report.overall,
        "paired": outcome.paired,
        "from_run": outcome.from_run.run_id,
        "to_run": outcome.to_run.run_id,
        "report": compare.report_json(outcome.report),
        "jit_proof": [list(r) for r in jit_proof(outcome)],
        "crashes": [list(r) for r in crashes(outcome)],
        "size_guard": {mode: diff_json(d) for mode, d in guards.items()},
    }
    if measured != "ok":
        data.failure = Failure(None, f"run {outcome.to_run.run_id} ended {measured}")
    record.save(data)
    notes_dir = _notes_path(settings, outcome)
    notes.upsert_block(notes_dir / "findings.md", f"verify-{record.run_id}", _block(outcome, record, guards, limit))
    return outcome, record, data, guards, limit


def _notes_path(settings: Settings, outcome: VerifyOutcome) -> Path:
    """A notes dir given now wins; else the baseline's (its notes dir or its repo), else our reports."""
    if settings.notes_dir:
        return settings.notes_path
    recorded = baseline_settings(outcome.from_run.record())
    return replace(recorded, reports=settings.reports).notes_path


TASKS = [verify]
