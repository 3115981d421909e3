"""What was measured is pinned, and no measurement flag is ignored by a runner.

The flags against pyperformance's real CLI (the installed package's ``run --help`` has the
presets and no --processes/--values/--loops), the refusal through the real CLI, and the pins
probe run by real interpreters on a real wheel file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURE_TARGET
from invoke_cli import run_invoke

from armjit.cinderx import commands, pins, runners
from armjit.cinderx.modes import jit_mode
from armjit.errors import GateFailed, UsageError
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


SHA = "a" * 64
PYPI_REPORT = {
    "version": "1",
    "install": [
        {"metadata": {"name": "pyperf", "version": "2.10.0"}, "download_info": {"url": "https://x/pyperf.whl"}},
        {
            "metadata": {"name": "CinderX", "version": "2026.11.2.0"},
            "download_info": {
                "url": "https://files.example/cinderx-2026.11.2.0-cp314-cp314-manylinux_2_28_aarch64.whl",
                "archive_info": {"hash": f"sha256={SHA}", "hashes": {"sha256": SHA}},
            },
        },
    ],
}


def test_pip_report_names_the_installed_wheel_and_its_hash() -> None:
    found = pins.pip_report_wheel(json.dumps(PYPI_REPORT))
    assert found == {
        "version": "2026.11.2.0", "file": "cinderx-2026.11.2.0-cp314-cp314-manylinux_2_28_aarch64.whl",
        "url": PYPI_REPORT["install"][1]["download_info"]["url"], "sha256": SHA,  # type: ignore[index]
    }  # fmt: skip
    older = json.loads(json.dumps(PYPI_REPORT))
    del older["install"][1]["download_info"]["archive_info"]["hashes"]  # pip before 23: "hash" only
    assert pins.pip_report_wheel(json.dumps(older)) == found
    assert pins.pip_report_wheel("") is None and pins.pip_report_wheel("[1]") is None
    assert pins.pip_report_wheel(json.dumps({"install": [PYPI_REPORT["install"][0], 3]})) is None  # type: ignore[index]


def test_versions_compare_as_pep_440_releases() -> None:
    assert pins.same_version("2026.11.2", "2026.11.2.0") and pins.same_version("v1.0", "1")
    assert not pins.same_version("2026.11.2.0", "2026.11.20") and not pins.same_version("1.0rc1", "1.0")


def test_a_pin_is_judged_per_venv() -> None:
    report = {"version": "2026.11.2.0", "file": "cinderx-2026.11.2.0-x.whl", "url": "u", "sha256": SHA}
    both = {"driver": "2026.11.2.0", "bench": "2026.11.2.0"}
    ran, problems = pins.judge_cinderx("pypi", both, {"driver": report, "bench": report}, None)
    assert problems == [] and ran == {"version": "2026.11.2.0", "sha256": SHA, "source": "pypi", "file": report["file"],
                                      "url": "u"}  # fmt: skip
    # The case: pip left a source build of a newer version in place.
    stale = {"driver": "2026.12.7.0", "bench": "2026.12.7.0"}
    _, problems = pins.judge_cinderx("pypi==2026.11.2", stale, {"driver": report, "bench": report}, None)
    assert problems == [
        "driver venv: cinderx 2026.12.7.0 is installed, not the 2026.11.2.0 pip installed",
        "bench venv: cinderx 2026.12.7.0 is installed, not the 2026.11.2.0 pip installed",
    ]
    other = {**report, "file": "cinderx-2026.11.2.0-y.whl", "sha256": "b" * 64}
    _, problems = pins.judge_cinderx("pypi==2026.11.1.0", both, {"driver": report, "bench": other}, None)
    assert problems == [
        "driver venv: pip installed cinderx 2026.11.2.0, not the 2026.11.1.0 asked for",
        "bench venv: pip installed cinderx 2026.11.2.0, not the 2026.11.1.0 asked for",
        "bench venv: pip installed another wheel (cinderx-2026.11.2.0-y.whl) than in the driver venv",
    ]
    ran, problems = pins.judge_cinderx("pypi", both, {"driver": None, "bench": report}, None)
    assert problems == ["driver venv: pip reported no cinderx wheel installed (pip install --report)"]
    assert ran is not None and ran["sha256"] == SHA
    built = {"path": "/w/dist/cinderx-2026.12.7.0-cp314-cp314-linux_aarch64.whl", "sha256": SHA}
    ran, problems = pins.judge_cinderx("source", {"driver": "2026.12.7.0", "bench": "2026.11.2.0"}, {}, built)
    assert ran == {"version": "2026.12.7.0", "sha256": SHA, "source": "source build",
                   "file": "cinderx-2026.12.7.0-cp314-cp314-linux_aarch64.whl"}  # fmt: skip
    assert problems == ["bench venv: cinderx 2026.11.2.0 is installed, not the 2026.12.7.0 built (" + ran["file"] + ")"]
    ran, problems = pins.judge_cinderx("source", {"driver": "2026.12.7.0"}, {}, None)  # --bench-only
    assert ran is not None and ran["source"] == "installed before (--bench-only)" and problems == []
    assert pins.judge_cinderx("none", {"driver": None}, {}, None) == (None, [])


def test_what_the_benchmarks_changed_in_the_venvs() -> None:
    before = {"driver": {"cinderx": "1", "pyperf": "2.11.0"}, "bench": {"cinderx": "1", "pyperf": "2.11.0"}}
    after = {"driver": {"cinderx": "1", "pyperf": "2.11.0"}, "bench": {"cinderx": "1", "pyperf": "2.10.0"}}
    assert pins.tool_changes(before, after) == ["bench venv: pyperf 2.11.0 -> 2.10.0"]
    assert pins.tool_changes(before, before) == []
    assert pins.tool_changes({}, {"bench": {"cinderx": None}}) == []
    assert pins.tool_changes(before, {"bench": {"cinderx": None}}) == ["bench venv: cinderx 1 -> (none)"]


def test_verify_reinstalls_the_pypi_version_the_baseline_measured() -> None:
    settings = {"build": "pypi", "bench": ["richards"]}
    measured = RunRecord("r1", "baseline", settings=settings, details={"pins": {"cinderx": {"version": "2026.11.2.0"}}})
    assert baseline_settings(measured).build == "pypi==2026.11.2.0"
    old = RunRecord("r0", "baseline", settings=settings)  # written before pins: as it was
    assert baseline_settings(old).build == "pypi"
    exact = RunRecord("r2", "baseline", settings={**settings, "build": "pypi==2026.1.0"}, details=measured.details)
    assert baseline_settings(exact).build == "pypi==2026.1.0"
    assert json.loads(json.dumps(measured.to_json()))["pins"]["cinderx"]["version"] == "2026.11.2.0"


def ignore(_: object) -> None:
    """A step's result the test reads from the step's return value instead of the run record."""


def fixture_wheel(root: Path, version: str, out: Path) -> Path:
    """The fixture target built by real pip as cinderx ``version`` (each build has its own BUILD_ID)."""
    source = root / f"src-{version}"
    shutil.copytree(FIXTURE_TARGET, source, ignore=shutil.ignore_patterns("__pycache__", "dist", "build"))
    project = source / "pyproject.toml"
    project.write_text(re.sub(r'^version = ".*"$', f'version = "{version}"', project.read_text(), flags=re.M))
    env = {**os.environ, "PIP_NO_INDEX": "1"}
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)]
    subprocess.run(pip, env=env, check=True, capture_output=True)
    (wheel,) = out.glob(f"cinderx-{version}-*.whl")
    return wheel


def tool_venv(path: Path) -> str:
    """A real venv with pip whose interpreter also sees this suite's pyperf, pyperformance, pytest."""
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)  # with pip (ensurepip, offline)
    python = str(path / "bin" / "python")
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "_test_tools.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def build_info(python: str) -> str:
    """The BUILD_ID of the cinderx installed for ``python``: which build of a version it is."""
    code = "import importlib.metadata as m; print(m.distribution('cinderx').locate_file('cinderx/_build_info.py'))"
    where = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    return re.search(r"BUILD_ID = '(\w+)'", Path(where).read_text()).group(1)  # type: ignore[union-attr]


