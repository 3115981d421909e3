"""``invoke baseline``: sync, build, gate, benchmark every JIT mode, fetch everything back.

The steps follow ``remote_update_build_test.sh`` v5 (cinderx-workflow.md §1.2); each is timed
and logged by the Pipeline, and the run record is saved after every step, so a failed or
interrupted run keeps what it fetched and says where it stopped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import shlex
import sys
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from armjit import __version__
from armjit.analysis import pyperf_data
from armjit.cinderx import commands as cinderx
from armjit.cinderx import gate
from armjit.cinderx import modes as jit_modes
from armjit.cinderx.modes import JitMode, inherit_environ, jit_mode, jitlist_text
from armjit.config import Settings, checked_host_dirs
from armjit.errors import GateFailed
from armjit.flows.pipeline import Pipeline, StepContext, StepFailed, StepSkipped
from armjit.render.progress import Progress
from armjit.seams.hosts import Host, use_host
from armjit.seams.store import RunDir, RunStore, new_run_id

__all__ = [
    "BaselineOutcome",
    "embedded_defaults",
    "guard_host_dirs",
    "host_label",
    "open_run_host",
    "plan_modes",
    "run_baseline",
]

q = shlex.quote
_LOCAL_HOME = "~/.cache/armjit/local"


def embedded_defaults(settings: Settings, explicit: set[str]) -> tuple[Settings, list[str]]:
    """Adapt defaults that only make sense for an ARM host when the host is this machine.

    With no repo, nothing can be built: ``--build none`` on this interpreter (the embedded
    default). Remote-only paths move under ~/.cache/armjit/local unless set explicitly.
    """
    notes: list[str] = []
    changes: dict[str, Any] = {}
    if not settings.repo and "build" not in explicit and settings.build == "source":
        changes["build"] = "none"
        notes.append("no --repo given: nothing to build, running a plain interpreter (--build none)")
    if settings.is_local:
        if "remote_python" not in explicit:
            changes["remote_python"] = sys.executable
        for name, sub in (
            ("remote_workdir", "work"),
            ("remote_incoming", "incoming"),
            ("driver_venv", "venv-driver"),
        ):
            if name not in explicit:
                changes[name] = f"{_LOCAL_HOME}/{sub}"
    return replace(settings, **changes), notes


def open_run_host(settings: Settings, host: Host | None = None) -> tuple[Host, Settings]:
    """Connect (bad hosts fail here, before any file is written), or use the ``host`` the caller
    lends (left open for it), and expand ``~`` in the host paths once, on the host itself: every
    later command quotes these paths. The path guard runs again on the expanded paths, now that
    the login user's home is known."""
    host = use_host(settings, host)
    try:
        return host, checked_host_dirs(settings, home=host.expand("~"))
    except BaseException:
        host.close()
        raise


def guard_host_dirs(host: Host, settings: Settings, *, workdirs: list[str], venvs: list[str]) -> None:
    """Refuse, before the run writes anything on either side, directories it would delete into
    but does not own (see armjit.seams.workdir)."""
    from armjit.seams import workdir

    try:
        workdir.preflight(host, workdirs=workdirs, venvs=venvs, adopt=settings.adopt_workdir)
    except BaseException:
        host.close()
        raise


def plan_modes(settings: Settings) -> tuple[list[str], str]:
    """The modes that can run, and one line about the ones that cannot."""
    if settings.build == "none":
        plain = [m for m in jit_modes.known_modes() if jit_modes.runs_without_cinderx(m)]
        runnable = [m for m in settings.modes if m in plain] or plain[:1]
        dropped = [m for m in settings.modes if m not in plain]
        why = ""
        if dropped:
            why = (
                f"JIT modes {', '.join(dropped)} cannot run here: --build none runs a plain interpreter "
                "without cinderx (cinderx needs CPython 3.14; use --build source|pypi on a 3.14 host)"
            )
        return runnable, why
    return list(settings.modes), ""


def _bench_runner(settings: Settings) -> str:
    if settings.bench_runner != "auto":
        return settings.bench_runner
    return "pyperf" if settings.bench_script or settings.build == "none" else "pyperformance"


