"""Pinning what a run measured: the installed cinderx (version, wheel sha256, where it came from),
the build flags, and the versions of pyperf, pyperformance and pytest in the venvs that measured
and tested.

``pin_run`` checks the pin before the benchmarks: a wrong or unproven cinderx is a failed step.
``repin_run`` takes the venvs again after the benchmarks, which change them (``pyperformance
run`` installs its own pyperf pin into its venv), so that run.json holds the venvs as they were
when they measured, and names what changed.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from armjit.cinderx.pins import build_pins, judge_cinderx, parse_pins, pins_command, pip_report_wheel, tool_changes
from armjit.flows.pipeline import StepContext, StepFailed
from armjit.flows.steps.target import Target

__all__ = ["Pins", "install_report", "pin_run", "repin_run"]

q = shlex.quote
DRIVER_TOOLS = ("pyperf", "pyperformance", "pytest")
BENCH_TOOLS = ("pyperf",)


@dataclass(frozen=True)
class Pins:
    data: dict[str, Any]
    detail: str
    failure: StepFailed | None = None


def install_report(ctx: StepContext, target: Target, venv: str) -> str:
    """Where ``pip install --report`` of ``--build pypi`` writes what it installed into ``venv``
    ("driver" or "bench"): the host's run directory of this run."""
    return f"{ctx.host.expand(target.remote_run).rstrip('/')}/pip-install-{venv}.json"


def _probe(ctx: StepContext, python: str, wheel: str | None, names: tuple[str, ...]) -> dict[str, Any]:
    return parse_pins(ctx.run(pins_command(python, wheel, names), check=False).stdout)


def _versions(found: dict[str, Any], names: tuple[str, ...]) -> dict[str, str | None]:
    return {name: (found.get(name) or {}).get("version") for name in names}


def _venvs(ctx: StepContext, driver_python: str, bench_python: str, wheel: str | None) -> dict[str, dict[str, Any]]:
    """The probe of each venv: "driver", and "bench" when the benchmarks run in another one."""
    found = {"driver": _probe(ctx, driver_python, wheel, ("cinderx", *DRIVER_TOOLS))}
    if bench_python and bench_python != driver_python:
        found["bench"] = _probe(ctx, bench_python, None, ("cinderx", *BENCH_TOOLS))
    return found


def _tools(found: dict[str, dict[str, Any]]) -> dict[str, dict[str, str | None]]:
    driver = _versions(found["driver"], ("cinderx", *DRIVER_TOOLS))
    return {"driver": driver, "bench": _versions(found.get("bench", found["driver"]), ("cinderx", *BENCH_TOOLS))}


def pin_run(ctx: StepContext, target: Target, driver_python: str, bench_python: str, wheel: str | None) -> Pins:
    """Read back what is installed and check it is the build asked for: ``--build pypi[==V]``,
    the version and the wheel pip reported installing in each venv (its sha256 is the index's);
    ``--build source``, the version of the wheel built (hashed here). A mismatch fails the step."""
    s = target.settings
    found = _venvs(ctx, driver_python, bench_python, wheel)
    reports: dict[str, dict[str, str] | None] = {}
    if s.build.startswith("pypi"):
        for venv in found:
            text = ctx.run(f"cat {q(install_report(ctx, target, venv))}", check=False).stdout
            reports[venv] = pip_report_wheel(text)
    installed = {venv: (probe.get("cinderx") or {}).get("version") for venv, probe in found.items()}
    hashed = found["driver"].get("wheel")
    ran, problems = judge_cinderx(s.build, installed, reports, hashed)
    location = (found["driver"].get("cinderx") or {}).get("location")
    wheel_pin = None
    if ran and ran.get("sha256"):
        if hashed:
            wheel_pin = {**hashed, "source": s.build}
        else:
            wheel_pin = {k: ran[k] for k in ("file", "url", "sha256")} | {"source": s.build}
    data: dict[str, Any] = {
        "cinderx": {**ran, "location": location} if ran else found["driver"].get("cinderx"),
        "wheel": wheel_pin,
        "build": build_pins(s.build, s.parallel, s.build_env),
        **_tools(found),
        "taken": "before the benchmarks",
    }
    if reports:
        data["pip_reports"] = reports
    if problems:
        data["problems"] = problems
    detail = _detail(data)
    failure = (
        StepFailed(f"the installed cinderx is not the build asked for: {'; '.join(problems)}") if problems else None
    )
    return Pins(data, detail, failure)


def repin_run(ctx: StepContext, target: Target, driver_python: str, bench_python: str, before: dict[str, Any]) -> Pins:
    """Take the venvs again after the benchmarks and keep them as they are now, with what changed.
    A cinderx that changed under the benchmarks fails the step: the pin no longer says what ran."""
    now = _tools(_venvs(ctx, driver_python, bench_python, None))
    changes = tool_changes({k: before.get(k) or {} for k in ("driver", "bench")}, now)
    data = {**before, **now, "taken": "after the benchmarks", "changed_by_the_benchmarks": changes}
    moved = [line for line in changes if ": cinderx " in line]
    failure = StepFailed(f"cinderx changed during the benchmarks: {'; '.join(moved)}") if moved else None
    return Pins(data, "; ".join(changes) or "unchanged since the pins step", failure)


def _detail(data: dict[str, Any]) -> str:
    ran = data.get("cinderx") or {}
    sha = ran.get("sha256") or ""
    detail = f"cinderx {ran.get('version') or 'none'}" + (f" sha256 {sha[:12]}" if sha else "")
    detail += f" ({ran['source']})" if ran.get("source") else ""
    return detail + f"; pyperf {data['bench']['pyperf']}, pyperformance {data['driver']['pyperformance']}"
