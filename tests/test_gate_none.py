"""The runtime test gate never passes silently: a build with no gate file says ``gate: none``.

Real baselines on this machine (``--host local``) of the fixture CinderX checkout, stopped after
the smokes: one whose checkout has no runtime test file, one with CinderX's ``test_oss_quick.py``
(the default gate when present) beside the ARM team's ``test_arm_runtime.py``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import run_invoke

pytestmark = pytest.mark.slow

OSS_QUICK = "cinderx/PythonLib/test_cinderx/test_oss_quick.py"
ARM_RUNTIME = "cinderx/PythonLib/test_cinderx/test_arm_runtime.py"


def baseline(repo: Any, tmp_path: Path, name: str) -> tuple[Any, dict[str, Any]]:
    where = tmp_path / name
    result = run_invoke(
        "baseline", "--host", "local", "--repo", str(repo.path), "--branch", repo.work_branch,
        "--no-sync-upstream", "--reports", str(where / "reports"), "--remote-workdir", str(where / "host" / "work"),
        "--remote-incoming", str(where / "host" / "incoming"), "--remote-python", sys.executable,
        "--driver-venv", str(tmp_path / "venv-driver"), "--bench-script", "bench/bm_fixture.py", "--skip-pyperf",
        "--json", timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    return result, json.loads((Path(summary["run_dir"]) / "run.json").read_text())


def test_no_gate_file_is_a_warning_everywhere(target_repo: Any, tmp_path: Path) -> None:
    target_repo.git("rm", "-q", ARM_RUNTIME)
    target_repo.git("commit", "-q", "-m", "a checkout without runtime tests")
    result, record = baseline(target_repo, tmp_path, "none")
    steps = {s["name"]: s for s in record["steps"]}
    assert record["status"] == "ok" and steps["runtime-tests"]["status"] == "skipped"
    assert record["gate"] == "none"
    (warning,) = record["warnings"]
    assert warning.startswith("gate: none: no test_oss_quick.py or test_arm_runtime.py (not on the host: ")
    assert warning.endswith("the build was not tested: name a file with --runtime-test")
    assert f"warning: {warning}" in result.stderr  # said as it happened
    findings = (target_repo.path / "findings.md").read_text()
    assert f"- **Warning**: {warning.split(' (not on the host')[0]}" in findings


def test_test_oss_quick_is_the_default_gate_when_present(target_repo: Any, tmp_path: Path) -> None:
    quick = (target_repo.path / ARM_RUNTIME).read_text().replace("class ArmRuntimeTests", "class OssQuick")
    target_repo.commit_file(OSS_QUICK, quick, "CinderX's quick check of an OSS build")
    _, record = baseline(target_repo, tmp_path, "quick")
    assert record["gate"].endswith("/" + OSS_QUICK) and "warnings" not in record
    assert [t["id"].split(".")[0] for t in record["tests"]] == ["test_oss_quick"] * len(record["tests"])
    seen = record["gate_cinderx"]
    assert seen["imported"] and not seen["shadowed"] and seen["version"]


def test_the_run_pins_the_wheel_it_built_and_the_tools(target_repo: Any, tmp_path: Path) -> None:
    _, record = baseline(target_repo, tmp_path, "pins")
    pinned = record["pins"]
    wheel = Path(record["remote"]["wheel"])  # --host local: the built wheel is on this machine
    assert pinned["wheel"] == {"path": str(wheel), "sha256": sha256(wheel), "source": "source"}
    assert pinned["cinderx"]["version"] == wheel.name.split("-")[1]
    assert pinned["cinderx"]["source"] == "source build" and "problems" not in pinned
    assert pinned["driver"]["cinderx"] == pinned["bench"]["cinderx"] == pinned["cinderx"]["version"]
    ran = f"cinderx ran: {pinned['cinderx']['version']} (source build, wheel sha256 {sha256(wheel)})"
    assert f"- {ran}" in (target_repo.path / "findings.md").read_text()  # and in the console summary
    assert pinned["build"]["cmake_build_type"] == "RelWithDebInfo (setup.py default)"
    assert pinned["build"]["env"] == {"CMAKE_BUILD_PARALLEL_LEVEL": "1"}
    assert pinned["driver"]["pyperf"] and pinned["driver"]["pytest"]
    assert pinned["driver"]["pyperformance"] is None  # --bench-script: the driver venv has no pyperformance
    assert pinned["bench"]["pyperf"]
    # --bench-script: the pyperf runner, which takes the flags as they are
    assert record["measurement"] == {
        "runner": "pyperf", "option": "", "processes": 4, "values": 3, "warmups": 3, "loops": "calibrated",
    }  # fmt: skip


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
