"""The iteration around the baseline: RED, GREEN, where it stands, decisions, errors, handoff.

Every step leaves a run record (``reports/runs/<id>/run.json`` with ``kind`` red, green or
handoff) and its evidence in the notes: progress.md's Test Results table, task_plan.md's phases,
Decisions Made and Errors Encountered tables, each inside an armjit marked block.

Where the iteration stands is read from the run records only, never from the notes: the current
iteration is every record after the last pushed handoff.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from armjit import notes, targeted
from armjit.config import Settings
from armjit.errors import ArmjitError, GateFailed, UsageError
from armjit.hosts import Host, connect, opened
from armjit.pipeline import Pipeline, StepContext
from armjit.progress import Progress
from armjit.render import table
from armjit.store import RunDir, RunStore

__all__ = [
    "PHASES",
    "STEPS",
    "HandoffPlan",
    "IterationState",
    "StepState",
    "TargetedOutcome",
    "add_decision",
    "check_commit",
    "commit_handoff",
    "evidence_rows",
    "iteration_state",
    "load_manifests",
    "mined_source",
    "phases_block",
    "plan_handoff",
    "push_handoff",
    "record_error",
    "record_handoff",
    "resolve_errors",
    "run_targeted",
    "status_rows",
    "targeted_rows",
    "test_result_row",
    "update_plan",
]

STEPS = ("baseline", "mine", "red", "green", "verify", "handoff")
PHASES = {
    "baseline": ("Baseline", "`invoke baseline`: build, gates, every JIT mode benchmarked"),
    "mine": ("Mine the JIT logs", "`invoke mine`: compile counts, failures, unsupported opcodes"),
    "red": ("RED: a targeted test fails", "`invoke red -k NAME`: the new test fails on the current build"),
    "green": ("GREEN: the same test passes", "`invoke green -k NAME --deploy`: it passes after the change"),
    "verify": ("Verify from -> to", "`invoke verify`: the baseline's parameters on the head, with a verdict"),
    "handoff": ("Handoff", "`invoke handoff --commit -m MSG --push REMOTE`"),
}
TEST_HEADER = (
    "## Test Results",
    "",
    "| Test | Input | Expected | Actual | Status | Output excerpt | Run |",
    "|---|---|---|---|---|---|---|",
)
DECISIONS_HEADER = ("## Decisions Made", "", "| Decision | Rationale |", "|---|---|")
ERRORS_HEADER = ("## Errors Encountered", "", "| Error | Attempt | Resolution |", "|---|---|---|")
OPEN = "open"
MINE_BLOCK = "mine-findings"  # the block ``invoke mine`` writes into notes.md
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


# -- notes tables --------------------------------------------------------------------------------


def _cell(text: object) -> str:
    """One markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _table_rows(body: str | None) -> list[list[str]]:
    """The data rows of the markdown table in an armjit block (header and ``|---|`` skipped)."""
    rows = []
    lines = [ln.strip() for ln in (body or "").splitlines() if ln.strip().startswith("|")]
    for line in lines[2:]:
        rows.append([c.strip() for c in _CELL_SPLIT.split(line.strip().strip("|"))])
    return rows


def _write_table(path: Path, block_id: str, header: Sequence[str], rows: list[list[str]]) -> None:
    body = "\n".join([*header, *("| " + " | ".join(r) + " |" for r in rows)])
    notes.upsert_block(path, block_id, body + "\n")


def add_decision(notes_dir: Path, text: str, why: str) -> None:
    """A row in task_plan.md's Decisions Made table."""
    if not text.strip():
        raise UsageError("decide: give the decision as TEXT")
    if not why.strip():
        raise UsageError("decide: give the reason with --why")
    notes.append_row(notes_dir / notes.TASK_PLAN, "decisions", DECISIONS_HEADER, _row([text, why]))


