"""Build the deployed CinderX tree into a wheel on the host: offline deps, build venv, incremental.

See ``armjit.cinderx.sourcebuild`` for why the build runs without isolation in a kept build
venv. The CMake tree ``scratch/`` sits in the work dir, which deploys never delete from
(``armjit.seams.sync.KEEP_DIRS``), and ccache's directory is outside it: a one-line change
rebuilds a few objects. A failed build names its cause: the first real error line of the
log (``armjit.cinderx.buildlog``), not its last line.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from armjit.cinderx import ccache_stats, sourcebuild
from armjit.cinderx.buildlog import first_error
from armjit.cinderx.commands import parse_wheel_path, venv_python
from armjit.flows.pipeline import StepContext, StepFailed
from armjit.flows.steps.target import Target

__all__ = ["Wheel", "build_venv_path", "build_wheel", "deps_path"]

q = shlex.quote
MAX_OBJECTS_LISTED = 40  # the record names this many of the objects compiled (a cold build has ~230)


@dataclass(frozen=True)
class Wheel:
    path: str
    failure: StepFailed | None = None
    build: dict[str, Any] = field(default_factory=dict)  # how it was built, for the run record

    @property
    def detail(self) -> str:
        name = self.path.rsplit("/", 1)[-1]
        return f"{name} ({sourcebuild.describe_build(self.build)})" if self.build else name


def build_venv_path(target: Target) -> str:
    return f"{target.settings.remote_incoming.rstrip('/')}/armjit-build-venv"


def deps_path(target: Target) -> str:
    return f"{target.settings.remote_incoming.rstrip('/')}/armjit-deps"


def _replace_if_changed(path: str, text: str) -> str:
    # Replaced only when it changed: CMake re-runs its configure step when the file is newer.
    tmp, final = q(f"{path}.tmp"), q(path)
    return f"printf '%s' {q(text)} > {tmp} && {{ cmp -s {tmp} {final} && rm -f {tmp} || mv -f {tmp} {final}; }}"


def _ccache_counts(ctx: StepContext) -> ccache_stats.CcacheCounts | None:
    found = ctx.run(ccache_stats.STATS_COMMAND, check=False)
    return ccache_stats.parse_stats(found.stdout) if found.ok else None


def build_wheel(ctx: StepContext, target: Target) -> Wheel:
    """Build the deployed tree into a wheel, in an outdir of this run (never a stale wheel).

    armjit's toolchain file is always in place: FetchContent sources with ``--deps-dir``, ccache as
    CMake's compiler launcher when the host has it, and the keeper of generated files' mtimes
    (``sourcebuild.keep_generated_text``). The record says what the build did: ninja's steps, the
    objects compiled, and ccache's hits and misses (its counters before and after).
    """
    from armjit.seams.sync.deps import ship_deps

    s, host = target.settings, ctx.host
    workdir = s.remote_workdir
    cmake_dir = host.expand(deps_path(target))
    sources: dict[str, str] = {}
    deps = None
    if s.deps_dir:
        deps = ship_deps(host, Path(s.deps_dir).expanduser(), deps_path(target), home=host.expand("~"))
        cmake_dir, sources = deps.remote_dir, deps.sources
        shipped = "shipped" if deps.sent else "already on the host"
        ctx.pipeline.progress.message(f"  deps: {', '.join(sorted(deps.sources))} ({shipped})")
    probe = ctx.run(f"echo ccache=$(command -v ccache); cat {q(workdir)}/pyproject.toml", check=False)
    first, _, pyproject_text = probe.stdout.partition("\n")
    launcher = first.removeprefix("ccache=").strip() or None
    pyproject = pyproject_text if probe.ok else None
    keeper = f"{cmake_dir}/{sourcebuild.KEEP_GENERATED_NAME}"
    toolchain = f"{cmake_dir}/{sourcebuild.TOOLCHAIN_NAME}"
    text = sourcebuild.toolchain_text(sources, launcher=launcher, keep_generated=keeper)
    ctx.run(
        f"mkdir -p {q(cmake_dir)} && {_replace_if_changed(keeper, sourcebuild.keep_generated_text())} && "
        f"{_replace_if_changed(toolchain, text)}",
        what="toolchain file",
    )
    requires = sourcebuild.build_requires(pyproject)
    venv = host.expand(build_venv_path(target))
    ctx.run(sourcebuild.build_venv_command(s.remote_python, venv, requires), what="build venv", detach=True)
    plan = sourcebuild.build_plan(
        parallel=s.parallel,
        build_env=s.build_env,
        toolchain=toolchain,
        offline=deps is not None,
        ccache=launcher is not None,
        workdir=host.expand(workdir),
    )
    outdir = host.expand(f"{workdir.rstrip('/')}/dist/armjit-{target.run.run_id}")
    before = _ccache_counts(ctx) if launcher else None
    started = time.monotonic()
    result = ctx.run(
        sourcebuild.source_build_command(venv_python(venv), outdir, plan.env.get("CMAKE_TOOLCHAIN_FILE", "")),
        env=plan.env,
        cwd=workdir,
        check=False,
        detach=True,
    )
    seconds = time.monotonic() - started
    after = _ccache_counts(ctx) if launcher else None
    output = result.stdout + "\n" + result.stderr
    if not result.ok:
        if result.timed_out:
            raise StepFailed(f"the build timed out after {s.step_timeout}s and was killed", result)
        cause = first_error(output) or (result.tail(1) or "no output")
        raise StepFailed(f"the build failed (exit {result.exit_code}): {cause}", result)
    wheel = parse_wheel_path(result.stdout)
    if not wheel:
        raise StepFailed("the build finished but produced no single wheel", result)
    objects = sourcebuild.compiled_objects(output)  # pip -v sends the build's output to stderr
    ccache: dict[str, Any] | None = None
    if launcher:
        ccache = {"path": launcher, "via": "CMAKE_C_COMPILER_LAUNCHER/CMAKE_CXX_COMPILER_LAUNCHER (toolchain file)"}
        if before and after:
            ccache |= after.minus(before).as_dict() | {"before": before.as_dict(), "after": after.as_dict()}
    build = {
        "command": "pip wheel --no-build-isolation",
        "build_venv": venv,
        "requires": list(requires),
        "env": plan.env,
        "chosen_by_armjit": plan.chosen,
        "toolchain": toolchain,
        "ccache": ccache,
        "deps": deps.as_dict() if deps else None,
        "seconds": round(seconds, 1),
        "ninja_steps": sourcebuild.ninja_steps(output),
        "objects_compiled": len(objects),
        "generated_kept": sourcebuild.generated_kept(output),
        "objects": objects[:MAX_OBJECTS_LISTED],
    }
    return Wheel(wheel, build=build)
