"""RED and GREEN: one targeted test on the host (or locally) must fail, then pass; with evidence."""

from __future__ import annotations

import datetime as dt
import signal
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from armjit.cinderx import targeted
from armjit.config import Settings
from armjit.errors import ArmjitError, GateFailed, UsageError
from armjit.flows.hostwork import HostWork
from armjit.flows.iteration import (
    TEST_HEADER,
    fleets_as_one,
    iteration_window,
    latest_record,
    load_manifests,
    record_error,
    resolve_errors,
    update_plan,
)
from armjit.flows.pipeline import Pipeline, StepContext
from armjit.render.progress import Progress
from armjit.render.tables import markdown_row
from armjit.seams import notes
from armjit.seams.hosts import Host, opened, use_host
from armjit.seams.lease import beside
from armjit.seams.records import HostFacts, RemotePaths, RunRecord
from armjit.seams.store import RunDir, RunStore

__all__ = ["TargetedOutcome", "check_args", "run_targeted", "targeted_rows", "test_result_row"]

# -- RED / GREEN ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetedOutcome:
    step: str  # red | green
    run: RunDir
    record: RunRecord
    result: targeted.TargetedRun
    verdict: str
    ok: bool
    reason: str
    attempt: int  # errors-table attempt count when not ok, else 0

    @property
    def manifest(self) -> dict[str, Any]:
        """The record as run.json holds it."""
        return self.record.to_json()

    @property
    def failures(self) -> list[str]:
        """Why the step is not met on this host (a fleet marks such a host failed)."""
        return [] if self.ok else [self.reason]


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


def test_result_row(record: RunRecord) -> str:
    """progress.md's Test Results row for a red/green run record (evidence, not prose)."""
    t = record.details["targeted"]
    tests = t.get("tests") or []
    name = ", ".join(x["id"] for x in tests) or f"-k {t['keyword']}"
    where = "local" if record.host is None or record.host.is_local else record.host.name
    commit = record.commit[:10]
    given = f"-k {t['keyword']} in {t['test_file']} on {where}" + (f" @ {commit}" if commit else "")
    expected = "fails (RED)" if record.kind == "red" else "passes (GREEN)"
    status = f"{record.kind.upper()} {'ok' if t['ok'] else 'not met'}"
    return markdown_row([name, given, expected, t["verdict"], status, t.get("excerpt", ""), f"`{record.run_id}`"])


def _local_python(settings: Settings, repo: Path | None, explicit: set[str], deployed: bool) -> str:
    """The interpreter for a local run: the driver venv when a build went there, else the repo's
    own venv, else the Python running armjit."""
    from armjit.cinderx.commands import venv_python
    from armjit.flows.baseline import embedded_defaults

    if deployed or "driver_venv" in explicit:
        effective, _ = embedded_defaults(settings, explicit)
        return str(Path(venv_python(effective.driver_venv)).expanduser())
    for venv in (".venv", "venv"):
        candidate = repo / venv / "bin" / "python" if repo is not None else None
        if candidate is not None and candidate.is_file():
            return str(candidate)
    return sys.executable


