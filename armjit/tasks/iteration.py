"""``invoke red``, ``green``, ``status``, ``decide`` and ``handoff``: the plan steps around the baseline."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from invoke import Context

from armjit import handoff as handoff_plan
from armjit import iteration, notes, redgreen
from armjit.config import Settings
from armjit.errors import GateFailed
from armjit.progress import Progress
from armjit.render import table
from armjit.targeted import DEFAULT_TEST_FILE

__all__ = ["TASKS"]


def _notes_dir(settings: Settings) -> Path:
    repo = Path(settings.repo).expanduser() if settings.repo else None
    return notes.notes_dir(repo, Path(settings.reports), Path(settings.notes_dir) if settings.notes_dir else None)


def _targeted(
    step: str,
    settings: Settings,
    sources: dict[str, str],
    *,
    k: str,
    test_file: str,
    deploy: bool,
    python: str,
    runner: str,
    json_output: bool,
    verbose: bool,
) -> None:
    outcome = redgreen.run_targeted(
        settings,
        set(sources),
        step=step,
        keyword=k or "",
        test_file=test_file,
        deploy=deploy,
        python=python or "",
        runner=runner,
        reports=Path(settings.reports),
        progress=Progress(sys.stderr, verbose=verbose),
    )
    t = outcome.manifest["targeted"]
    if json_output:
        print(json.dumps({"run_id": outcome.run.run_id, "run_dir": str(outcome.run.path), **t}, indent=2))
    else:
        rows = redgreen.targeted_rows(outcome)
        if rows:
            print(table(rows, ["test", "status", "detail"]))
        mark = "ok" if outcome.ok else "NOT MET"
        print(f"\n{step.upper()} {mark}: {outcome.reason}")
        print(f"runner {t['runner']} ({t['python']}) in {t['cwd']}; run record {outcome.run.path}")
    if not outcome.ok:
        raise GateFailed(f"{step}: {outcome.reason} (attempt {outcome.attempt}, run {outcome.run.run_id})")


_TARGETED_FLAGS: dict[str, tuple[Any, str]] = {
    "k": ("", "the test: a name or pytest -k expression (unittest: substring or fnmatch pattern)"),
    "test_file": (DEFAULT_TEST_FILE, "test file, relative to the repo / the deployed tree"),
    "deploy": (False, "sync and build first, benchmarks skipped (the SKIP_PYPERF fast path)"),
    "python": ("", "interpreter to run the test with (default: the driver venv's; locally the repo's or this one)"),
    "runner": ("auto", "auto (pytest when installed, else unittest) | pytest | unittest"),
    "json": (False, "print the evidence as JSON"),
    "verbose": (False, "stream every output line"),
}


def _red(c: Context, settings: Settings, sources: dict[str, str], **kw: Any) -> None:
    """RED: run one targeted test; succeed only when it was collected and failed."""
    _targeted("red", settings, sources, json_output=kw.pop("json"), **kw)


def _green(c: Context, settings: Settings, sources: dict[str, str], **kw: Any) -> None:
    """GREEN: run the same targeted test; succeed only when it was collected and passed."""
    _targeted("green", settings, sources, json_output=kw.pop("json"), **kw)


def _status(c: Context, settings: Settings, sources: dict[str, str], *, json: bool = False) -> None:
    """Where the iteration stands (from the run records); keeps task_plan.md's phases in step."""
    notes_dir = _notes_dir(settings)
    state = iteration.update_plan(notes_dir, Path(settings.reports))
    if json:
        data = {
            "steps": [s.__dict__ for s in state.steps],
            "verdict": state.verdict,
            "next": state.next_step,
            "since": state.since,
            "abandoned": list(state.abandoned),
            "task_plan": str(notes_dir / notes.TASK_PLAN),
        }
        print(__import__("json").dumps(data, indent=2))
        return
    print(table(iteration.status_rows(state), ["step", "done", "run", "detail"]))
    print(f"\nlatest verdict: {state.verdict or 'none yet'}")
    for run_id in state.abandoned:
        print(f"abandoned: {run_id} (its process is gone; not used as latest or as a baseline)")
    if state.next_step:
        print(f"next: {state.next_step}: {iteration.PHASES[state.next_step][1]}")
    else:
        print("next: this iteration is handed off; start the next one with `invoke baseline`")
    print(f"task plan: {notes_dir / notes.TASK_PLAN}")


