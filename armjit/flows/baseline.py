"""``invoke baseline``: sync, build, gate, benchmark every JIT mode, fetch everything back.

The steps (armjit.flows.steps) follow ``remote_update_build_test.sh`` v5 (cinderx-workflow.md
§1.2); each is timed and logged by the Pipeline, and this flow stores what each step found in its
run record, saved after every step, so a failed or interrupted run keeps what it fetched and says
where it stopped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from armjit.cinderx.buildsource import BuildSource
from armjit.cinderx.runners import measurement
from armjit.config import Settings
from armjit.errors import ArmjitError, GateFailed, UsageError
from armjit.flows import steps
from armjit.flows.hostwork import HostWork, reopen
from armjit.flows.pipeline import Pipeline
from armjit.flows.run_host import embedded_defaults, guard_host_dirs, host_label, open_run_host, plan_modes
from armjit.render.progress import Progress
from armjit.seams.hosts import Host
from armjit.seams.hosts.detached import StepDetached
from armjit.seams.records import HostFacts, RemotePaths, RunRecord, StepRecord
from armjit.seams.store import RunDir, RunStore

__all__ = [
    "BaselineOutcome",
    "embedded_defaults",
    "guard_host_dirs",
    "host_label",
    "open_run_host",
    "plan_modes",
    "run_baseline",
]


@dataclass
class BaselineOutcome:
    run: RunDir
    record: RunRecord
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def manifest(self) -> dict[str, Any]:
        """The record as run.json holds it."""
        return self.record.to_json()


def run_baseline(
    settings: Settings,
    explicit: set[str],
    *,
    reports: Path,
    progress: Progress,
    host: Host | None = None,
    resume: RunDir | None = None,
    write_notes: bool = True,
) -> BaselineOutcome:
    """Run the whole pipeline. Bad input raises UsageError before anything is written.
    ``host``: an open host to run on instead of the one ``settings`` name (the caller closes it).
    ``write_notes``: False for a deploy inside red/green, which is no baseline and writes its own
    notes (no "Iteration: baseline" block, no baseline row in the errors table).
    ``resume``: a run that did not end ok, to go on with (its recorded settings are ``settings``):
    steps that passed are kept, detached steps are re-joined or read back, never run again.

    Long because it is the run's story in order (checks, host, record, steps, verdict, notes) and
    its one ``try``/``finally`` must see all of it: whatever ends the run is recorded once, there.
    """
    from armjit.flows import iteration
    from armjit.seams import gitops, notes

    settings, notes_lines = embedded_defaults(settings, explicit)
    modes, cannot = plan_modes(settings)
    runner = steps.bench_runner(settings)
    shape = measurement(
        runner,
        processes=settings.processes,
        values=settings.values,
        warmups=settings.warmups,
        loops=settings.loops,
        explicit=explicit,
    )
    repo = Path(settings.repo).expanduser() if settings.repo else None
    if repo is not None:
        gitops.check_repo(repo, settings.branch)
    notes_dir = settings.notes_path
    notes.ensure_writable([notes_dir / name for name in (notes.FINDINGS, notes.PROGRESS, notes.TASK_PLAN)])
    RunStore(reports / "runs").ensure_writable()
    host, settings = open_run_host(settings, host)
    # Only a deploy deletes what armjit did not put there, so only a deploy needs an owned work dir.
    deploys = repo is not None and not settings.bench_only
    workdirs = [settings.remote_workdir] if deploys else []
    guard_host_dirs(host, settings, workdirs=workdirs, venvs=[settings.driver_venv])
    if cannot:
        progress.message(cannot)
    for line in notes_lines:
        progress.message(line)

    # Synced before the run is named: a rebase changes the commit measured, which the run id names.
    synced = _sync_before_run(repo, settings, progress) if resume is None else None
    commit = gitops.head_commit(repo, settings.branch) if repo is not None else None
    if resume is None:
        run, record = RunStore(reports / "runs").new_run(
            "baseline", dt.datetime.now(dt.UTC), (commit or "nocommit")[:8], host_label(host)
        )
        # Named after the unique run id: concurrent runs on one host never share a remote run dir.
        remote_run = f"{settings.remote_incoming.rstrip('/')}/armjit-runs/{run.run_id}"
        _describe_run(record, settings, explicit, host, remote_run, cannot)
        prior: dict[str, StepRecord] = {}
    else:
        run, record, remote_run, prior = reopen(resume, repo, commit)
    try:
        work = HostWork.begin(host, settings, run.run_id, remote_run, "invoke baseline", progress)
    except BaseException:
        host.close()
        if resume is None:
            run.discard()  # nothing was written into it yet
        raise
    pipeline = Pipeline(run, record, progress, step_timeout=settings.step_timeout)
    pipeline.follower = work.follower
    pipeline.fence = work.lease.check
    # Going on: a step that failed runs again, its commands too (those that ran or run are followed).
    work.follower.rerun_failed = resume is not None
    pipeline.save()
    progress.message(f"run {run.run_id} on {host.name}" + (" (resumed)" if resume is not None else ""))
    target = steps.Target(settings, host, run, remote_run, runner, tuple(modes), shape)
    record.details["measurement"] = shape.to_json()
    flow = _Baseline(target, pipeline, record, prior=prior, synced=synced)
    outcome = BaselineOutcome(run, record, notes=[*notes_lines, *([cannot] if cannot else [])])
    try:
        flow.run(repo, outcome.failures)
    except BaseException as exc:
        # Whatever ended the run early (a lost connection, a failed download, Ctrl-C, a bug)
        # makes it failed or interrupted, with the step and the cause in run.json.
        status = pipeline.finish(exc)
        work.end(exc, progress)
        if isinstance(exc, StepDetached):
            record.status = status = "detached"  # its step goes on on the host: attach finishes it
            pipeline.save()
        if status in ("interrupted", "detached"):
            host.close()
        elif write_notes:
            # The run's own error is what the user must see, not one from writing the notes.
            with contextlib.suppress(Exception):
                cause = record.failure.cause if record.failure else str(exc)
                iteration.record_error(notes_dir, "baseline", cause)
        raise
    pipeline.finish(failure=(None, outcome.failures[0]) if outcome.failures else None)
    work.end(None, progress)
    host.close()
    if not write_notes:
        return outcome
    from armjit.render import baseline_report as report

    report.write_baseline_notes(run, record.to_json(), notes_dir)
    # task_plan.md's Errors Encountered table follows the baseline: one row per failing streak.
    if outcome.failures:
        iteration.record_error(notes_dir, "baseline", outcome.failures[0])
    else:
        iteration.resolve_errors(notes_dir, "baseline", f"baseline {run.run_id} passed")
    return outcome


def _describe_run(
    record: RunRecord, settings: Settings, explicit: set[str], host: Host, remote_run: str, cannot: str
) -> None:
    """What a baseline record says before its first step: the settings, the host, where it runs."""
    record.settings = settings.public_dict()
    record.explicit_settings = sorted(explicit)
    record.host = HostFacts(host.name, host.is_local)
    record.commits, record.modes, record.skipped_modes = {}, {}, cannot
    record.remote = RemotePaths(run_dir=remote_run)
    record.details["tests"] = []  # the runtime tests' outcomes, when they ran


@dataclass(frozen=True)
class PreSync:
    """An upstream sync done before the run existed, replayed as the run's upstream-sync step."""

    detail: str
    error: ArmjitError | None = None

    def replay(self) -> str:
        if self.error is not None:
            raise self.error
        return self.detail


