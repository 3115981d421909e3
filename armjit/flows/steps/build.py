"""Build and install: the wheel, the driver venv, and the gates on it (runtime tests, JIT smoke)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from armjit.cinderx import commands as cinderx
from armjit.flows.pipeline import StepContext, StepFailed, StepSkipped
from armjit.flows.steps.target import Target, pypi_spec

__all__ = ["TestRun", "Venv", "Wheel", "build_wheel", "driver_venv", "jit_smoke", "runtime_tests"]

q = shlex.quote


@dataclass(frozen=True)
class Wheel:
    path: str
    failure: StepFailed | None = None

    @property
    def detail(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Venv:
    path: str
    python: str
    failure: StepFailed | None = None

    @property
    def detail(self) -> str:
        return self.path


def build_wheel(ctx: StepContext, target: Target) -> Wheel:
    """Build the deployed tree into a wheel, in an outdir of this run (never a stale wheel)."""
    s = target.settings
    env = {"CMAKE_BUILD_PARALLEL_LEVEL": str(s.parallel)}
    env |= dict(item.split("=", 1) for item in s.build_env)
    outdir = f"{s.remote_workdir.rstrip('/')}/dist/armjit-{target.run.run_id}"
    result = ctx.run(
        cinderx.build_wheel_command(s.remote_python, ctx.host.expand(outdir)),
        env=env,
        cwd=s.remote_workdir,
        detach=True,
    )
    wheel = cinderx.parse_wheel_path(result.stdout)
    if not wheel:
        raise StepFailed("the build finished but produced no single wheel", result)
    return Wheel(wheel)


def driver_venv(ctx: StepContext, target: Target, wheel: str | None) -> Venv:
    """The venv that drives the benchmarks and runs the tests, with the build (``wheel``) in it."""
    s = target.settings
    venv = ctx.host.expand(s.driver_venv)
    ctx.run(cinderx.ensure_venv_command(s.remote_python, venv), what="driver venv create", detach=True)
    tools: tuple[str, ...] = ("pyperf",)
    if target.runner == "pyperformance" or not s.bench_script:
        tools = ("pyperf", "pyperformance")
    command = cinderx.install_command(venv, wheel=wheel, pypi_spec=pypi_spec(s), tools=tools)
    ctx.run(command, what="driver venv install", detach=True)
    return Venv(venv, cinderx.venv_python(venv))


@dataclass(frozen=True)
class TestRun:
    """The runtime test gate's outcome per test (``{"id", "status", "detail"}``)."""

    __test__ = False  # not a pytest class

    tests: list[dict[str, str]]
    detail: str
    failure: StepFailed | None = None


def runtime_tests(ctx: StepContext, target: Target, driver_python: str) -> TestRun:
    """CinderX's runtime tests under the driver venv, minus ``--runtime-skip-tests``."""
    s = target.settings
    test_file = s.runtime_test
    local = Path(test_file).expanduser()
    if not s.repo and local.is_absolute() and local.is_file() and not ctx.host.is_local:
        # No source tree on the host (--build pypi|none): ship the given test file to the run dir.
        test_file = f"{target.remote_run}/{local.name}"
        ctx.host.put(local, test_file)
    if not test_file.startswith("/"):
        if not s.repo:
            raise StepSkipped(f"no target repo deployed, so no {test_file} to run (give an absolute --runtime-test)")
        test_file = f"{s.remote_workdir.rstrip('/')}/{test_file}"
    if not ctx.run(f"test -f {q(ctx.host.expand(test_file))}", check=False).ok:
        raise StepSkipped(f"no runtime test file {test_file} on the host")
    tokens = ",".join(s.runtime_skip_tests)
    result = ctx.run(
        f"{q(driver_python)} {q(target.remote_run)}/unittest_gate.py {q(ctx.host.expand(test_file))} {q(tokens)}",
        cwd=s.remote_workdir,
        check=False,
        detach=True,
    )
    outcomes = cinderx.parse_test_gate(result.stdout)
    tests = [{"id": o.test_id, "status": o.status, "detail": o.detail[-500:]} for o in outcomes]
    counts = {k: sum(1 for o in outcomes if o.status == k) for k in ("pass", "fail", "error", "skip")}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    failure = None
    if result.exit_code == 3 or not outcomes:
        failure = StepFailed(f"no tests collected from {test_file}", result)
    elif not result.ok:
        failed = [o.test_id for o in outcomes if o.status in ("fail", "error")]
        failure = StepFailed(f"runtime tests failed: {', '.join(failed) or 'see log'} ({summary})", result)
    return TestRun(tests, summary, failure)


def jit_smoke(ctx: StepContext, target: Target, driver_python: str) -> str:
    """The JIT compiles and runs a function in the driver venv."""
    result = ctx.run(
        f"{q(driver_python)} {q(target.remote_run)}/jit_smoke.py",
        env={"PYTHONJITAUTO": "1000000"},
        check=False,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("jit-effective-")), "")
    if not result.ok or not line.startswith("jit-effective-ok"):
        raise StepFailed(line or "JIT-effective smoke failed", result)
    return line