def record_error(notes_dir: Path, step: str, message: str) -> int:
    """Add or update the Errors Encountered row of ``step`` and return its attempt count.

    While a step keeps failing its one open row is updated (latest message, attempt + 1); once
    the step succeeds ``resolve_errors`` closes the row, and the next failure starts a new one.
    """
    path = notes_dir / notes.TASK_PLAN
    rows = _table_rows(notes.read_block(path, "errors"))
    prefix = f"{step}: "
    error = _cell(prefix + message)
    for row in reversed(rows):
        if len(row) == 3 and row[0].startswith(prefix) and row[2] == OPEN:
            attempt = int(row[1]) + 1 if row[1].isdigit() else 2
            row[0], row[1] = error, str(attempt)
            _write_table(path, "errors", ERRORS_HEADER, rows)
            return attempt
    rows.append([error, "1", OPEN])
    _write_table(path, "errors", ERRORS_HEADER, rows)
    return 1


def resolve_errors(notes_dir: Path, step: str, resolution: str) -> int:
    """Close ``step``'s open error rows with ``resolution``; returns how many were closed."""
    path = notes_dir / notes.TASK_PLAN
    rows = _table_rows(notes.read_block(path, "errors"))
    closed = 0
    for row in rows:
        if len(row) == 3 and row[0].startswith(f"{step}: ") and row[2] == OPEN:
            row[2] = _cell(resolution)
            closed += 1
    if closed:
        _write_table(path, "errors", ERRORS_HEADER, rows)
    return closed


# -- where the iteration stands ------------------------------------------------------------------


@dataclass(frozen=True)
class StepState:
    name: str
    done: bool
    run_id: str | None
    detail: str


@dataclass(frozen=True)
class IterationState:
    steps: tuple[StepState, ...]
    verdict: str | None
    next_step: str | None
    since: str | None  # the pushed handoff the iteration started after

    def step(self, name: str) -> StepState:
        return next(s for s in self.steps if s.name == name)


def load_manifests(reports: Path) -> list[dict[str, Any]]:
    """Every run record under ``reports/runs``, oldest first (an unreadable one is skipped)."""
    found = []
    for run in RunStore(reports / "runs").runs():
        try:
            manifest = run.manifest()
        except UsageError:
            continue
        found.append({**manifest, "run_id": manifest.get("run_id") or run.run_id})
    return sorted(found, key=_order_key)


def _order_key(manifest: dict[str, Any]) -> tuple[dt.datetime, str]:
    """When a run started (run ids only have seconds: a red and a green can share one)."""
    run_id = str(manifest.get("run_id"))
    for text, fmt in ((manifest.get("started"), None), (run_id[:16], "%Y%m%dT%H%M%SZ")):
        try:
            when = dt.datetime.fromisoformat(str(text)) if fmt is None else dt.datetime.strptime(str(text), fmt)
        except ValueError:
            continue
        return (when if when.tzinfo else when.replace(tzinfo=dt.UTC), run_id)
    return (dt.datetime.min.replace(tzinfo=dt.UTC), run_id)


def _is_benchmark_baseline(m: dict[str, Any], verify_targets: set[str]) -> bool:
    # Deploy-only runs (red/green --deploy) skip the benchmarks; verify's fresh re-run is its "to".
    settings = m.get("settings") or {}
    return m.get("kind") == "baseline" and not settings.get("skip_pyperf") and m.get("run_id") not in verify_targets