def host_label(host: Host) -> str:
    """The host part of a run id: letters, digits, dots and dashes only."""
    return re.sub(r"[^A-Za-z0-9.-]+", "-", host.name).strip("-") or "host"


@dataclass
class BaselineOutcome:
    run: RunDir
    manifest: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _State:
    """What earlier steps found out and later steps use."""

    settings: Settings
    host: Host
    run: RunDir
    remote_run: str
    runner: str
    modes: list[str]
    wheel: str | None = None
    driver_python: str = ""
    bench_python: str = ""
    bench_files: dict[str, str] = field(default_factory=dict)
    hook_problem: str = ""
    tests: list[dict[str, str]] = field(default_factory=list)


def _resource(name: str) -> Path:
    return Path(str(resources.files("armjit.cinderx") / "resources" / name))


def run_baseline(
    settings: Settings,
    explicit: set[str],
    *,
    reports: Path,
    progress: Progress,
    host: Host | None = None,
) -> BaselineOutcome:
    """Run the whole pipeline. Bad input raises UsageError before anything is written.
    ``host``: an open host to run on instead of the one ``settings`` name (the caller closes it)."""
    from armjit.flows import iteration
    from armjit.seams import notes

    settings, notes_lines = embedded_defaults(settings, explicit)
    modes, cannot = plan_modes(settings)
    repo = Path(settings.repo).expanduser() if settings.repo else None
    describe: dict[str, Any] = {}
    if repo is not None:
        from armjit.seams import gitops

        gitops.check_repo(repo, settings.branch)
    notes_dir = settings.notes_path
    notes.ensure_writable([notes_dir / name for name in (notes.FINDINGS, notes.PROGRESS, notes.TASK_PLAN)])
    host, settings = open_run_host(settings, host)
    # Only a deploy deletes what armjit did not put there, so only a deploy needs an owned work dir.
    deploys = repo is not None and not settings.bench_only
    workdirs = [settings.remote_workdir] if deploys else []
    guard_host_dirs(host, settings, workdirs=workdirs, venvs=[settings.driver_venv])
    if cannot:
        progress.message(cannot)
    for line in notes_lines:
        progress.message(line)

    commit = gitops.head_commit(repo, settings.branch) if repo is not None else None
    started = dt.datetime.now(dt.UTC)
    run = RunStore(reports / "runs").create(new_run_id(started, (commit or "nocommit")[:8], host_label(host)))
    # Named after the unique run id: concurrent runs on one host never share a remote run dir.
    remote_run = f"{settings.remote_incoming.rstrip('/')}/armjit-runs/{run.run_id}"
    manifest: dict[str, Any] = {
        "run_id": run.run_id,
        "kind": "baseline",
        "status": "running",
        "armjit_version": __version__,
        "started": started.isoformat(timespec="microseconds"),
        "settings": settings.public_dict(),
        "explicit_settings": sorted(explicit),
        "host": {"name": host.name, "is_local": host.is_local},
        "commits": {},
        "modes": {},
        "skipped_modes": cannot,
        "remote": {"run_dir": remote_run},
    }
    pipeline = Pipeline(run, manifest, progress, step_timeout=settings.step_timeout)
    pipeline.save()
    progress.message(f"run {run.run_id} on {host.name}")
    state = _State(settings, host, run, remote_run, _bench_runner(settings), modes)
    outcome = BaselineOutcome(run, manifest, notes=[*notes_lines, *([cannot] if cannot else [])])
    try:
        if settings.bench_only:
            pipeline.skip("deploy", "--bench-only: measuring what is deployed")
            if repo is not None:
                pipeline.step("deployed", host, lambda ctx: _deployed(ctx, state))
        elif repo is not None:
            if settings.sync_upstream:
                pipeline.step("upstream-sync", host, lambda ctx: _upstream_sync(ctx, repo, settings))
            else:
                pipeline.skip("upstream-sync", "--no-sync-upstream")
            describe = gitops.describe(repo, settings.branch, f"{settings.upstream_remote}/{settings.upstream_branch}")
            manifest["commits"] = describe
            for line in gitops.describe_lines(describe):
                progress.message(line)
            pipeline.step("deploy", host, lambda ctx: _deploy(ctx, state, repo, describe))
        else:
            pipeline.skip("deploy", "no target repo")
        pipeline.step("host-facts", host, lambda ctx: _host_facts(ctx, state))
        _build_steps(pipeline, state)
        if settings.skip_pyperf:
            pipeline.skip("benchmarks", "--skip-pyperf: done after the smokes")
        else:
            for mode_name in state.modes:
                try:
                    pipeline.step(
                        f"bench-{mode_name}", host, functools.partial(_bench_mode, state=state, name=mode_name)
                    )
                except GateFailed as exc:
                    outcome.failures.append(str(exc))
            pipeline.step("jit-gate", host, lambda ctx: _jit_gate(ctx, state))
    except GateFailed as exc:
        outcome.failures.append(str(exc))
    except BaseException as exc:
        # Whatever ended the run early (a lost connection, a failed download, Ctrl-C, a bug)
        # makes it failed or interrupted, with the step and the cause in run.json.
        manifest["tests"] = state.tests
        status = pipeline.finish(exc)
        if status == "interrupted":
            host.close()
        else:
            # The run's own error is what the user must see, not one from writing the notes.
            with contextlib.suppress(Exception):
                iteration.record_error(notes_dir, "baseline", str(manifest["failure"]["cause"]))
        raise
    manifest["tests"] = state.tests
    pipeline.finish(failure=(None, outcome.failures[0]) if outcome.failures else None)
    host.close()
    from armjit.render import baseline_report as report

    report.write_baseline_notes(run, manifest, notes_dir)
    # task_plan.md's Errors Encountered table follows the baseline: one row per failing streak.
    if outcome.failures:
        iteration.record_error(notes_dir, "baseline", outcome.failures[0])
    else:
        iteration.resolve_errors(notes_dir, "baseline", f"baseline {run.run_id} passed")
    return outcome