@pytest.mark.slow
def test_pypi_build_replaces_a_source_build_with_the_release_and_proves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source build of a newer version sits in both venvs, as after ``--build source``; the
    "index" is a local directory holding two releases (pip with no index but these find-links).
    The real driver-venv, bench-venv and pins steps run against real venvs on this machine."""
    import datetime as dt
    import io
    from dataclasses import replace

    from armjit.config import Settings
    from armjit.flows import steps
    from armjit.flows.pipeline import Pipeline
    from armjit.render.progress import Progress
    from armjit.seams.hosts import LocalHost
    from armjit.seams.store import RunStore

    links, built = tmp_path / "links", tmp_path / "built"
    older, release = fixture_wheel(tmp_path, "2026.11.1.0", links), fixture_wheel(tmp_path, "2026.11.2.0", links)
    source_build = fixture_wheel(tmp_path, "2026.12.7.0", built)
    workdir = tmp_path / "host" / "work"
    driver = tool_venv(tmp_path / "host" / "venv-driver")
    bench = tool_venv(workdir / "venv" / "armjit-bench")  # the pyperf runner's venv, kept by the step
    for python in (driver, bench):
        installed = [python, "-m", "pip", "install", "-q", "--no-deps", str(source_build)]
        subprocess.run(installed, env={**os.environ, "PIP_NO_INDEX": "1"}, check=True, capture_output=True)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))

    settings = Settings(
        build="pypi", driver_venv=str(Path(driver).parents[1]), remote_workdir=str(workdir),
        remote_incoming=str(tmp_path / "host" / "incoming"), remote_python=sys.executable,
        bench_script=str(FIXTURE_TARGET / "bench" / "bm_fixture.py"),
    )  # fmt: skip
    run, record = RunStore(tmp_path / "runs").new_run("baseline", dt.datetime.now(dt.UTC), "pins")
    pipeline = Pipeline(run, record, Progress(io.StringIO()), step_timeout=300)
    host = LocalHost()
    remote_run = tmp_path / "host" / "incoming" / run.run_id
    remote_run.mkdir(parents=True)

    def pin(build: str) -> tuple[dict[str, Any], str]:
        target = steps.Target(replace(settings, build=build), host, run, str(remote_run), "pyperf", ("nojit",))
        steps.upload_resources(target, ("armjit_jit_hook.py", "armjit_jit_hook.pth"))
        found = pipeline.result("driver-venv", host, lambda ctx: steps.driver_venv(ctx, target, None), ignore)
        assert found is not None and found.python == driver, record.steps
        venv = pipeline.result("bench-venv", host, lambda ctx: steps.bench_venv(ctx, target, driver, None), ignore)
        assert venv is not None and venv.python == bench, record.steps
        pins = pipeline.result("pins", host, lambda ctx: steps.pin_run(ctx, target, driver, bench, None), ignore)
        assert pins is not None, record.steps
        return pins.data, build_info(bench)

    # --build pypi: the newest release replaces the newer-numbered source build in both venvs.
    pinned, build_id = pin("pypi")
    with zipfile.ZipFile(release) as archive:
        assert build_id in archive.read("cinderx/_build_info.py").decode()
    ran = pinned["cinderx"]
    assert ran["version"] == "2026.11.2.0" and ran["source"] == "pypi" and ran["file"] == release.name
    assert ran["sha256"] == hashlib.sha256(release.read_bytes()).hexdigest()  # what pip checked and reported
    assert pinned["driver"]["cinderx"] == pinned["bench"]["cinderx"] == "2026.11.2.0"
    assert pinned["wheel"] == {"file": release.name, "url": release.as_uri(), "sha256": ran["sha256"], "source": "pypi"}
    assert set(pinned["pip_reports"]) == {"driver", "bench"} and "problems" not in pinned
    again = RunRecord("r", "baseline", settings={"build": "pypi", "bench": ["richards"]}, details={"pins": pinned})
    assert baseline_settings(again).build == "pypi==2026.11.2.0"

    # --build pypi==V: exactly that release, though a newer one is on the index.
    pinned, build_id = pin("pypi==2026.11.1.0")
    with zipfile.ZipFile(older) as archive:
        assert build_id in archive.read("cinderx/_build_info.py").decode()
    assert pinned["cinderx"]["version"] == pinned["bench"]["cinderx"] == "2026.11.1.0"
    assert pinned["cinderx"]["sha256"] == hashlib.sha256(older.read_bytes()).hexdigest()

    # Something changes the bench venv after the install: the benchmarks would measure another
    # cinderx. The re-pin after the benchmarks names it, and the pins step fails on it.
    subprocess.run([bench, "-m", "pip", "install", "-q", "--no-deps", str(source_build)], check=True)
    target = steps.Target(replace(settings, build="pypi==2026.11.1.0"), host, run, str(remote_run), "pyperf", ())
    with pytest.raises(GateFailed) as after:
        pipeline.result(
            "pins-after-bench", host, lambda ctx: steps.repin_run(ctx, target, driver, bench, pinned), ignore
        )
    assert "cinderx changed during the benchmarks: bench venv: cinderx 2026.11.1.0 -> 2026.12.7.0" in str(after.value)
    with pytest.raises(GateFailed) as failed:
        pipeline.result("pins", host, lambda ctx: steps.pin_run(ctx, target, driver, bench, None), ignore)
    assert "bench venv: cinderx 2026.12.7.0 is installed, not the 2026.11.1.0 pip installed" in str(failed.value)
    host.close()
    assert [s.status for s in record.steps or [] if s.name.startswith("pins")] == ["ok", "ok", "failed", "failed"]
