"""Build and install: the wheel (``wheel.py``), the driver venv, and the gates on it (runtime tests, JIT smoke)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armjit.cinderx import commands as cinderx
from armjit.cinderx import targeted, testgate
from armjit.flows.pipeline import StepContext, StepFailed, StepSkipped
from armjit.flows.steps.pins import install_report
from armjit.flows.steps.target import Target, pypi_spec
from armjit.flows.steps.wheel import Wheel, build_wheel

__all__ = ["TestRun", "Venv", "Wheel", "build_wheel", "driver_venv", "jit_smoke", "runtime_tests"]

q = shlex.quote


@dataclass(frozen=True)
class Venv:
    path: str
    python: str
    failure: StepFailed | None = None

    @property
    def detail(self) -> str:
        return self.path


def driver_venv(ctx: StepContext, target: Target, wheel: str | None) -> Venv:
    """The venv that drives the benchmarks and runs the tests, with the build (``wheel``) in it."""
    s = target.settings
    venv = ctx.host.expand(s.driver_venv)
    ctx.run(cinderx.ensure_venv_command(s.remote_python, venv), what="driver venv create", detach=True)
    # pytest: red/green and CinderX's own tests are pytest-style as often as unittest.
    tools: tuple[str, ...] = ("pyperf", "pytest")
    if target.runner == "pyperformance" or not s.bench_script:
        tools = ("pyperf", "pyperformance", "pytest")
    report = install_report(ctx, target, "driver")
    command = cinderx.install_command(venv, wheel=wheel, pypi_spec=pypi_spec(s), tools=tools, report=report)
    ctx.run(command, what="driver venv install", detach=True)
    return Venv(venv, cinderx.venv_python(venv))


@dataclass(frozen=True)
class TestRun:
    """The runtime test gate's outcome per test (``{"id", "status", "detail"}``), the file that
    gated, and which cinderx its tests imported (path, version, whether it shadowed the wheel)."""

    __test__ = False  # not a pytest class

    tests: list[dict[str, str]]
    detail: str
    failure: StepFailed | None = None
    gate_file: str = ""
    cinderx: dict[str, Any] | None = None


def _gate_file(ctx: StepContext, target: Target) -> str:
    """The host path of the runtime test file; StepSkipped saying ``gate: none`` when there is none."""
    s = target.settings
    looked = []
    for candidate in testgate.gate_candidates(s.runtime_test):
        local = Path(candidate).expanduser()
        if not s.repo and local.is_absolute() and local.is_file() and not ctx.host.is_local:
            # No source tree on the host (--build pypi|none): ship the given test file to the run dir.
            shipped = f"{target.remote_run}/{local.name}"
            ctx.host.put(local, shipped)
            return shipped
        test_file = candidate
        if not test_file.startswith("/"):
            if not s.repo:
                why = "no target repo deployed to hold it (give an absolute --runtime-test)"
                raise StepSkipped(testgate.no_gate_warning(s.runtime_test, why))
            test_file = f"{s.remote_workdir.rstrip('/')}/{test_file}"
        if ctx.run(f"test -f {q(ctx.host.expand(test_file))}", check=False).ok:
            return test_file
        looked.append(test_file)
    raise StepSkipped(testgate.no_gate_warning(s.runtime_test, f"not on the host: {', '.join(looked)}"))


def runtime_tests(ctx: StepContext, target: Target, driver_python: str) -> TestRun:
    """CinderX's runtime tests under the driver venv, minus ``--runtime-skip-tests``."""
    s = target.settings
    test_file = _gate_file(ctx, target)
    tokens = ",".join(s.runtime_skip_tests)
    result = ctx.run(
        f"{q(driver_python)} {q(target.remote_run)}/unittest_gate.py {q(ctx.host.expand(test_file))} {q(tokens)}",
        cwd=s.remote_workdir,
        check=False,
        detach=True,
    )
    outcomes = cinderx.parse_test_gate(result.stdout)
    seen = targeted.parse_run(result.stdout, result.exit_code).cinderx
    tests = [{"id": o.test_id, "status": o.status, "detail": o.detail[-500:]} for o in outcomes]
    counts = {k: sum(1 for o in outcomes if o.status == k) for k in ("pass", "fail", "error", "skip")}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    failure = None
    if result.exit_code == 4:
        cause = next((ln for ln in result.stdout.splitlines() if ln.startswith("armjit-gate-error:")), "")
        failure = StepFailed(cause.removeprefix("armjit-gate-error:").strip() or f"cannot load {test_file}", result)
    elif result.exit_code == 3 or not outcomes:
        failure = StepFailed(f"no tests collected from {test_file}", result)
    elif not result.ok:
        failed = [o.test_id for o in outcomes if o.status in ("fail", "error")]
        failure = StepFailed(f"runtime tests failed: {', '.join(failed) or 'see log'} ({summary})", result)
    return TestRun(tests, summary, failure, test_file, seen)


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