# -- steps ---------------------------------------------------------------------------------------


def _upstream_sync(ctx: StepContext, repo: Path, s: Settings) -> str:
    from armjit.seams import upstream

    result = upstream.sync_upstream(repo, s.upstream_remote, s.upstream_branch, s.branch, rebase=s.rebase)
    return str(result)


def _deploy(ctx: StepContext, state: _State, repo: Path, describe: dict[str, Any]) -> str:
    from armjit.seams import sync

    s = state.settings
    result = sync.sync_tree(
        ctx.host,
        repo,
        s.remote_workdir,
        ref=None if s.worktree else s.branch,
        worktree=s.worktree,
        method=s.sync_method,
        adopt=s.adopt_workdir,
        report=ctx.pipeline.progress.message,
    )
    # The run checks the marker: what the host holds must be what was meant to be deployed.
    marker = sync.verify_deploy(ctx.host, s.remote_workdir, result.source)
    deployed = marker.as_dict()
    describe["deployed"] = deployed
    describe["dirty"] = bool(deployed.get("dirty_hash"))
    ctx.pipeline.manifest["commits"] = describe
    state.run.write_json("deploy-marker.json", deployed)
    return (
        f"{result.method}: {result.files_sent} sent, {result.files_deleted} deleted, "
        f"{result.bytes_sent} bytes in {result.seconds:.2f}s ({result.source.label()})"
    )


def _deployed(ctx: StepContext, state: _State) -> str:
    """With --bench-only, record what the host holds (its deploy marker) instead of deploying."""
    from armjit.seams import sync

    marker = sync.read_marker(ctx.host, state.settings.remote_workdir)
    if marker is None:
        raise StepFailed(f"nothing deployed at {state.settings.remote_workdir}: run a baseline without --bench-only")
    ctx.pipeline.manifest["commits"] = {"deployed": marker, "commit": marker.get("commit")}
    state.run.write_json("deploy-marker.json", marker)
    return f"{marker.get('branch') or ''} @ {str(marker.get('commit'))[:10]} (deployed {marker.get('time')})"


