"""Pinning what a run measured: the installed cinderx (version, wheel sha256), the build flags,
and the versions of pyperf, pyperformance and pytest in the venvs that measured and tested."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from armjit.cinderx import commands as cinderx
from armjit.cinderx.pins import build_pins, parse_pins, pins_command
from armjit.flows.pipeline import StepContext, StepFailed
from armjit.flows.steps.target import Target

__all__ = ["Pins", "pin_run"]

q = shlex.quote


@dataclass(frozen=True)
class Pins:
    data: dict[str, Any]
    detail: str
    failure: StepFailed | None = None


def _versions(found: dict[str, Any], names: tuple[str, ...]) -> dict[str, str | None]:
    return {name: (found.get(name) or {}).get("version") for name in names}


def pin_run(ctx: StepContext, target: Target, driver_python: str, bench_python: str, wheel: str | None) -> Pins:
    """Read back what is installed. ``--build pypi`` has no wheel of its own: the wheel pip
    installs for the resolved version is fetched again (pip's cache) to hash it."""
    s = target.settings
    tools = ("pyperf", "pyperformance", "pytest")
    driver = parse_pins(ctx.run(pins_command(driver_python, wheel, ("cinderx", *tools)), check=False).stdout)
    bench = driver
    if bench_python and bench_python != driver_python:
        bench = parse_pins(ctx.run(pins_command(bench_python, None, ("cinderx", "pyperf")), check=False).stdout)
    installed = driver.get("cinderx")
    hashed = driver.get("wheel")
    note = ""
    if hashed is None and installed and s.build.startswith("pypi"):
        where = f"{ctx.host.expand(target.remote_run)}/pinned-wheel"
        spec = f"cinderx=={installed['version']}"
        vpy = q(cinderx.venv_python(ctx.host.expand(s.driver_venv)))
        got = ctx.run(
            f"{vpy} -m pip download -q --no-deps --only-binary :all: -d {q(where)} {q(spec)} && ls {q(where)}/*.whl",
            check=False,
            what="pinned wheel",
        )
        files = [ln for ln in got.stdout.splitlines() if ln.endswith(".whl")]
        if got.ok and len(files) == 1:
            hashed = parse_pins(ctx.run(pins_command(driver_python, files[0], ()), check=False).stdout).get("wheel")
        else:
            note = f"the wheel of {spec} could not be fetched again to hash it (exit {got.exit_code})"
    data: dict[str, Any] = {
        "cinderx": installed,
        "wheel": {**hashed, "source": s.build} if hashed else None,
        "build": build_pins(s.build, s.parallel, s.build_env),
        "driver": _versions(driver, tools),
        "bench": _versions(bench, ("pyperf",)),
    }
    if note:
        data["note"] = note
    version = (installed or {}).get("version") or "none"
    sha = (hashed or {}).get("sha256", "")
    detail = f"cinderx {version}" + (f" sha256 {sha[:12]}" if sha else "")
    detail += f"; pyperf {data['bench']['pyperf']}, pyperformance {data['driver']['pyperformance']}"
    return Pins(data, detail)
