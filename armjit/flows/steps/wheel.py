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

from armjit.cinderx import sourcebuild
from armjit.cinderx.buildlog import first_error
from armjit.cinderx.commands import parse_wheel_path, venv_python
from armjit.flows.pipeline import StepContext, StepFailed
from armjit.flows.steps.target import Target

__all__ = ["Wheel", "build_venv_path", "build_wheel", "deps_path"]

q = shlex.quote


@dataclass(frozen=True)
class Wheel:
    path: str
    failure: StepFailed | None = None
    build: dict[str, Any] = field(default_factory=dict)  # how it was built, for the run record

    @property
    def detail(self) -> str:
        name = self.path.rsplit("/", 1)[-1]
        steps = self.build.get("ninja_steps")
        return f"{name} ({steps} ninja steps)" if steps is not None else name


def build_venv_path(target: Target) -> str:
    return f"{target.settings.remote_incoming.rstrip('/')}/armjit-build-venv"


def deps_path(target: Target) -> str:
    return f"{target.settings.remote_incoming.rstrip('/')}/armjit-deps"


def build_wheel(ctx: StepContext, target: Target) -> Wheel:
    """Build the deployed tree into a wheel, in an outdir of this run (never a stale wheel)."""
    from armjit.seams.sync.deps import ship_deps

    s, host = target.settings, ctx.host
    workdir = s.remote_workdir
    toolchain, deps = None, None
    if s.deps_dir:
        deps = ship_deps(host, Path(s.deps_dir).expanduser(), deps_path(target), home=host.expand("~"))
        toolchain = f"{deps.remote_dir}/{sourcebuild.TOOLCHAIN_NAME}"
        text = sourcebuild.toolchain_text(deps.sources)
        # Replaced only when it changed: CMake re-runs its configure step when the file is newer.
        tmp, final = q(f"{toolchain}.tmp"), q(toolchain)
        write = f"printf '%s' {q(text)} > {tmp} && {{ cmp -s {tmp} {final} && rm -f {tmp} || mv -f {tmp} {final}; }}"
        ctx.run(write, what="toolchain file")
        shipped = "shipped" if deps.sent else "already on the host"
        ctx.pipeline.progress.message(f"  deps: {', '.join(sorted(deps.sources))} ({shipped})")
    probe = ctx.run(f"command -v ccache >/dev/null && echo ccache=yes; cat {q(workdir)}/pyproject.toml", check=False)
    ccache = probe.stdout.startswith("ccache=yes")
    pyproject = probe.stdout.removeprefix("ccache=yes\n") if probe.ok else None
    requires = sourcebuild.build_requires(pyproject)
    venv = host.expand(build_venv_path(target))
    ctx.run(sourcebuild.build_venv_command(s.remote_python, venv, requires), what="build venv", detach=True)
    plan = sourcebuild.build_plan(parallel=s.parallel, build_env=s.build_env, toolchain=toolchain, ccache=ccache)
    outdir = host.expand(f"{workdir.rstrip('/')}/dist/armjit-{target.run.run_id}")
    started = time.monotonic()
    result = ctx.run(
        sourcebuild.source_build_command(venv_python(venv), outdir), env=plan.env, cwd=workdir, check=False, detach=True
    )
    seconds = time.monotonic() - started
    output = result.stdout + "\n" + result.stderr
    if not result.ok:
        if result.timed_out:
            raise StepFailed(f"the build timed out after {s.step_timeout}s and was killed", result)
        cause = first_error(output) or (result.tail(1) or "no output")
        raise StepFailed(f"the build failed (exit {result.exit_code}): {cause}", result)
    wheel = parse_wheel_path(result.stdout)
    if not wheel:
        raise StepFailed("the build finished but produced no single wheel", result)
    build = {
        "command": "pip wheel --no-build-isolation",
        "build_venv": venv,
        "requires": list(requires),
        "env": plan.env,
        "chosen_by_armjit": plan.chosen,
        "ccache": ccache,
        "deps": deps.as_dict() if deps else None,
        "seconds": round(seconds, 1),
        "ninja_steps": sourcebuild.ninja_steps(output),  # pip -v sends the build's output to stderr
    }
    return Wheel(wheel, build=build)