def _sync_before_run(repo: Path | None, s: Settings, progress: Progress) -> PreSync | None:
    """The upstream sync (fetch, fast-forward, rebase), before the run is named. Bad input (a
    dirty tree) is refused before anything is written; a sync that fails on good input (no
    network, a conflict) becomes the run's failed upstream-sync step."""
    if repo is None or s.bench_only or not s.sync_upstream:
        return None
    from armjit.seams import upstream

    try:
        done = upstream.sync_upstream(
            repo, s.upstream_remote, s.upstream_branch, s.branch, rebase=s.rebase, report=progress.message
        )
    except UsageError:
        raise
    except ArmjitError as exc:
        return PreSync("", exc)
    return PreSync(str(done))


@dataclass
class _Baseline:
    """One baseline's steps in order, and what each found, stored in the record it owns."""

    target: steps.Target
    pipeline: Pipeline
    record: RunRecord
    wheel: str | None = None
    driver_python: str = ""
    bench: steps.BenchVenv = field(default_factory=lambda: steps.BenchVenv(""))
    prior: dict[str, StepRecord] = field(default_factory=dict)  # a resumed run's steps that passed
    synced: PreSync | None = None  # the upstream sync done before the run was named

    def run(self, repo: Path | None, failures: list[str]) -> None:
        """Deploy, build, gate and benchmark; gate failures go to ``failures``, the rest is raised."""
        s, pipeline = self.target.settings, self.pipeline
        try:
            self._deploy(repo)
            pipeline.result("host-facts", self.target.host, lambda ctx: steps.host_facts(ctx, self.target), self._facts)
            self._build()
            if s.skip_pyperf:
                pipeline.skip("benchmarks", "--skip-pyperf: done after the smokes")
                return
            for name in self.target.modes:
                try:
                    self._bench(name)
                except GateFailed as exc:
                    failures.append(str(exc))
            self._repin(failures)
            pipeline.result("jit-gate", self.target.host, self._gate, self._judged)
        except GateFailed as exc:
            failures.append(str(exc))

    def _deploy(self, repo: Path | None) -> None:
        from armjit.seams import gitops

        s, pipeline, host = self.target.settings, self.pipeline, self.target.host
        if s.bench_only:
            pipeline.skip("deploy", "--bench-only: measuring what is deployed")
            if repo is not None:
                pipeline.result("deployed", host, lambda ctx: steps.deployed(ctx, self.target), self._marker)
            return
        if repo is None:
            pipeline.skip("deploy", "no target repo")
            return
        if self.prior and self._kept_deploy():
            return
        if self.prior:
            pipeline.skip("upstream-sync", "resumed: the run's commit is kept")
        elif s.sync_upstream:
            synced = self.synced
            sync = (lambda ctx: synced.replay()) if synced else (lambda ctx: steps.upstream_sync(ctx, repo, s))
            pipeline.step("upstream-sync", host, sync)
        else:
            pipeline.skip("upstream-sync", "--no-sync-upstream")
        self.record.commits = gitops.describe(repo, s.branch, f"{s.upstream_remote}/{s.upstream_branch}")
        for line in gitops.describe_lines(self.record.commits):
            pipeline.progress.message(line)
        source = BuildSource.worktree() if s.worktree else BuildSource.branch(s.branch)
        pipeline.result("deploy", host, lambda ctx: steps.deploy(ctx, self.target, repo, source), self._deployed)

    def _build(self) -> None:
        s, pipeline, host, target = self.target.settings, self.pipeline, self.target.host, self.target
        shipped = ("armjit_jit_hook.py", "armjit_jit_hook.pth", "jit_smoke.py", "unittest_gate.py")
        steps.upload_resources(target, (*shipped, "armjit_which_cinderx.py"))  # the gate imports the last
        if s.bench_only:
            pipeline.skip("build-wheel", "--bench-only: using the installed build")
        elif s.build == "source":
            pipeline.result("build-wheel", host, lambda ctx: steps.build_wheel(ctx, target), self._wheel)
        else:
            pipeline.skip("build-wheel", f"--build {s.build}")
        pipeline.result("driver-venv", host, lambda ctx: steps.driver_venv(ctx, target, self.wheel), self._driver)
        if s.bench_only:
            pipeline.skip("runtime-tests", "--bench-only")
            self.record.details["gate"] = "none"  # measuring what is deployed: nothing to gate
            pipeline.skip("jit-smoke", "--bench-only")
        else:
            tests = lambda ctx: steps.runtime_tests(ctx, target, self.driver_python)  # noqa: E731
            if pipeline.result("runtime-tests", host, tests, self._tests) is None:
                # Nothing gated the build: never silent (run.json, the summary and findings.md say so).
                self.record.details["gate"] = "none"
                self._warn((self.record.steps or [])[-1].detail)
            if s.build == "none":
                pipeline.skip("jit-smoke", "--build none: no JIT to check")
            else:
                pipeline.step("jit-smoke", host, lambda ctx: steps.jit_smoke(ctx, target, self.driver_python))
        venv = lambda ctx: steps.bench_venv(ctx, target, self.driver_python, self.wheel)  # noqa: E731
        pipeline.result("bench-venv", host, venv, self._bench_venv)
        pins = lambda ctx: steps.pin_run(ctx, target, self.driver_python, self.bench.python, self.wheel)  # noqa: E731
        pipeline.result("pins", host, pins, self._pins)
        pipeline.step("startup-smoke", host, lambda ctx: steps.startup_smoke(ctx, target, self.bench.python))

    def _repin(self, failures: list[str]) -> None:
        """The pins again, after the last change to the venvs: the benchmarks change them."""
        before = self.record.details.get("pins")
        if not before:
            return
        target = self.target
        repin = lambda ctx: steps.repin_run(ctx, target, self.driver_python, self.bench.python, before)  # noqa: E731
        try:
            self.pipeline.result("pins-after-bench", target.host, repin, self._pins)
        except GateFailed as exc:
            failures.append(str(exc))

    def _kept_deploy(self) -> bool:
        """Resumed: keep the deploy when the host still holds the tree it sent (same marker)."""
        from armjit.seams import sync

        done = self.prior.get("deploy")
        deployed = (self.record.commits or {}).get("deployed")
        if done is None or done.status != "ok" or not deployed:
            return False
        if sync.read_marker(self.target.host, self.target.settings.remote_workdir) != deployed:
            return False
        for name in ("upstream-sync", "deploy"):
            if name in self.prior:
                self.pipeline.keep(self.prior[name], "the host still holds this tree")
        return True

    def _bench(self, name: str) -> None:
        done, kept = self.prior.get(f"bench-{name}"), (self.record.modes or {}).get(name)
        measured = kept is not None and kept.pyperf_json and (self.target.run.path / kept.pyperf_json).is_file()
        if done is not None and done.status == "ok" and measured:
            self.pipeline.keep(done, "measured before the interruption")
            return
        # Recorded before it runs: an interrupted run still shows what this mode was to measure.
        self.record.set_mode(name, steps.planned_mode(self.target, name))
        self.pipeline.result(
            f"bench-{name}",
            self.target.host,
            lambda ctx: steps.bench_mode(ctx, self.target, name, self.driver_python, self.bench),
            lambda found: self._mode(name, found),
        )

    def _gate(self, ctx: Any) -> steps.GateRun:
        return steps.jit_gate(ctx, self.target, self.record.modes or {}, self.bench.hook_problem)

    # -- what the steps found, kept in the record --------------------------------------------

    def _deployed(self, found: steps.Deployed) -> None:
        commits = dict(self.record.commits or {})
        commits["deployed"] = found.marker
        commits["dirty"] = bool(found.marker.get("dirty_hash"))
        self.record.commits = commits
        self.target.run.write_json("deploy-marker.json", found.marker)

    def _marker(self, found: steps.Deployed) -> None:
        self.record.commits = {"deployed": found.marker, "commit": found.marker.get("commit")}
        self.target.run.write_json("deploy-marker.json", found.marker)

    def _facts(self, found: steps.FoundHost) -> None:
        self.target.run.write_json("host-facts.json", found.facts)
        assert self.record.host is not None
        self.record.host = self.record.host.with_facts(found.facts)

    def _wheel(self, found: steps.Wheel) -> None:
        self.wheel = found.path
        self.record.details["build"] = found.build  # deps, flags, build seconds, ninja steps
        self.record.remote = replace(self.record.remote or RemotePaths(), wheel=found.path)

    def _driver(self, found: steps.Venv) -> None:
        self.driver_python = found.python
        self.record.remote = replace(self.record.remote or RemotePaths(), driver_venv=found.path)

    def _tests(self, found: steps.TestRun) -> None:
        from armjit.cinderx.targeted import shadow_warning

        self.record.details["tests"] = found.tests
        self.record.details["gate"] = found.gate_file
        self.record.details["gate_cinderx"] = found.cinderx
        self.target.run.write_json("runtime-tests.json", found.tests)
        if shadow_warning(found.cinderx):
            self._warn(shadow_warning(found.cinderx))

    def _warn(self, line: str) -> None:
        """A warning the run keeps (run.json ``warnings``) and shows (now, the summary, findings.md)."""
        self.record.details["warnings"] = [*self.record.details.get("warnings", []), line]
        self.pipeline.progress.message(f"warning: {line}" if not line.startswith("warning") else line)

    def _pins(self, found: steps.Pins) -> None:
        self.record.details["pins"] = found.data

    def _bench_venv(self, found: steps.BenchVenv) -> None:
        self.bench = found
        self.record.remote = replace(self.record.remote or RemotePaths(), bench_python=found.python)

    def _mode(self, name: str, found: steps.ModeRun) -> None:
        self.record.set_mode(name, found.mode)

    def _judged(self, found: steps.GateRun) -> None:
        for name, mode in found.modes.items():
            self.record.set_mode(name, mode)