def _host_facts(ctx: StepContext, state: _State) -> str:
    s = state.settings
    result = ctx.run(cinderx.host_facts_command(), what="host facts")
    facts = cinderx.parse_host_facts(result.stdout)
    py = ctx.run(f"{q(s.remote_python)} -c 'import sys; print(sys.version.split()[0])'", check=False)
    facts["python"] = py.stdout.strip() if py.ok else f"missing: {s.remote_python}"
    state.run.write_json("host-facts.json", facts)
    ctx.pipeline.manifest["host"].update(facts)
    if not py.ok:
        raise StepFailed(f"{s.remote_python} does not run on {ctx.host.name}: set --remote-python", py)
    ctx.run(f"{claim_workdir(ctx, s)} && mkdir -p {q(state.remote_run)}/jitlogs", what="work dir and run dir")
    return f"{facts.get('arch', '?')}, python {facts['python']}, load {facts.get('loadavg', '?')}"


def claim_workdir(ctx: StepContext, s: Settings) -> str:
    """The shell that creates the work dir (venvs and wheels go below it even when nothing is
    deployed), as armjit's when it is new; with --adopt-workdir, takes it over when no deploy did."""
    from armjit.seams import workdir

    if s.adopt_workdir and not workdir.is_owned(ctx.host, s.remote_workdir):
        workdir.write_owner(ctx.host, s.remote_workdir)
    return workdir.create_shell(s.remote_workdir)


def _build_steps(pipeline: Pipeline, state: _State) -> None:
    s, host = state.settings, state.host
    for name in ("armjit_jit_hook.py", "armjit_jit_hook.pth", "jit_smoke.py", "unittest_gate.py"):
        host.put(_resource(name), f"{state.remote_run}/{name}")
    if s.bench_only:
        pipeline.skip("build-wheel", "--bench-only: using the installed build")
    elif s.build == "source":
        pipeline.step("build-wheel", host, lambda ctx: _build_wheel(ctx, state))
    else:
        pipeline.skip("build-wheel", f"--build {s.build}")
    pipeline.step("driver-venv", host, lambda ctx: _driver_venv(ctx, state))
    if s.bench_only:
        pipeline.skip("runtime-tests", "--bench-only")
        pipeline.skip("jit-smoke", "--bench-only")
    else:
        _gate_steps(pipeline, state)
    pipeline.step("bench-venv", host, lambda ctx: _bench_venv(ctx, state))
    pipeline.step("startup-smoke", host, lambda ctx: _startup_smoke(ctx, state))


def _gate_steps(pipeline: Pipeline, state: _State) -> None:
    s, host = state.settings, state.host
    pipeline.step("runtime-tests", host, lambda ctx: _runtime_tests(ctx, state))
    if s.build == "none":
        pipeline.skip("jit-smoke", "--build none: no JIT to check")
    else:
        pipeline.step("jit-smoke", host, lambda ctx: _jit_smoke(ctx, state))


def _build_wheel(ctx: StepContext, state: _State) -> str:
    s = state.settings
    env = {"CMAKE_BUILD_PARALLEL_LEVEL": str(s.parallel)}
    env |= dict(item.split("=", 1) for item in s.build_env)
    outdir = f"{s.remote_workdir.rstrip('/')}/dist/armjit-{state.run.run_id}"
    result = ctx.run(
        cinderx.build_wheel_command(s.remote_python, ctx.host.expand(outdir)), env=env, cwd=s.remote_workdir
    )
    wheel = cinderx.parse_wheel_path(result.stdout)
    if not wheel:
        raise StepFailed("the build finished but produced no single wheel", result)
    state.wheel = wheel
    ctx.pipeline.manifest["remote"]["wheel"] = wheel
    return wheel.rsplit("/", 1)[-1]


def _driver_venv(ctx: StepContext, state: _State) -> str:
    s = state.settings
    venv = ctx.host.expand(s.driver_venv)
    ctx.run(cinderx.ensure_venv_command(s.remote_python, venv), what="driver venv create")
    tools: tuple[str, ...] = ("pyperf",)
    if state.runner == "pyperformance" or not s.bench_script:
        tools = ("pyperf", "pyperformance")
    pypi = s.build.replace("pypi", "cinderx", 1) if s.build.startswith("pypi") else None
    ctx.run(cinderx.install_command(venv, wheel=state.wheel, pypi_spec=pypi, tools=tools), what="driver venv install")
    state.driver_python = cinderx.venv_python(venv)
    ctx.pipeline.manifest["remote"]["driver_venv"] = venv
    return venv