def _window(manifests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """The records of the current iteration; a pushed handoff that is the newest record closes
    the iteration it belongs to, which is still shown until something new starts."""
    pushed = [i for i, m in enumerate(manifests) if m.get("kind") == "handoff" and m.get("pushed")]
    if not pushed:
        return manifests, None
    last = pushed[-1]
    if last == len(manifests) - 1:
        start = pushed[-2] + 1 if len(pushed) > 1 else 0
        since = manifests[pushed[-2]]["run_id"] if len(pushed) > 1 else None
        return manifests[start:], since
    return manifests[last + 1 :], str(manifests[last]["run_id"])


def _latest(records: list[dict[str, Any]], kind: str, ok: bool = True) -> dict[str, Any] | None:
    for m in reversed(records):
        if m.get("kind") == kind and (not ok or m.get("status") == "ok"):
            found: dict[str, Any] = m
            return found
    return None


def _detail(m: dict[str, Any]) -> str:
    kind = m.get("kind")
    if kind in ("red", "green"):
        t = m.get("targeted") or {}
        if not t:
            return str(m.get("status", ""))
        return f"-k {t.get('keyword')}: " + (str(t.get("verdict")) if t.get("ok") else f"not met, {t.get('reason')}")
    if kind == "verify":
        return f"verdict: {m.get('verdict')}"
    if kind == "mine" and m.get("source"):
        return f"notes.md: {m['source']}"
    if kind == "handoff":
        parts = [f"commit {str(m.get('committed'))[:10]}" if m.get("committed") else "", f"pushed to {m['pushed']}"]
        return ", ".join(p for p in parts if p and not p.endswith("None"))
    if kind == "baseline":
        commit = str((m.get("commits") or {}).get("commit") or "")[:10]
        return f"{m.get('status')}" + (f" at {commit}" if commit else "")
    return str(m.get("status", ""))


def iteration_state(manifests: list[dict[str, Any]], mined: str | None = None) -> IterationState:
    """Which steps the current iteration has done, from run records (oldest first). Pure.

    ``invoke mine`` keeps no run record: ``mined`` is the source line of its notes.md block, and
    mining counts when that line names a run of the current iteration.
    """
    records, since = _window(manifests)
    verify_targets = {str(m.get("to_run")) for m in manifests if m.get("kind") == "verify"}
    found: dict[str, dict[str, Any] | None] = {
        "baseline": next((m for m in reversed(records) if _is_benchmark_baseline(m, verify_targets)), None),
        "mine": _latest(records, "mine"),
        "red": _latest(records, "red"),
        "green": _latest(records, "green"),
        "verify": next((m for m in reversed(records) if m.get("kind") == "verify" and m.get("verdict")), None),
        "handoff": next((m for m in reversed(records) if m.get("kind") == "handoff" and m.get("pushed")), None),
    }
    if found["mine"] is None and mined:
        named = [m for m in records if str(m.get("run_id")) in mined]
        if named:
            found["mine"] = {"run_id": named[-1]["run_id"], "kind": "mine", "status": "ok", "source": mined}
    if found["baseline"] is not None and found["baseline"].get("status") != "ok":
        found["baseline"] = next(
            (m for m in reversed(records) if _is_benchmark_baseline(m, verify_targets) and m.get("status") == "ok"),
            found["baseline"],
        )
    steps = []
    for name in STEPS:
        m = found[name]
        done = m is not None and (m.get("status") == "ok" or name in ("verify", "handoff"))
        if not done:
            # Say what the last attempt did, when there was one.
            m = m or _latest(records, name, ok=False)
            detail = f"last attempt: {_detail(m)}" if m is not None else ""
        else:
            detail = _detail(m) if m is not None else ""
        steps.append(StepState(name, done, m.get("run_id") if m is not None else None, detail))
    verdict = found["verify"].get("verdict") if found["verify"] is not None else None
    next_step = next((s.name for s in steps if not s.done), None)
    return IterationState(tuple(steps), str(verdict) if verdict else None, next_step, since)


def status_rows(state: IterationState) -> list[tuple[str, str, str, str]]:
    return [(s.name, "done" if s.done else "-", s.run_id or "", s.detail) for s in state.steps]


def phases_block(state: IterationState) -> str:
    """task_plan.md's Current Phase and Phases (checkboxes and status), from the run records."""
    current = STEPS.index(state.next_step) + 1 if state.next_step else len(STEPS)
    title = PHASES[STEPS[current - 1]][0]
    lines = ["## Current Phase", "", f"Phase {current}: {title}" + ("" if state.next_step else " (complete)"), ""]
    lines += ["## Phases", ""]
    for number, step in enumerate(state.steps, 1):
        name, what = PHASES[step.name]
        status = "complete" if step.done else "in_progress" if step.name == state.next_step else "pending"
        lines.append(f"### Phase {number}: {name}")
        evidence = f" (run `{step.run_id}`: {step.detail})" if step.done and step.run_id else ""
        lines.append(f"- [{'x' if step.done else ' '}] {what}{evidence}")
        if not step.done and step.detail:
            lines.append(f"- {step.detail} (run `{step.run_id}`)")
        lines.append(f"- **Status:** {status}")
        lines.append("")
    if state.verdict:
        lines.append(f"Latest verdict: **{state.verdict}**")
    return "\n".join(lines).rstrip() + "\n"


def mined_source(*dirs: Path) -> str | None:
    """The "Source:" of ``invoke mine``'s notes.md block (its notes go to reports/ by default)."""
    for folder in dict.fromkeys(dirs):
        body = notes.read_block(folder / notes.NOTES, MINE_BLOCK)
        for line in (body or "").splitlines():
            if line.startswith("- Source: "):
                return line.removeprefix("- Source: ").split(";", 1)[0].strip()
    return None


def update_plan(notes_dir: Path, reports: Path) -> IterationState:
    """Bring task_plan.md's phases block in step with the run records; returns the state."""
    state = iteration_state(load_manifests(reports), mined_source(notes_dir, reports))
    notes.upsert_block(notes_dir / notes.TASK_PLAN, "phases", phases_block(state))
    return state


# -- RED / GREEN ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetedOutcome:
    step: str  # red | green
    run: RunDir
    manifest: dict[str, Any]
    result: targeted.TargetedRun
    verdict: str
    ok: bool
    reason: str
    attempt: int  # errors-table attempt count when not ok, else 0


def _reason(step: str, verdict: str, run: targeted.TargetedRun, keyword: str, test_file: str) -> str:
    """One line: why the step did (not) get what it needed."""
    ids = ", ".join(o.test_id.rsplit("::", 1)[-1].rsplit(".", 1)[-1] for o in run.outcomes) or keyword
    first_bad = next((o for o in run.outcomes if o.status in ("fail", "error")), None)
    if verdict == targeted.COLLECTION_ERROR:
        detail = run.collection_errors[0].detail if run.collection_errors else "the test runner did not start"
        return f"collection errored: {targeted.excerpt(detail)}"
    if verdict == targeted.NO_MATCH:
        return f"no test matched -k {keyword} in {test_file}"
    if verdict == targeted.SKIPPED:
        return f"the test was skipped ({ids})"
    if verdict == targeted.PASSED:
        return f"the test passed ({ids})" + (": RED needs it to fail first" if step == "red" else "")
    return f"the test failed ({ids}): {_failure_excerpt(first_bad, run)}"


def _failure_excerpt(bad: targeted.Outcome | None, run: targeted.TargetedRun) -> str:
    """What went wrong; a test that never reported died (a JIT crash is a failing test too)."""
    if bad is not None:
        return targeted.excerpt(bad.detail) or bad.status
    if run.exit_code == 124:
        return "timed out and was killed (--step-timeout)"
    if run.exit_code < 0 or run.exit_code > 128:
        number = -run.exit_code if run.exit_code < 0 else run.exit_code - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"the interpreter died with {name} inside the test"
    return f"exit {run.exit_code} without a result"


def test_result_row(manifest: dict[str, Any]) -> str:
    """progress.md's Test Results row for a red/green run record (evidence, not prose)."""
    t = manifest["targeted"]
    tests = t.get("tests") or []
    name = ", ".join(x["id"] for x in tests) or f"-k {t['keyword']}"
    where = "local" if (manifest.get("host") or {}).get("is_local") else (manifest.get("host") or {}).get("name")
    commit = str((manifest.get("commits") or {}).get("commit") or "")[:10]
    given = f"-k {t['keyword']} in {t['test_file']} on {where}" + (f" @ {commit}" if commit else "")
    expected = "fails (RED)" if manifest["kind"] == "red" else "passes (GREEN)"
    status = f"{manifest['kind'].upper()} {'ok' if t['ok'] else 'not met'}"
    return _row([name, given, expected, t["verdict"], status, t.get("excerpt", ""), f"`{manifest['run_id']}`"])


def _local_python(settings: Settings, repo: Path | None, explicit: set[str], deployed: bool) -> str:
    """The interpreter for a local run: the driver venv when a build went there, else the repo's
    own venv, else the Python running armjit."""
    from armjit.baseline import embedded_defaults
    from armjit.cinderx import venv_python

    if deployed or "driver_venv" in explicit:
        effective, _ = embedded_defaults(settings, explicit)
        return str(Path(venv_python(effective.driver_venv)).expanduser())
    for venv in (".venv", "venv"):
        candidate = repo / venv / "bin" / "python" if repo is not None else None
        if candidate is not None and candidate.is_file():
            return str(candidate)
    return sys.executable


def _deploy(settings: Settings, explicit: set[str], keyword: str, reports: Path, progress: Progress) -> str:
    """Sync and build with the benchmarks skipped; the targeted test is left to red/green."""
    from armjit.baseline import run_baseline

    skip = (*settings.runtime_skip_tests, keyword)
    # The TDD fast path ships what is in front of the engineer; rebasing on upstream is opt-in here.
    sync_upstream = settings.sync_upstream if "sync_upstream" in explicit else False
    deploy_settings = replace(settings, skip_pyperf=True, runtime_skip_tests=skip, sync_upstream=sync_upstream)
    outcome = run_baseline(deploy_settings, explicit | {"skip_pyperf"}, reports=reports, progress=progress)
    steps = {s["name"]: s for s in outcome.manifest.get("steps", [])}
    # The build and the install are what the test needs; a later gate failing is reported, not fatal.
    for name in ("deploy", "build-wheel", "driver-venv"):
        step = steps.get(name)
        if step is None or step["status"] not in ("ok", "skipped"):
            why = step["detail"] if step else "not reached"
            raise GateFailed(f"--deploy: step {name} of run {outcome.run.run_id} did not succeed: {why}")
    for failure in outcome.failures:
        progress.message(f"--deploy: {failure} (the targeted test runs anyway)")
    return outcome.run.run_id


def _run_id(now: dt.datetime, commit: str | None, host: Host, step: str) -> str:
    from armjit.baseline import host_label

    return f"{now:%Y%m%dT%H%M%SZ}_{(commit or 'nocommit')[:8]}_{host_label(host)}_{step}"


def run_targeted(
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
    progress: Progress,
) -> TargetedOutcome:
    """RED (``step="red"``: the test must fail) or GREEN (it must pass), with its evidence."""
    from armjit import gitops

    if step not in ("red", "green"):
        raise UsageError(f"unknown step {step!r}")
    if not keyword.strip() or "\n" in keyword:
        raise UsageError("-k: give the name (or pytest -k expression) of the test")
    if not test_file.strip() or "\n" in test_file:
        raise UsageError("--test-file: give the test file, relative to the repo")
    if runner not in ("auto", "pytest", "unittest"):
        raise UsageError(f"--runner {runner!r}: expected auto, pytest or unittest")
    repo = gitops.check_repo(Path(settings.repo).expanduser()) if settings.repo else None
    if deploy and repo is None:
        raise UsageError("--deploy needs --repo (the checkout to sync and build)")
    if repo is None and not settings.is_local:
        progress.message("no --repo: the test runs in the host's deployed tree as it is")
    notes_dir = notes.notes_dir(repo, reports, Path(settings.notes_dir) if settings.notes_dir else None)
    notes.ensure_writable([notes_dir / notes.PROGRESS, notes_dir / notes.TASK_PLAN])

    red_run = _red_for(step, keyword, reports, progress)
    deploy_run = None
    if deploy:
        try:
            deploy_run = _deploy(settings, explicit, keyword, reports, progress)
        except GateFailed as exc:
            record_error(notes_dir, step, str(exc))
            raise
    if settings.is_local:
        from armjit.baseline import embedded_defaults

        settings = embedded_defaults(settings, explicit)[0] if deploy else settings
        interpreter = python or _local_python(settings, repo, explicit, deploy)
        cwd = str(repo or Path.cwd())
    else:
        from armjit.cinderx import venv_python

        interpreter = python or venv_python(settings.driver_venv)
        cwd = settings.remote_workdir
    commits: dict[str, Any] = {}
    if repo is not None:
        commits = {"commit": gitops.head_commit(repo, "HEAD"), "branch": gitops.current_branch(repo)}
        commits["dirty_hash"] = gitops.dirty_hash(repo)

    host = connect(settings)
    with opened(host):
        host.open()
        cwd = host.expand(cwd)
        interpreter = host.expand(interpreter)
        path = test_file if test_file.startswith("/") else f"{cwd.rstrip('/')}/{test_file}"
        marker = _marker(host, cwd) if not settings.is_local else None
        if marker and not commits:
            commits = {"commit": marker.get("commit"), "branch": marker.get("branch"), "deployed": True}
        now = dt.datetime.now(dt.UTC)
        run = RunStore(reports / "runs").create(_run_id(now, commits.get("commit"), host, step))
        manifest: dict[str, Any] = {
            "run_id": run.run_id,
            "kind": step,
            "status": "running",
            "started": now.isoformat(timespec="microseconds"),
            "settings": settings.public_dict(),
            "explicit_settings": sorted(explicit),
            "host": {"name": host.name, "is_local": host.is_local},
            "commits": commits,
            "deploy_run": deploy_run,
            "deploy_marker": marker,
            "red_run": red_run,
        }
        pipeline = Pipeline(run, manifest, progress, step_timeout=settings.step_timeout)
        pipeline.save()
        holder: dict[str, Any] = {}

        def body(ctx: StepContext) -> str:
            command = targeted.runner_command(interpreter, path, keyword, runner)
            result = ctx.run(command, cwd=cwd, check=False, what=f"{step} -k {keyword}")
            holder["result"] = targeted.parse_run(result.stdout + "\n" + result.stderr, result.exit_code)
            holder["stderr"] = result.stderr
            return targeted.classify(holder["result"])

        try:
            pipeline.step("targeted-test", host, body)
        except BaseException as exc:
            # The test never reported (lost connection, Ctrl-C): the record says so, then the error goes on.
            manifest["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            manifest["error"] = f"{type(exc).__name__}: {exc}"
            pipeline.save()
            if not isinstance(exc, KeyboardInterrupt):
                record_error(notes_dir, step, f"the test could not run: {exc}")
            raise
    parsed: targeted.TargetedRun = holder["result"]
    verdict = targeted.classify(parsed)
    if verdict == targeted.COLLECTION_ERROR and not parsed.runner and not parsed.collection_errors:
        stderr = str(holder.get("stderr") or "").strip().splitlines()
        parsed = replace(
            parsed,
            collection_errors=(targeted.Outcome(path, "error", stderr[-1] if stderr else f"exit {parsed.exit_code}"),),
        )
    ok = verdict == (targeted.FAILED if step == "red" else targeted.PASSED)
    reason = _reason(step, verdict, parsed, keyword, test_file)
    bad = next((o for o in (*parsed.collection_errors, *parsed.outcomes) if o.status != "pass"), None)
    manifest["targeted"] = {
        "step": step,
        "keyword": keyword,
        "test_file": test_file,
        "python": interpreter,
        "cwd": cwd,
        "runner": parsed.runner or runner,
        "expected": "fail" if step == "red" else "pass",
        "verdict": verdict,
        "ok": ok,
        "reason": reason,
        "selected": list(parsed.selected),
        "tests": [{"id": o.test_id, "status": o.status, "detail": o.detail} for o in parsed.outcomes],
        "collection_errors": [{"id": o.test_id, "detail": o.detail} for o in parsed.collection_errors],
        "exit_code": parsed.exit_code,
        "excerpt": _evidence_excerpt(verdict, bad, parsed),
    }
    manifest["status"] = "ok" if ok else "failed"
    manifest["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    pipeline.save()
    notes.append_row(notes_dir / notes.PROGRESS, "test-results", TEST_HEADER, test_result_row(manifest))
    attempt = 0
    if ok:
        resolve_errors(notes_dir, step, f"{step.upper()} met in run {run.run_id}")
    else:
        attempt = record_error(notes_dir, step, reason)
    update_plan(notes_dir, reports)
    return TargetedOutcome(step, run, manifest, parsed, verdict, ok, reason, attempt)


def _evidence_excerpt(verdict: str, bad: targeted.Outcome | None, parsed: targeted.TargetedRun) -> str:
    if bad is not None or verdict == targeted.FAILED:
        return _failure_excerpt(bad, parsed)
    if verdict == targeted.NO_MATCH:
        return "no test selected"
    return f"{sum(1 for o in parsed.outcomes if o.status == 'pass')} passed"


def _red_for(step: str, keyword: str, reports: Path, progress: Progress) -> str | None:
    """GREEN answers the latest RED of this iteration; say so when it names another test."""
    if step != "green":
        return None
    records, _ = _window(load_manifests(reports))
    red = _latest(records, "red")
    if red is None:
        progress.message("note: no RED in this iteration yet: run `invoke red -k NAME` before the fix")
        return None
    red_keyword = (red.get("targeted") or {}).get("keyword")
    if red_keyword != keyword:
        progress.message(f"note: the last RED ({red['run_id']}) was -k {red_keyword}, this GREEN is -k {keyword}")
    return str(red["run_id"])


def _marker(host: Host, workdir: str) -> dict[str, Any] | None:
    from armjit import sync

    try:
        return sync.read_marker(host, workdir)
    except ArmjitError:
        return None


def targeted_rows(outcome: TargetedOutcome) -> list[tuple[str, str, str]]:
    rows = [(o.test_id, o.status, targeted.excerpt(o.detail)) for o in outcome.result.outcomes]
    rows += [(o.test_id, "collection error", targeted.excerpt(o.detail)) for o in outcome.result.collection_errors]
    return rows


# -- handoff -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandoffPlan:
    """What handoff would do, computed before anything is done (converge, then act)."""

    repo: Path
    branch: str
    upstream: str
    commit: str
    current_branch: str | None
    diff_stat: str
    changed_files: tuple[str, ...]
    jit_files: tuple[str, ...]
    touched: tuple[str, ...]  # changed tracked files in the working tree (repo-relative)
    notes_files: tuple[str, ...]  # notes files inside the repo (repo-relative)
    evidence: tuple[tuple[str, str, str], ...]  # (step, run, result)
    missing: tuple[str, ...]  # what push needs and the records do not show
    state: IterationState

    def summary_block(self, now: dt.datetime) -> str:
        """progress.md's handoff summary (a marked block, replaced on each handoff)."""
        lines = [
            f"## Handoff: {now:%Y-%m-%d}",
            f"- Branch `{self.branch}` @ `{self.commit[:10]}` against `{self.upstream}`: "
            f"{len(self.changed_files)} file(s) changed",
        ]
        if self.jit_files:
            lines.append("- JIT-related files: " + ", ".join(f"`{p}`" for p in self.jit_files))
        lines += ["", table(self.evidence, ["Step", "Run", "Result"], "github"), ""]
        lines.append(f"- Verify verdict: **{self.state.verdict or 'missing'}**")
        if self.missing:
            lines.append("- Missing evidence: " + ", ".join(self.missing))
        return "\n".join(lines) + "\n"


def evidence_rows(state: IterationState) -> list[tuple[str, str, str]]:
    rows = []
    for name in ("baseline", "red", "green", "verify"):
        step = state.step(name)
        result = step.detail if step.done else ("missing" + (f" ({step.detail})" if step.detail else ""))
        rows.append((name, step.run_id or "", result))
    return rows


def plan_handoff(settings: Settings, reports: Path) -> HandoffPlan:
    from armjit import gitops

    if not settings.repo:
        raise UsageError("handoff needs --repo (the checkout to commit and push)")
    repo = gitops.check_repo(Path(settings.repo).expanduser(), settings.branch)
    upstream = f"{settings.upstream_remote}/{settings.upstream_branch}"
    if gitops.resolve(repo, upstream) is None:
        upstream = settings.upstream_branch
    report = gitops.repo_report(repo, settings.branch, upstream)
    notes_dir = notes.notes_dir(repo, reports, Path(settings.notes_dir) if settings.notes_dir else None)
    names = (notes.FINDINGS, notes.PROGRESS, notes.TASK_PLAN, notes.NOTES)
    inside = []
    for name in names:
        try:
            rel = (notes_dir / name).resolve().relative_to(repo.resolve())
        except ValueError:
            continue  # notes kept outside the checkout are not committed
        inside.append(rel.as_posix())
    touched = tuple(sorted({path for xy, path in gitops.dirty_paths(repo) if xy != "??"}))
    state = iteration_state(load_manifests(reports), mined_source(notes_dir, reports))
    missing = []
    if not state.step("green").done:
        missing.append("green evidence (run `invoke green -k NAME`)")
    if not state.verdict:
        missing.append("verify verdict (run `invoke verify`)")
    return HandoffPlan(
        repo=repo,
        branch=settings.branch,
        upstream=upstream,
        commit=report.commit,
        current_branch=report.head_branch,
        diff_stat=report.diff_stat,
        changed_files=report.changed_files,
        jit_files=report.jit_files,
        touched=touched,
        notes_files=tuple(inside),
        evidence=tuple(evidence_rows(state)),
        missing=tuple(missing),
        state=state,
    )


def check_commit(plan: HandoffPlan, message: str) -> None:
    """What --commit needs, checked before anything is written."""
    if not message.strip():
        raise UsageError("--commit needs a message: -m MSG")
    if plan.current_branch != plan.branch:
        raise UsageError(f"--commit: the checkout is on {plan.current_branch or 'a detached HEAD'}, not {plan.branch}")


def commit_handoff(plan: HandoffPlan, message: str, notes_dir: Path, now: dt.datetime) -> str | None:
    """Write the summary, then commit the touched files and the notes; None when nothing changed."""
    from armjit import gitops

    check_commit(plan, message)
    notes.upsert_block(notes_dir / notes.PROGRESS, "handoff-summary", plan.summary_block(now))
    files = sorted({*plan.touched, *(p for p in plan.notes_files if (plan.repo / p).exists())})
    if not files:
        return None
    gitops.git(plan.repo, "add", "--", *files)
    staged = gitops.git(plan.repo, "diff", "--cached", "--name-only", "--", *files).stdout.split()
    if not staged:
        return None
    gitops.git(plan.repo, "commit", "-q", "-m", message, "--", *files)
    return gitops.head_commit(plan.repo, "HEAD")


def push_handoff(plan: HandoffPlan, remote: str) -> str:
    """Push the work branch to ``remote`` (a remote name, URL or path); one line on failure."""
    from armjit import gitops

    if not remote.strip() or remote.startswith("-"):
        raise UsageError(f"--push {remote!r}: give a git remote name")
    result = gitops.git(plan.repo, "push", "--porcelain", remote, f"refs/heads/{plan.branch}", check=False)
    if not result.ok:
        lines = [ln for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        raise GateFailed(f"git push {remote} {plan.branch} failed: {lines[-1] if lines else result.exit_code}")
    return gitops.head_commit(plan.repo, plan.branch)


def record_handoff(
    reports: Path, plan: HandoffPlan, *, committed: str | None, pushed: str | None, forced: bool, now: dt.datetime
) -> RunDir:
    """The handoff's run record: what was committed and pushed, and on which evidence."""
    run = RunStore(reports / "runs").create(f"{now:%Y%m%dT%H%M%SZ}_{plan.commit[:8]}_handoff")
    run.save_manifest(
        {
            "run_id": run.run_id,
            "kind": "handoff",
            "status": "ok",
            "started": now.isoformat(timespec="microseconds"),
            "commits": {"branch": plan.branch, "commit": committed or plan.commit, "upstream": plan.upstream},
            "committed": committed,
            "pushed": pushed,
            "forced": forced,
            "missing": list(plan.missing),
            "changed_files": list(plan.changed_files),
            "jit_files": list(plan.jit_files),
            "evidence": [list(row) for row in plan.evidence],
            "iteration_verdict": plan.state.verdict,
        }
    )
    return run
