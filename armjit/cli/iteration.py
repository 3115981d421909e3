"""``invoke red``, ``green``, ``status``, ``decide`` and ``handoff``: the plan steps around the baseline."""

from __future__ import annotations

import datetime as dt
import json
import sys

from invoke import Context

from armjit.cinderx.targeted import DEFAULT_TEST_FILE, cinderx_line
from armjit.cli._task import ALL, OUTPUT, ArmjitTask, armjit_task
from armjit.config import Settings
from armjit.errors import GateFailed, UsageError
from armjit.flows import handoff as handoff_plan
from armjit.flows import iteration, redgreen, redgreen_fleet
from armjit.render import table
from armjit.render.progress import Progress
from armjit.seams import notes

__all__ = ["TASKS"]


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
    if settings.hosts:
        _targeted_fleet(step, settings, sources, k=k, test_file=test_file, deploy=deploy, python=python,
                        runner=runner, json_output=json_output)  # fmt: skip
        return
    outcome = redgreen.run_targeted(
        settings,
        set(sources),
        step=step,
        keyword=k or "",
        test_file=test_file,
        deploy=deploy,
        python=python or "",
        runner=runner,
        reports=settings.reports_path,
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
        seen = cinderx_line(outcome.result.cinderx)
        if seen:
            print(seen)
    if not outcome.ok:
        raise GateFailed(f"{step}: {outcome.reason} (attempt {outcome.attempt}, run {outcome.run.run_id})")


def _targeted_fleet(
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
) -> None:
    """The same test on every host of --hosts: one row per host, met only when met on all."""
    result = redgreen_fleet.run_targeted_fleet(
        settings, set(sources), step=step, keyword=k or "", test_file=test_file, deploy=deploy,
        python=python or "", runner=runner, reports=settings.reports_path, stream=sys.stderr,
    )  # fmt: skip
    if json_output:
        print(json.dumps(redgreen_fleet.json_result(result), indent=2))
    else:
        headers = ["host", "status", "detail", "run"] + (["build s"] if deploy else [])
        rows = [(r.host, r.status, r.detail, r.run_id) + ((r.build_seconds,) if deploy else ()) for r in result.rows]
        print(table(rows, headers))
        print(f"\n{result.summary_line()}")
        print(f"fleet record {result.fleet.record.path}")
    if not result.ok:
        raise GateFailed(f"{step}: {result.summary_line()} (attempt {result.attempt})")


_TARGETED_HELP = {
    "k": "the test: a name or pytest -k expression (unittest: substring or fnmatch pattern)",
    "test_file": "test file, relative to the repo / the deployed tree",
    "deploy": "sync and build first, benchmarks skipped (the SKIP_PYPERF fast path)",
    "python": "interpreter to run the test with (default: the driver venv's; locally the repo's or this one)",
    "runner": "auto (pytest when installed, else unittest) | pytest | unittest",
    "json": "print the evidence as JSON",
    "verbose": "stream every output line",
}
# --deploy runs the baseline pipeline (benchmarks skipped, but it still plans the modes and the
# runner from the benchmark settings): every setting.
_TARGETED_SETTINGS = ALL
# What the notes-only steps read: where the notes and the run records are.
_NOTES_SETTINGS = ("repo", *OUTPUT)


def _targeted_task(step: str, doc: str) -> ArmjitTask:
    """red and green: the same flags and body, told apart by the step they record."""

    def body(
        c: Context,
        settings: Settings,
        sources: dict[str, str],
        k: str = "",
        test_file: str = DEFAULT_TEST_FILE,
        deploy: bool = False,
        python: str = "",
        runner: str = "auto",
        json_: bool = False,
        verbose: bool = False,
    ) -> None:
        _targeted(step, settings, sources, k=k, test_file=test_file, deploy=deploy, python=python, runner=runner,
                  json_output=json_, verbose=verbose)  # fmt: skip

    body.__doc__ = doc
    return armjit_task(name=step, settings=_TARGETED_SETTINGS, help=dict(_TARGETED_HELP))(body)


red = _targeted_task("red", "RED: run one targeted test; succeed only when it was collected and failed.")
green = _targeted_task("green", "GREEN: run the same targeted test; succeed only when it was collected and passed.")


@armjit_task(settings=_NOTES_SETTINGS, help={"json": "print as JSON"})
def status(c: Context, settings: Settings, sources: dict[str, str], json_: bool = False) -> None:
    """Where the iteration stands (from the run records); keeps task_plan.md's phases in step."""
    notes_dir = settings.notes_path
    state = iteration.update_plan(notes_dir, settings.reports_path)
    if json_:
        data = {
            "steps": [s.__dict__ for s in state.steps],
            "verdict": state.verdict,
            "next": state.next_step,
            "since": state.since,
            "abandoned": list(state.abandoned),
            "task_plan": str(notes_dir / notes.TASK_PLAN),
        }
        print(json.dumps(data, indent=2))
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


@armjit_task(settings=_NOTES_SETTINGS, help={"text": "the decision", "why": "its rationale (required)"})
def decide(c: Context, settings: Settings, sources: dict[str, str], text: str, why: str = "") -> None:
    """Add a row to task_plan.md's Decisions Made table: invoke decide "TEXT" --why "REASON"."""
    notes_dir = settings.notes_path
    iteration.add_decision(notes_dir, text, why or "")
    print(f"decision recorded in {notes_dir / notes.TASK_PLAN}")


@armjit_task(
    settings=("repo", "branch", "upstream_remote", "upstream_branch", *OUTPUT),
    optional=["force"],
    help={
        "commit": "commit the iteration's changed tracked files (armjit's notes only with --with-notes)",
        "m": "commit message (with --commit)",
        "push": "push the work branch to this remote (needs green and verify evidence of the pushed code)",
        "force": 'push even when evidence is missing or stale: --force "why" (the reason is recorded)',
        "with_notes": "also commit armjit's notes (findings.md, progress.md, task_plan.md, notes.md)",
        "dry_run": "show what would be committed and pushed, and any refusal; do nothing",
    },
)
def handoff(
    c: Context,
    settings: Settings,
    sources: dict[str, str],
    commit: bool = False,
    m: str = "",
    push: str = "",
    force: str = "",
    with_notes: bool = False,
    dry_run: bool = False,
) -> None:
    """Show the changed files, the evidence and exactly what would be committed and pushed;
    then --commit -m MSG and/or --push REMOTE."""
    reports = settings.reports_path
    reason = handoff_plan.check_force(force)
    plan = handoff_plan.plan_handoff(settings, reports, commit=commit, with_notes=with_notes)
    now = dt.datetime.now(dt.UTC)
    print(f"branch {plan.branch} @ {plan.commit[:10]} against {plan.upstream}")
    print(plan.diff_stat or "no committed changes against upstream")
    if plan.jit_files:
        print("JIT-related files:\n" + "\n".join(f"  {p}" for p in plan.jit_files))
    if plan.touched:
        print("uncommitted changes:\n" + "\n".join(f"  {p}" for p in plan.touched))
    print("\n" + table(plan.evidence, ["step", "run", "result"]))
    print(f"\nverify verdict: {plan.state.verdict or 'missing'}")
    for problem in plan.problems:
        print(f"not covered: {problem}")
    print("\nprogress.md summary:\n" + plan.summary_block(now, reason))
    if commit:
        handoff_plan.check_commit(plan, m or "")
        _show_commit(plan, m)
    if m and not commit:
        print("-m given without --commit: nothing is committed")
    if push:
        what = "the new commit" if commit and plan.commit_files else plan.commit[:10]
        print(f"will push: branch {plan.branch} @ {what} (refs/heads/{plan.branch}) to remote {push}")
    refused = handoff_plan.refusal(plan) if push else None
    if dry_run:
        if refused and not reason:
            print(f"would be refused: {refused}")
        print("dry run: nothing written, committed or pushed")
        return
    if refused and not reason:
        raise UsageError(refused)
    if not commit and not push:
        print("plan only: add --commit -m MSG and/or --push REMOTE to act (--dry-run to preview)")
        return
    notes_dir = settings.notes_path
    committed = None
    if commit:
        iteration.update_plan(notes_dir, reports)
        committed = handoff_plan.commit_handoff(plan, m or "", notes_dir, now, reason)
        print(f"committed {committed[:10]}" if committed else "nothing to commit")
    checked = plan
    if committed:
        plan = handoff_plan.plan_handoff(settings, reports, with_notes=with_notes)
    pushed = None
    if push:
        handoff_plan.push_handoff(plan, push)
        pushed = push
        past = [*checked.missing, *checked.problems]
        forced = f" (forced past: {'; '.join(past)}; why: {reason})" if past and reason else ""
        print(f"pushed {plan.branch} to {push}{forced}")
    run = handoff_plan.record_handoff(reports, plan, committed=committed, pushed=pushed, forced=reason, now=now)
    print(f"handoff record {run.path}")


def _show_commit(plan: handoff_plan.HandoffPlan, message: str) -> None:
    """Exactly what --commit will commit: the files with +/- counts, the notes left out, the message."""
    if plan.commit_numstat:
        rows = [(f"+{a}" if a != "-" else "binary", f"-{d}" if d != "-" else "", p) for a, d, p in plan.commit_numstat]
        print(f"will commit on {plan.branch} ({len(rows)} file(s)):")
        print(table(rows, ["added", "deleted", "file"]))
    else:
        print(f"will commit on {plan.branch}: no changed files (nothing to commit)")
    left = [p for p in plan.notes_changed if p not in plan.commit_files]
    if left:
        print("left out (armjit's notes; --with-notes to commit them): " + ", ".join(left))
    print(f"commit message: {message}")


TASKS = [red, green, status, decide, handoff]