def _decide(c: Context, settings: Settings, sources: dict[str, str], *, text: str | None = None, why: str = "") -> None:
    """Add a row to task_plan.md's Decisions Made table: invoke decide "TEXT" --why "REASON"."""
    notes_dir = _notes_dir(settings)
    iteration.add_decision(notes_dir, text or "", why or "")
    print(f"decision recorded in {notes_dir / notes.TASK_PLAN}")


def _handoff(
    c: Context,
    settings: Settings,
    sources: dict[str, str],
    *,
    commit: bool = False,
    m: str = "",
    push: str = "",
    force: bool = False,
) -> None:
    """Show the changed files, the evidence and the summary; then --commit -m MSG and/or --push REMOTE."""
    reports = Path(settings.reports)
    plan = handoff_plan.plan_handoff(settings, reports)
    now = dt.datetime.now(dt.UTC)
    print(f"branch {plan.branch} @ {plan.commit[:10]} against {plan.upstream}")
    print(plan.diff_stat or "no committed changes against upstream")
    if plan.jit_files:
        print("JIT-related files:\n" + "\n".join(f"  {p}" for p in plan.jit_files))
    if plan.touched:
        print("uncommitted changes to commit:\n" + "\n".join(f"  {p}" for p in plan.touched))
    print("\n" + table(plan.evidence, ["step", "run", "result"]))
    print(f"\nverify verdict: {plan.state.verdict or 'missing'}")
    print("\nprogress.md summary:\n" + plan.summary_block(now))
    if push and plan.missing and not force:
        raise GateFailed("refusing to push, missing: " + "; ".join(plan.missing) + " (or --force)")
    if commit:
        handoff_plan.check_commit(plan, m or "")
    if m and not commit:
        print("-m given without --commit: nothing is committed")
    if not commit and not push:
        print("plan only: add --commit -m MSG and/or --push REMOTE to act")
        return
    notes_dir = _notes_dir(settings)
    committed = None
    if commit:
        iteration.update_plan(notes_dir, reports)
        committed = handoff_plan.commit_handoff(plan, m or "", notes_dir, now)
        print(f"committed {committed[:10]}" if committed else "nothing to commit")
        if committed:
            plan = handoff_plan.plan_handoff(settings, reports)
    pushed = None
    if push:
        handoff_plan.push_handoff(plan, push)
        pushed = push
        forced = f" (forced past: {'; '.join(plan.missing)})" if plan.missing else ""
        print(f"pushed {plan.branch} to {push}{forced}")
    run = handoff_plan.record_handoff(reports, plan, committed=committed, pushed=pushed, forced=force, now=now)
    print(f"handoff record {run.path}")


def _make() -> list[Any]:
    from armjit.tasks._settings import settings_task

    red = settings_task(_red, extra=_TARGETED_FLAGS, name="red")
    green = settings_task(_green, extra=_TARGETED_FLAGS, name="green")
    status = settings_task(_status, extra={"json": (False, "print as JSON")}, name="status")
    decide = settings_task(
        _decide,
        extra={"text": (None, "the decision"), "why": ("", "its rationale (required)")},
        name="decide",
    )
    decide.positional = ["text"]  # invoke decide "TEXT" --why "..."
    handoff = settings_task(
        _handoff,
        extra={
            "commit": (False, "commit the iteration's changed tracked files and the notes"),
            "m": ("", "commit message (with --commit)"),
            "push": ("", "push the work branch to this remote (needs green evidence and a verify verdict)"),
            "force": (False, "push even when green evidence or the verify verdict is missing"),
        },
        name="handoff",
    )
    return [red, green, status, decide, handoff]


TASKS = _make()
