"""``invoke baseline --hosts`` on two real CinderX hosts at once (two overlays of the sandbox, each
with its own sshd): the real JIT on both, one fleet record, and the cross-host table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .sandbox import sandbox_host

ROOT = Path(__file__).resolve().parents[2]
GATE_FILE = Path(__file__).resolve().parent / "fixture_gate" / "test_arm_runtime.py"
pytestmark = pytest.mark.e2e


def test_baseline_on_two_cinderx_hosts_in_parallel(cinderx_host: Any, tmp_path: Path) -> None:
    with sandbox_host() as second:
        hosts = {"cx1": cinderx_host, "cx2": second}
        config = tmp_path / "ssh_config"
        config.write_text(
            "".join(
                f"Host {alias}\n    HostName {h.host}\n    Port {h.port}\n    User {h.user}\n"
                f"    IdentityFile {h.key_path}\n    IdentitiesOnly yes\n"
                for alias, h in hosts.items()
            )
        )
        known = tmp_path / "known_hosts"  # both hosts' keys, checked strictly
        known.write_text("".join(h.known_hosts_path.read_text() for h in hosts.values()))
        argv = [
            sys.executable, "-m", "invoke", "-r", str(ROOT), "baseline",
            "--hosts", "cx1,cx2", "--reference", "cx1",
            "--ssh-config", str(config), "--known-hosts", str(known), "--strict-host-keys",
            "--build", "pypi", "--bench", "richards", "--modes", "nojit,jitlist",
            "--bench-runner", "pyperf", "--processes", "3", "--values", "2", "--warmups", "1",
            "--remote-python", "/usr/bin/python3.14", "--runtime-test", str(GATE_FILE),
            "--reports", str(tmp_path / "reports"),
        ]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    (fleet_file,) = (tmp_path / "reports" / "fleets").glob("*/fleet.json")
    fleet = json.loads(fleet_file.read_text())
    assert fleet["status"] == "ok"
    for alias, entry in fleet["hosts"].items():
        run = json.loads((tmp_path / "reports" / "runs" / entry["run_id"] / "run.json").read_text())
        assert run["status"] == "ok" and run["host"]["name"].endswith(f":{hosts[alias].port}")
        assert run["host"]["python"].startswith("3.14") and run["modes"]["jitlist"]["compiles"]["main"] >= 30
    lines = result.stdout.splitlines()
    (jitlist,) = [line for line in lines if line.startswith("richards") and " jitlist " in line]
    assert "(reference)" in jitlist and ", x" in jitlist
    assert any(line.startswith("cx2 ") and "3.14" in line for line in lines)  # the host facts table