def _runtime_tests(ctx: StepContext, state: _State) -> str:
    s = state.settings
    test_file = s.runtime_test
    local = Path(test_file).expanduser()
    if not s.repo and local.is_absolute() and local.is_file() and not ctx.host.is_local:
        # No source tree on the host (--build pypi|none): ship the given test file to the run dir.
        test_file = f"{state.remote_run}/{local.name}"
        ctx.host.put(local, test_file)
    if not test_file.startswith("/"):
        if not s.repo:
            raise StepSkipped(f"no target repo deployed, so no {test_file} to run (give an absolute --runtime-test)")
        test_file = f"{s.remote_workdir.rstrip('/')}/{test_file}"
    exists = ctx.run(f"test -f {q(ctx.host.expand(test_file))}", check=False)
    if not exists.ok:
        raise StepSkipped(f"no runtime test file {test_file} on the host")
    tokens = ",".join(s.runtime_skip_tests)
    result = ctx.run(
        f"{q(state.driver_python)} {q(state.remote_run)}/unittest_gate.py {q(ctx.host.expand(test_file))} {q(tokens)}",
        cwd=s.remote_workdir,
        check=False,
    )
    outcomes = cinderx.parse_test_gate(result.stdout)
    state.tests = [{"id": o.test_id, "status": o.status, "detail": o.detail[-500:]} for o in outcomes]
    state.run.write_json("runtime-tests.json", state.tests)
    counts = {k: sum(1 for o in outcomes if o.status == k) for k in ("pass", "fail", "error", "skip")}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    if result.exit_code == 3 or not outcomes:
        raise StepFailed(f"no tests collected from {test_file}", result)
    if not result.ok:
        failed = [o.test_id for o in outcomes if o.status in ("fail", "error")]
        raise StepFailed(f"runtime tests failed: {', '.join(failed) or 'see log'} ({summary})", result)
    return summary


def _jit_smoke(ctx: StepContext, state: _State) -> str:
    result = ctx.run(
        f"{q(state.driver_python)} {q(state.remote_run)}/jit_smoke.py",
        env={"PYTHONJITAUTO": "1000000"},
        check=False,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("jit-effective-")), "")
    if not result.ok or not line.startswith("jit-effective-ok"):
        raise StepFailed(line or "JIT-effective smoke failed", result)
    return line


def _bench_venv(ctx: StepContext, state: _State) -> str:
    s = state.settings
    if s.build == "none":
        state.bench_python = state.driver_python
        detail = "driver venv (plain interpreter, no JIT hook)"
    elif state.runner == "pyperformance":
        result = ctx.run(
            cinderx.pyperformance_venv_command(s.driver_venv, recreate=s.recreate_pyperf_venv, benches=s.bench),
            cwd=s.remote_workdir,
            what="pyperformance venv",
        )
        match = re.search(r"pyperf_venv=(\S+)", result.stdout)
        if not match:
            raise StepFailed("could not resolve pyperformance's venv", result)
        venv = match.group(1)
        state.bench_python = cinderx.venv_python(venv)
        detail = _install_jit(ctx, state, venv)
    else:
        venv = f"{ctx.host.expand(s.remote_workdir).rstrip('/')}/venv/armjit-bench"
        create = cinderx.ensure_venv_command(s.remote_python, venv, recreate=s.recreate_pyperf_venv)
        first = ctx.run(create, check=False)
        if not first.ok:  # v5: retry once after cleaning up
            retry = cinderx.ensure_venv_command(s.remote_python, venv, recreate=True)
            ctx.run(retry, what="bench venv create (retry)")
        tools = ("pyperf",) if s.bench_script else ("pyperf", "pyperformance")
        ctx.run(cinderx.install_command(venv, wheel=None, pypi_spec=None, tools=tools), what="bench venv tools")
        state.bench_python = cinderx.venv_python(venv)
        detail = _install_jit(ctx, state, venv)
    ctx.pipeline.manifest["remote"]["bench_python"] = state.bench_python
    for bench in s.bench:
        state.bench_files[bench] = _bench_file(ctx, state, bench)
    return detail