def _deploy(
    settings: Settings, explicit: set[str], keyword: str, reports: Path, progress: Progress, host: Host | None
) -> tuple[str, dict[str, Any]]:
    """Sync and build with the benchmarks skipped; the targeted test is left to red/green.
    Returns the deploy run's id and what its build took (seconds, ninja steps)."""
    from armjit.flows.baseline import run_baseline

    skip = (*settings.runtime_skip_tests, keyword)
    # The TDD fast path ships what is in front of the engineer; rebasing on upstream is opt-in here.
    sync_upstream = settings.sync_upstream if "sync_upstream" in explicit else False
    deploy_settings = replace(settings, skip_pyperf=True, runtime_skip_tests=skip, sync_upstream=sync_upstream)
    outcome = run_baseline(
        deploy_settings, explicit | {"skip_pyperf"}, reports=reports, progress=progress, host=host, write_notes=False
    )
    steps = {s.name: s for s in outcome.record.steps or []}
    # The build and the install are what the test needs; a later gate failing is reported, not fatal.
    for name in ("deploy", "build-wheel", "driver-venv"):
        step = steps.get(name)
        if step is None or step.status not in ("ok", "skipped"):
            why = step.detail if step else "not reached"
            raise GateFailed(f"--deploy: step {name} of run {outcome.run.run_id} did not succeed: {why}")
    for failure in outcome.failures:
        progress.message(f"--deploy: {failure} (the targeted test runs anyway)")
    build = steps.get("build-wheel")
    built = {"status": build.status if build else None, "seconds": build.seconds if build else None}
    record_build = outcome.record.details.get("build") or {}
    for key in ("ninja_steps", "objects_compiled", "ccache"):
        built[key] = record_build.get(key)
    return outcome.run.run_id, built


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
    host: Host | None = None,
    fleet: dict[str, Any] | None = None,
) -> TargetedOutcome:
    """RED (``step="red"``: the test must fail) or GREEN (it must pass), with its evidence.
    ``host``: an open host to run on instead of the one ``settings`` name (the caller closes it).
    ``fleet``: the fleet this run is one host of (``{"id", "hosts"}``, kept in the record); the
    notes then say nothing of this host alone: the fleet writes its one result.

    Long because it is one story in order (check, deploy, run on the host, judge, write the notes),
    and the host stays open only around the test; the parts that stand alone are helpers below.
    """
    from armjit.seams import gitops

    repo = check_args(settings, step=step, keyword=keyword, test_file=test_file, runner=runner, deploy=deploy)
    if repo is None and not settings.is_local:
        progress.message("no --repo: the test runs in the host's deployed tree as it is")
    notes_dir = settings.notes_path
    notes.ensure_writable([notes_dir / notes.PROGRESS, notes_dir / notes.TASK_PLAN])

    red_run = _red_for(step, keyword, reports, progress)
    deploy_run, deploy_build = None, None
    if deploy:
        try:
            deploy_run, deploy_build = _deploy(settings, explicit, keyword, reports, progress, host)
        except ArmjitError as exc:
            # The deploy writes no notes of its own: its failure (a gate, a rebase conflict) is this
            # step's error row. Bad input writes nothing.
            if fleet is None and not isinstance(exc, UsageError):
                record_error(notes_dir, step, str(exc))
            raise
    settings, interpreter, cwd = _where(settings, explicit, repo, python, deploy)
    commits: dict[str, Any] = {}
    if repo is not None:
        commits = {"commit": gitops.head_commit(repo, "HEAD"), "branch": gitops.current_branch(repo)}
        commits["dirty_hash"] = gitops.dirty_hash(repo)
        if settings.is_local or (deploy and settings.worktree):
            # The code the test ran on, notes left out: handoff pushes only what this covers. (A
            # test in a tree deployed from a commit is covered by the deploy marker's commit.)
            commits["code_tree"] = gitops.code_tree(repo, None, exclude=gitops.notes_in(repo, notes_dir))

    # From here on ``host`` is the open host: the one lent, or a new connection closed at the end.
    with opened(use_host(settings, host)) as host:  # noqa: PLR1704
        cwd = host.expand(cwd)
        interpreter = host.expand(interpreter)
        path = test_file if test_file.startswith("/") else f"{cwd.rstrip('/')}/{test_file}"
        marker = _marker(host, cwd) if not settings.is_local else None
        if marker and not commits:
            commits = {"commit": marker.get("commit"), "branch": marker.get("branch"), "deployed": True}
        from armjit.flows.baseline import host_label

        label = (commits.get("commit") or "nocommit")[:8]
        run, record = RunStore(reports / "runs").new_run(step, dt.datetime.now(dt.UTC), label, host_label(host), step)
        record.settings = settings.public_dict()
        record.explicit_settings = sorted(explicit)
        record.host = HostFacts(host.name, host.is_local)
        record.commits = commits
        record.details |= {"deploy_run": deploy_run, "deploy_marker": marker, "red_run": red_run}
        record.details["deploy_build"] = deploy_build
        if fleet is not None:
            record.details["fleet"] = fleet
        pipeline = Pipeline(run, record, progress, step_timeout=settings.step_timeout)
        # The supervisor runs on the test's own interpreter: the one Python the test needs anyway.
        work = _hold_host(host, replace(settings, remote_python=interpreter), run, record, f"invoke {step}", progress)
        pipeline.follower = work.follower if work else None
        pipeline.fence = work.lease.check if work else None
        pipeline.save()
        holder: dict[str, Any] = {}

        def body(ctx: StepContext) -> str:
            command = targeted.runner_command(interpreter, path, keyword, runner)
            result = ctx.run(command, cwd=cwd, check=False, what=f"{step} -k {keyword}", detach=True)
            holder["result"] = targeted.parse_run(result.stdout + "\n" + result.stderr, result.exit_code)
            holder["stderr"] = result.stderr
            return targeted.classify(holder["result"])

        try:
            pipeline.step("targeted-test", host, body)
        except BaseException as exc:
            # The test never reported (lost connection, Ctrl-C): the record says so, then the error goes on.
            record.details["error"] = f"{type(exc).__name__}: {exc}"
            pipeline.finish(exc)
            if work:
                work.end(exc, progress)
            if not isinstance(exc, KeyboardInterrupt) and fleet is None:
                record_error(notes_dir, step, f"the test could not run: {exc}")
            raise
        if work:
            work.end(None, progress)
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
    warning = targeted.shadow_warning(parsed.cinderx)
    if warning:
        progress.message(warning)
    record.details["targeted"] = {
        "step": step,
        "keyword": keyword,
        "test_file": test_file,
        "python": interpreter,
        "cwd": cwd,
        "runner": parsed.runner or runner,
        "expected": "fail" if step == "red" else "pass",
        **_evidence(parsed, verdict, ok, reason),
        "cinderx": parsed.cinderx,  # which cinderx the test imported: path, version, shadowed
        "warnings": [warning] if warning else [],
    }
    pipeline.finish(failure=None if ok else ("targeted-test", reason))
    if fleet is not None:
        return TargetedOutcome(step, run, record, parsed, verdict, ok, reason, 0)
    notes.append_row(notes_dir / notes.PROGRESS, "test-results", TEST_HEADER, test_result_row(record))
    attempt = 0
    if ok:
        resolve_errors(notes_dir, step, f"{step.upper()} met in run {run.run_id}")
    else:
        attempt = record_error(notes_dir, step, reason)
    update_plan(notes_dir, reports)
    return TargetedOutcome(step, run, record, parsed, verdict, ok, reason, attempt)


