"""What a ``--build pypi`` baseline measured is pinned, on a real CinderX host.

The driver venv starts with another cinderx in it, of a higher version than any release, as a
source build leaves it (the fixture target's wheel, numbered 2026.12.7.0). ``--build pypi`` must
replace it with the newest release's wheel in both venvs and prove it: run.json names the version
pip installed, the sha256 pip checked against the index (the same file fetched again by pip on the
host hashes the same), the tool versions as they were when the benchmark ran (pyperformance
installs its own pyperf pin into its venv during the run; the pyperf JSON says which pyperf ran),
and which cinderx the runtime gate imported. ``verify`` would reinstall exactly that version.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from armjit.flows.verify import baseline_settings
from armjit.seams.records import RunRecord

ROOT = Path(__file__).resolve().parents[2]
GATE_FILE = Path(__file__).resolve().parent / "fixture_gate" / "test_arm_runtime.py"
FIXTURE_TARGET = ROOT / "tests" / "fixture_target"
SOURCE_BUILD = "2026.12.7.0"
DRIVER_VENV = "/root/venv-pins"
pytestmark = pytest.mark.e2e


def on_host(host: Any, command: str) -> str:
    done = subprocess.run(host.ssh_argv(command), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
    return done.stdout


def source_build_wheel(tmp_path: Path) -> Path:
    """The fixture target built as cinderx 2026.12.7.0: what a source build leaves installed."""
    source = tmp_path / "source-build"
    shutil.copytree(FIXTURE_TARGET, source, ignore=shutil.ignore_patterns("__pycache__", "dist", "build"))
    project = source / "pyproject.toml"
    project.write_text(re.sub(r'^version = ".*"$', f'version = "{SOURCE_BUILD}"', project.read_text(), flags=re.M))
    env = {**os.environ, "PIP_NO_INDEX": "1"}
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(source)]
    subprocess.run(pip, env=env, check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("cinderx-*.whl")
    return wheel


def test_pypi_baseline_replaces_a_source_build_and_pins_what_ran(cinderx_host: Any, tmp_path: Path) -> None:
    wheel = source_build_wheel(tmp_path)
    shutil.copy(wheel, cinderx_host.root / "tmp" / wheel.name)
    on_host(
        cinderx_host,
        f"python3.14 -m venv {DRIVER_VENV} && {DRIVER_VENV}/bin/python -m pip install -q --no-deps /tmp/{wheel.name}",
    )
    argv = [
        sys.executable, "-m", "invoke", "-r", str(ROOT), "baseline",
        "--host", f"root@127.0.0.1:{cinderx_host.port}", "--key", str(cinderx_host.key_path),
        "--known-hosts", str(cinderx_host.known_hosts_path), "--build", "pypi", "--bench", "richards",
        "--modes", "nojit", "--processes", "1", "--values", "1", "--loops", "1",
        "--driver-venv", DRIVER_VENV, "--remote-python", "/usr/bin/python3.14", "--runtime-test", str(GATE_FILE),
        "--reports", str(tmp_path / "reports"), "--json",
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=1200, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    (run,) = list((tmp_path / "reports" / "runs").iterdir())
    record = json.loads((run / "run.json").read_text())
    steps = {s["name"]: s for s in record["steps"]}
    assert steps["pins"]["status"] == steps["pins-after-bench"]["status"] == "ok"
    pins = record["pins"]
    ran = pins["cinderx"]
    version = ran["version"]
    assert re.fullmatch(r"\d{4}\.\d+\.\d+\.\d+", version) and version != SOURCE_BUILD, ran
    assert ran["source"] == "pypi" and ran["file"].startswith(f"cinderx-{version}-cp314-")
    assert pins["driver"]["cinderx"] == pins["bench"]["cinderx"] == version
    assert {report["sha256"] for report in pins["pip_reports"].values()} == {ran["sha256"]}
    # The index's file, fetched again by pip on the host, hashes to what the run pinned.
    fetched = on_host(
        cinderx_host,
        f"rm -rf /tmp/again && {DRIVER_VENV}/bin/python -m pip download -q --no-deps --only-binary :all: "
        f"-d /tmp/again cinderx=={version} && sha256sum /tmp/again/*.whl",
    )
    assert fetched.split()[0] == ran["sha256"] and fetched.split()[1].endswith("/" + ran["file"])
    # The pins are the venvs as the benchmark found them: the pyperf that wrote the JSON.
    assert pins["taken"] == "after the benchmarks"
    suite = json.loads((run / record["modes"]["nojit"]["pyperf_json"]).read_text())
    metadata = [suite.get("metadata") or {}, *((b.get("metadata") or {}) for b in suite["benchmarks"])]
    (ran_pyperf,) = {m["perf_version"] for m in metadata if "perf_version" in m}
    assert pins["bench"]["pyperf"] == ran_pyperf, pins["changed_by_the_benchmarks"]
    assert "pip_reports" in pins and "problems" not in pins
    # The gate ran the shipped file against the installed wheel, and says so.
    assert record["gate"].endswith("/test_arm_runtime.py")
    seen = record["gate_cinderx"]
    assert seen["version"] == version and not seen["shadowed"]
    assert seen["wheel"].endswith(f"/cinderx-{version}.dist-info")
    assert baseline_settings(RunRecord.from_json(record)).build == f"pypi=={version}"
