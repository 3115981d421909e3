"""``invoke ab`` and ``invoke verify`` for real: fresh processes, interleaved blocks, verdicts.

The slowdown is a real code change in the target repo (an injected busy loop in the benchmark),
built, deployed and measured side by side; the verdict must call it a regression.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "invoke", "-r", str(ROOT), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)


def test_ab_aa_on_this_machine_stores_the_noise_floor(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = invoke(
        "ab", "--aa", "--blocks", "6", "--values", "2", "--warmups", "1", "--reports", str(reports), "--json"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    (comparison,) = data["comparisons"]
    assert comparison["paired"] is True and comparison["mode"] == "nojit"
    assert comparison["ci"][0] <= comparison["ratio"] <= comparison["ci"][1]
    floor = data["noise_floor"]["richards/nojit"]
    assert floor >= 0.01
    stored = json.loads((reports / "noise.json").read_text())
    assert stored["hosts"]["local"]["richards"]["nojit"]["delta"] == floor
    (run,) = (reports / "runs").glob("*_aa_*")
    manifest = json.loads((run / "run.json").read_text())
    assert len(manifest["samples"]["richards/nojit"]) == 6
    assert manifest["crashes"]["a"]["attempts"]["richards/nojit"] == 6
    assert "Verdict:" in (reports / "findings.md").read_text()


@pytest.mark.ssh
def test_verify_finds_a_real_slowdown_paired(sshd_host: Any, target_repo: Any, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    remote = tmp_path / "remote"
    common = [
        "--host", f"{sshd_host.user}@{sshd_host.host}:{sshd_host.port}",
        "--key", str(sshd_host.key_path), "--known-hosts", str(sshd_host.known_hosts_path),
        "--repo", str(target_repo.path), "--branch", target_repo.work_branch, "--reports", str(reports),
        "--remote-workdir", f"{remote}/work", "--remote-incoming", f"{remote}/in",
        "--remote-python", sys.executable, "--driver-venv", f"{remote}/venv",
        "--bench-script", "bench/bm_fixture.py", "--modes", "nojit",
        "--processes", "2", "--values", "3", "--warmups", "1",
    ]  # fmt: skip
    first = invoke("baseline", *common)
    assert first.returncode == 0, first.stderr[-3000:]
    bench = target_repo.path / "bench" / "bm_fixture.py"
    text = bench.read_text()
    head = "def workload(rounds: int = ROUNDS) -> tuple[int, int]:\n"
    target_repo.commit_file(
        "bench/bm_fixture.py", text.replace(head, head + "    sum(range(40000))  # slower\n"), "slower"
    )
    result = invoke("verify", "--reports", str(reports), "--blocks", "8", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    (comparison,) = data["comparisons"]
    assert comparison["paired"] and comparison["verdict"] == "regression", comparison
    assert comparison["ratio"] > 1.1 and comparison["ci"][0] > 1.01
    records = sorted((reports / "runs").glob("*_verify"))
    manifest = json.loads((records[-1] / "run.json").read_text())
    assert manifest["kind"] == "verify" and manifest["verdict"] == "regression"
    findings = (target_repo.path / "findings.md").read_text()
    assert "Verdict: regression." in findings and "Crash accounting" in findings