def _install_jit(ctx: StepContext, state: _State, venv: str) -> str:
    s = state.settings
    pypi = s.build.replace("pypi", "cinderx", 1) if s.build.startswith("pypi") else None
    ctx.run(cinderx.install_command(venv, wheel=state.wheel, pypi_spec=pypi, tools=()), what="JIT build install")
    hook = ctx.run(cinderx.hook_install_command(venv, state.remote_run, s.jit_hook), what="JIT hook install")
    probe = ctx.run(cinderx.hook_probe_command(cinderx.venv_python(venv)), check=False)
    facts = cinderx.parse_host_facts(probe.stdout)
    found = facts.get("sitecustomize", "")
    if s.jit_hook == "pth" and facts.get("hook_module") != "True":
        state.hook_problem = f"the .pth JIT hook did not load in {venv} (are .pth files processed there?)"
        raise StepFailed(state.hook_problem, probe)
    if s.jit_hook == "sitecustomize" and not found.startswith(venv.rstrip("/") + "/"):
        # Not fatal here: the JIT gate fails later and names this as the cause.
        state.hook_problem = (
            f"the venv's sitecustomize.py hook is shadowed by {found or 'nothing'} (the interpreter's own "
            "sitecustomize wins), so the JIT never started: use --jit-hook pth"
        )
        ctx.pipeline.progress.message(f"warning: {state.hook_problem}")
    if s.jit_hook == "none":
        state.hook_problem = "--jit-hook none: nothing enables the JIT in the benchmark processes"
    return hook.stdout.strip().splitlines()[-1] if hook.stdout.strip() else venv


def _bench_file(ctx: StepContext, state: _State, bench: str) -> str:
    s = state.settings
    if state.runner == "pyperformance":
        return ""
    if s.bench_script:
        path = s.bench_script
        if not path.startswith("/"):
            path = f"{s.remote_workdir.rstrip('/')}/{path}"
        return ctx.host.expand(path)
    result = ctx.run(cinderx.pyperformance_bench_file_command(state.bench_python, bench), what="benchmark lookup")
    path = result.stdout.strip().splitlines()[-1]
    if not ctx.run(f"test -f {q(path)}", check=False).ok:
        raise StepFailed(f"pyperformance has no benchmark {bench!r} ({path} missing)")
    return path


def _startup_smoke(ctx: StepContext, state: _State) -> str:
    result = ctx.run(cinderx.startup_smoke_command(state.bench_python, state.settings.smoke_autojit), check=False)
    if "smoke-ok" not in result.stdout or not result.ok:
        raise StepFailed("startup smoke (generator + re.compile under the JIT) failed", result)
    return "smoke-ok"


def _mode(state: _State, name: str) -> JitMode:
    s = state.settings
    return jit_mode(
        name,
        log_dir=f"{state.host.expand(state.remote_run)}/jitlogs/{name}",
        jitlist_path=f"{state.host.expand(state.remote_run)}/jitlist-{name}.txt",
        autojit=s.autojit,
        jitlist_filter=s.autojit_jitlist_filter,
        extra_jitlist=s.autojit_extra_jitlist,
    )


