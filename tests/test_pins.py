"""What was measured is pinned, and no measurement flag is ignored by a runner.

The flags against pyperformance's real CLI (the installed package's ``run --help`` has the
presets and no --processes/--values/--loops), the refusal through the real CLI, and the pins
probe run by real interpreters on a real wheel file.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import run_invoke

from armjit.cinderx import commands, pins, runners
from armjit.cinderx.modes import jit_mode
from armjit.errors import UsageError
from armjit.flows.verify import baseline_settings
from armjit.seams.records import RunRecord


def shape(runner: str = "pyperformance", explicit: set[str] | None = None, **flags: int) -> runners.Measurement:
    values = {"processes": 4, "values": 3, "warmups": 3, "loops": 0, **flags}
    return runners.measurement(runner, explicit=explicit if explicit is not None else set(flags), **values)


def test_pyperformance_run_has_presets_and_no_shape_flags() -> None:
    helped = subprocess.run(
        [sys.executable, "-m", "pyperformance", "run", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option, *_ in runners.PYPERFORMANCE_PRESETS:
        assert not option or option in helped
    assert "--warmups" in helped
    for absent in ("--processes", "--values", "--loops"):
        assert absent not in helped


def test_each_flag_has_an_effect_or_is_refused() -> None:
    # Nothing set: the old workflow's --fast, recorded as what it means, not as the ignored defaults.
    assert shape() == runners.Measurement("pyperformance", "--fast", 10, 2, 3, 0)
    assert shape(processes=20).option == "" and shape(processes=40).option == "--rigorous"
    assert shape(values=2).option == "--fast" and shape(processes=20, values=3).option == ""
    debug = shape(processes=1, values=1, loops=1)
    assert debug.option == "--debug-single-value" and debug.loops == 1
    for flags, named in (
        ({"processes": 4}, "--processes 4"),
        ({"values": 5}, "--values 5"),
        ({"loops": 7}, "--loops 7"),
    ):
        with pytest.raises(UsageError) as caught:
            shape(**flags)
        message = str(caught.value)
        assert message.startswith(f"{named} with the pyperformance runner") and "--bench-runner pyperf" in message
        assert "\n" not in message
    # The pyperf runner takes every flag as it is.
    assert shape("pyperf", processes=4, values=5, loops=7) == runners.Measurement("pyperf", "", 4, 5, 3, 7)
    mode = jit_mode("nojit", log_dir="/l", jitlist_path="/j", autojit=50, jitlist_filter=True, extra_jitlist=())
    built = commands.bench_command(
        runner="pyperformance", python="py", bench="richards", mode=mode, output="o.json", bench_file=None,
        processes=40, values=3, warmups=2, loops=0, preset="--rigorous",
    )  # fmt: skip
    assert " --rigorous --warmups 2 " in built.command


def test_the_cli_refuses_an_ignored_flag_in_one_line(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    args = ["baseline", "--bench-runner", "pyperformance", "--processes", "4", "--reports", str(reports)]
    result = run_invoke(*args, timeout=120)
    assert result.returncode == 2, result.stderr
    (line,) = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert line.startswith("armjit: --processes 4 with the pyperformance runner: pyperformance run offers only")
    assert not reports.exists()


def test_pins_probe_reads_versions_and_hashes_the_wheel(tmp_path: Path) -> None:
    wheel = tmp_path / "cinderx-2026.11.2.0-cp314-cp314-linux_aarch64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("cinderx/__init__.py", "")
    result = subprocess.run(
        ["sh", "-c", pins.pins_command(sys.executable, str(wheel), ("pyperf", "pyperformance", "no-such-dist"))],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = pins.parse_pins(result.stdout)
    from importlib.metadata import version

    assert found["pyperf"]["version"] == version("pyperf")
    assert found["pyperformance"]["version"] == version("pyperformance")
    assert found["no-such-dist"] is None
    assert found["wheel"] == {"path": str(wheel), "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()}


def test_build_flags_and_type_from_the_environment_armjit_passes() -> None:
    default = pins.build_pins("source", 2, ())
    assert default == {
        "build": "source", "env": {"CMAKE_BUILD_PARALLEL_LEVEL": "2"},
        "cmake_build_type": "RelWithDebInfo (setup.py default)", "reported": None,
    }  # fmt: skip
    chosen = pins.build_pins("source", 1, ("CMAKE_BUILD_TYPE=Release", "ENABLE_DISASSEMBLER=0"))
    assert chosen["cmake_build_type"] == "Release" and chosen["env"]["ENABLE_DISASSEMBLER"] == "0"
    assert pins.build_pins("pypi", 1, ())["cmake_build_type"] is None


def test_verify_reinstalls_the_pypi_version_the_baseline_measured() -> None:
    settings = {"build": "pypi", "bench": ["richards"]}
    measured = RunRecord("r1", "baseline", settings=settings, details={"pins": {"cinderx": {"version": "2026.11.2.0"}}})
    assert baseline_settings(measured).build == "pypi==2026.11.2.0"
    old = RunRecord("r0", "baseline", settings=settings)  # written before pins: as it was
    assert baseline_settings(old).build == "pypi"
    exact = RunRecord("r2", "baseline", settings={**settings, "build": "pypi==2026.1.0"}, details=measured.details)
    assert baseline_settings(exact).build == "pypi==2026.1.0"
    assert json.loads(json.dumps(measured.to_json()))["pins"]["cinderx"]["version"] == "2026.11.2.0"


@pytest.mark.slow
def test_pypi_build_pins_the_resolved_version_and_its_wheel(
    target_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--build pypi`` with no version: the pins step reads the version pip installed and hashes
    the wheel pip serves for it. The "index" is a local directory holding the fixture's cinderx
    wheel (pip with no index but these find-links), and the driver venv is a real venv with pip."""
    import datetime as dt
    import io
    import sysconfig

    from armjit.config import Settings
    from armjit.flows import steps
    from armjit.flows.pipeline import Pipeline
    from armjit.render.progress import Progress
    from armjit.seams.hosts import LocalHost
    from armjit.seams.store import RunStore

    links = tmp_path / "links"
    env = {**os.environ, "PIP_NO_INDEX": "1"}
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(links), str(target_repo.path)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = links.glob("cinderx-*.whl")
    venv = tmp_path / "venv-driver"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # with pip (ensurepip, offline)
    python = str(venv / "bin" / "python")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    installed = subprocess.run(
        [python, "-m", "pip", "install", "-q", "cinderx"], capture_output=True, text=True, check=False
    )
    assert installed.returncode == 0, installed.stderr  # what the driver-venv step runs for --build pypi
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(purelib) / "_test_tools.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # pyperf & co

    settings = Settings(build="pypi", driver_venv=str(venv), remote_incoming=str(tmp_path / "incoming"))
    run, record = RunStore(tmp_path / "runs").new_run("baseline", dt.datetime.now(dt.UTC), "pins")
    pipeline = Pipeline(run, record, Progress(io.StringIO()), step_timeout=300)
    host = LocalHost()
    remote_run = str(tmp_path / "incoming" / run.run_id)
    Path(remote_run).mkdir(parents=True)
    target = steps.Target(settings, host, run, remote_run, "pyperf", ("nojit",))
    found = pipeline.result("pins", host, lambda ctx: steps.pin_run(ctx, target, python, python, None), lambda _: None)
    host.close()
    assert found is not None, record.steps
    pinned = found.data
    assert pinned["cinderx"]["version"] == wheel.name.split("-")[1]  # resolved: --build pypi named none
    assert pinned["wheel"]["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert pinned["wheel"]["source"] == "pypi" and pinned["build"]["cmake_build_type"] is None
    again = RunRecord("r", "baseline", settings={"build": "pypi", "bench": ["richards"]}, details={"pins": pinned})
    assert baseline_settings(again).build == f"pypi=={pinned['cinderx']['version']}"