def _hold_host(
    host: Host, settings: Settings, run: RunDir, record: RunRecord, command: str, progress: Progress
) -> HostWork | None:
    """On a remote host the test runs detached from the connection, under the work dir's lease
    (a deploy must not change the tree under it). Its supervisor's state sits beside the work
    dir, like the lease: the test needs no upload dir. Locally there is no connection to lose."""
    if host.is_local:
        return None
    remote_run = f"{beside(settings.remote_workdir, 'runs')}/{run.run_id}"
    record.remote = RemotePaths(run_dir=remote_run)
    try:
        return HostWork.begin(host, settings, run.run_id, remote_run, command, progress, attachable=False)
    except BaseException:
        run.discard()  # nothing was run into it yet
        raise


def check_args(
    settings: Settings, *, step: str, keyword: str, test_file: str, runner: str, deploy: bool
) -> Path | None:
    """Refuse bad input before anything is written; returns the checked repo (None without --repo)."""
    from armjit.seams import gitops

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
    return repo


def _where(
    settings: Settings, explicit: set[str], repo: Path | None, python: str, deployed: bool
) -> tuple[Settings, str, str]:
    """(settings, interpreter, cwd) of the test: locally the repo, on a host its deployed tree."""
    if settings.is_local:
        from armjit.flows.baseline import embedded_defaults

        settings = embedded_defaults(settings, explicit)[0] if deployed else settings
        return settings, python or _local_python(settings, repo, explicit, deployed), str(repo or Path.cwd())
    from armjit.cinderx.commands import venv_python

    return settings, python or venv_python(settings.driver_venv), settings.remote_workdir


def _evidence(parsed: targeted.TargetedRun, verdict: str, ok: bool, reason: str) -> dict[str, Any]:
    """What the test run showed, as a red/green record keeps it."""
    bad = next((o for o in (*parsed.collection_errors, *parsed.outcomes) if o.status != "pass"), None)
    return {
        "verdict": verdict,
        "ok": ok,
        "reason": reason,
        "selected": list(parsed.selected),
        "tests": [{"id": o.test_id, "status": o.status, "detail": o.detail} for o in parsed.outcomes],
        "collection_errors": [{"id": o.test_id, "detail": o.detail} for o in parsed.collection_errors],
        "exit_code": parsed.exit_code,
        "excerpt": _evidence_excerpt(verdict, bad, parsed),
    }


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
    records, _ = iteration_window(load_manifests(reports))
    red = latest_record(fleets_as_one(records), "red")
    if red is None:
        progress.message("note: no RED in this iteration yet: run `invoke red -k NAME` before the fix")
        return None
    red_keyword = (red.get("targeted") or {}).get("keyword")
    if red_keyword != keyword:
        progress.message(f"note: the last RED ({red['run_id']}) was -k {red_keyword}, this GREEN is -k {keyword}")
    return str(red["run_id"])


def _marker(host: Host, workdir: str) -> dict[str, Any] | None:
    from armjit.seams import sync

    try:
        return sync.read_marker(host, workdir)
    except ArmjitError:
        return None


def targeted_rows(outcome: TargetedOutcome) -> list[tuple[str, str, str]]:
    rows = [(o.test_id, o.status, targeted.excerpt(o.detail)) for o in outcome.result.outcomes]
    rows += [(o.test_id, "collection error", targeted.excerpt(o.detail)) for o in outcome.result.collection_errors]
    return rows