def _bench_mode(ctx: StepContext, state: _State, name: str) -> str:
    s = state.settings
    mode = _mode(state, name)
    rrun = ctx.host.expand(state.remote_run)
    ctx.run(f"mkdir -p {q(rrun)}/jitlogs/{name}")
    if mode.jitlist:
        ctx.run(f"printf %s {q(jitlist_text(mode.jitlist))} > {q(rrun)}/jitlist-{name}.txt")
    output = f"{rrun}/{name}.json"
    record: dict[str, Any] = {
        "description": mode.description,
        "env": mode.env,
        "pyperf_json": None,
        "jit_logs": [],
        "benchmarks": list(s.bench),
        "runner": state.runner,
    }
    record["inherit_environ"] = inherit_environ(mode)
    ctx.pipeline.manifest["modes"][name] = record
    failures = []
    if state.runner == "pyperformance":
        cmd = cinderx.bench_command(
            runner="pyperformance",
            python=state.driver_python,
            bench=",".join(s.bench),
            mode=mode,
            output=output,
            bench_file=None,
            processes=s.processes,
            values=s.values,
            warmups=s.warmups,
            loops=s.loops,
        )
        result = ctx.run(cmd.command, cwd=s.remote_workdir, check=False)
        if not result.ok:
            failures.append(f"pyperformance exit {result.exit_code}")
    else:
        for index, bench in enumerate(s.bench):
            cmd = cinderx.bench_command(
                runner="pyperf",
                python=state.bench_python,
                bench=bench,
                mode=mode,
                output=output,
                bench_file=state.bench_files[bench],
                processes=s.processes,
                values=s.values,
                warmups=s.warmups,
                loops=s.loops,
            )
            command = cmd.command if index == 0 else cmd.command.replace(f"-o {q(output)}", f"--append {q(output)}")
            result = ctx.run(command, cwd=s.remote_workdir, check=False)
            if not result.ok:
                failures.append(f"{bench}: exit {result.exit_code}")
    _fetch_mode(ctx, state, name, output, record)
    ctx.pipeline.save()
    if failures:
        raise StepFailed(f"benchmark {name} failed ({'; '.join(failures)})", result)
    value = record.get("value")
    return f"{value:.6f} s" if isinstance(value, float) else "ok"


def _fetch_mode(ctx: StepContext, state: _State, name: str, output: str, record: dict[str, Any]) -> None:
    """Bring the mode's pyperf JSON and JIT logs home, whatever the benchmark's exit status."""
    run = state.run
    if ctx.run(f"test -s {q(output)}", check=False).ok:
        local = run.file("pyperf", f"{name}.json")
        ctx.host.get(output, local)
        record["pyperf_json"] = run.relative(local)
        record.update(pyperf_data.summary(local))
    log_dir = f"{ctx.host.expand(state.remote_run)}/jitlogs/{name}"
    listing = ctx.run(f"ls -1 {q(log_dir)} 2>/dev/null || true", check=False)
    logs = []
    for entry in sorted(listing.stdout.split()):
        local = run.file("jitlogs", name, entry)
        ctx.host.get(f"{log_dir}/{entry}", local)
        logs.append(run.relative(local))
    record["jit_logs"] = logs


def _jit_gate(ctx: StepContext, state: _State) -> str:
    s = state.settings
    problems = []
    lines = []
    for name in state.modes:
        record = ctx.pipeline.manifest["modes"].get(name)
        if record is None:
            continue
        counts = [gate.count_log(p, (state.run.path / p).read_bytes()) for p in record["jit_logs"]]
        expects = gate.compiles_expected(_mode(state, name), build=s.build)
        verdict = gate.judge_mode(
            name,
            counts,
            expects_compiles=expects,
            expected_processes=s.processes if state.runner == "pyperf" else 10,
            hook_problem=state.hook_problem,
        )
        record["compiles"] = {"main": verdict.main, "total": verdict.total, "other": verdict.other}
        record["threshold"] = verdict.threshold
        record["thresholds"] = verdict.thresholds
        record["processes_with_compiles"] = verdict.processes_with_compiles
        record["per_process"] = [{"log": c.name, "main": c.main, "total": c.total} for c in counts]
        record["gate"] = {"ok": verdict.ok, "message": verdict.message}
        lines.append(verdict.message)
        if not verdict.ok:
            problems.append(verdict.message)
            tail = _log_tail(state.run, record["jit_logs"])
            if tail:
                ctx.pipeline.progress.message("--- jit log tail ---\n" + tail)
    ctx.pipeline.save()
    if problems:
        raise StepFailed("; ".join(problems))
    return "; ".join(lines)


def _log_tail(run: RunDir, logs: list[str], lines: int = 40) -> str:
    if not logs:
        return ""
    biggest = max(logs, key=lambda p: (run.path / p).stat().st_size)
    text = (run.path / biggest).read_bytes()[-20000:].decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])
