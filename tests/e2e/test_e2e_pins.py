"""What a ``--build pypi`` baseline measured is pinned, on a real CinderX host.

The released wheel is installed from PyPI without a version; run.json must name the version pip
resolved, the sha256 of that wheel, the tool versions, and which cinderx the runtime gate
imported; ``verify`` would reinstall exactly that version. Stops after the smokes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from armjit.flows.verify import baseline_settings
from armjit.seams.records import RunRecord

ROOT = Path(__file__).resolve().parents[2]
GATE_FILE = Path(__file__).resolve().parent / "fixture_gate" / "test_arm_runtime.py"
pytestmark = pytest.mark.e2e


def test_pypi_baseline_pins_what_it_installed(cinderx_host: Any, tmp_path: Path) -> None:
    argv = [
        sys.executable, "-m", "invoke", "-r", str(ROOT), "baseline",
        "--host", f"root@127.0.0.1:{cinderx_host.port}", "--key", str(cinderx_host.key_path),
        "--known-hosts", str(cinderx_host.known_hosts_path), "--build", "pypi", "--bench", "richards",
        "--remote-python", "/usr/bin/python3.14", "--runtime-test", str(GATE_FILE),
        "--reports", str(tmp_path / "reports"), "--skip-pyperf", "--json",
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    (run,) = list((tmp_path / "reports" / "runs").iterdir())
    record = json.loads((run / "run.json").read_text())
    pins = record["pins"]
    version = pins["cinderx"]["version"]
    assert re.fullmatch(r"\d{4}\.\d+\.\d+\.\d+", version), version
    wheel = pins["wheel"]
    assert re.fullmatch(r"[0-9a-f]{64}", wheel["sha256"]) and wheel["source"] == "pypi"
    assert Path(wheel["path"]).name.startswith(f"cinderx-{version}-cp314-")
    assert pins["driver"]["pyperformance"] and pins["driver"]["pytest"] and pins["bench"]["pyperf"]
    assert record["measurement"]["runner"] == "pyperformance" and record["measurement"]["option"] == "--fast"
    # The gate ran the shipped file against the installed wheel, and says so.
    assert record["gate"].endswith("/test_arm_runtime.py")
    assert record["gate_cinderx"]["version"] == version and not record["gate_cinderx"]["shadowed"]
    assert baseline_settings(RunRecord.from_json(record)).build == f"pypi=={version}"
