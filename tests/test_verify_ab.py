"""``invoke ab`` and ``invoke verify`` for real: fresh processes, interleaved blocks, verdicts.

The slowdown is a real code change in the target repo (an injected busy loop in the benchmark),
built, deployed and measured side by side; the verdict must call it a regression.

The injected slowdown is several times the benchmark's own time: the suite must pass while other
jobs load the machine (process medians then vary by a third and the machine drifts between the
halves of a run), and an effect that large is a regression under any load this suite meets.
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


# About 2-4 ms of extra work per call on a workload of about 0.7 ms: 4x or more.
SLOWER = "    sum(range(200000))  # slower\n"
WORKLOAD_HEAD = "def workload(rounds: int = ROUNDS) -> tuple[int, int]:\n"


def slowed_benchmark(target_repo: Any) -> str:
    text = (target_repo.path / "bench" / "bm_fixture.py").read_text()
    assert WORKLOAD_HEAD in text
    return text.replace(WORKLOAD_HEAD, WORKLOAD_HEAD + SLOWER)


def baseline_over_ssh(sshd_host: Any, target_repo: Any, tmp_path: Path) -> Path:
    """A committed-tree baseline of the fixture target over the loopback sshd; returns the reports dir."""
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
    return reports


def ab_manifest(reports: Path) -> dict[str, Any]:
    (run,) = (reports / "runs").glob("*_ab_*")
    manifest: dict[str, Any] = json.loads((run / "run.json").read_text())
    return manifest


@pytest.mark.ssh
def test_verify_finds_a_real_slowdown_paired(sshd_host: Any, target_repo: Any, tmp_path: Path) -> None:
    reports = baseline_over_ssh(sshd_host, target_repo, tmp_path)
    target_repo.commit_file("bench/bm_fixture.py", slowed_benchmark(target_repo), "slower")
    result = invoke("verify", "--reports", str(reports), "--blocks", "8", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    (comparison,) = data["comparisons"]
    assert comparison["paired"] and comparison["verdict"] == "regression", comparison
    assert comparison["ratio"] > 2 and comparison["ci"][0] > 1.5
    assert ab_manifest(reports)["sources"]["b"] == {"kind": "branch", "ref": target_repo.work_branch}
    # each side's deploy marker is kept: the commit the head side measured
    assert ab_manifest(reports)["deployed"]["b"]["commit"] == target_repo.head()
    records = sorted((reports / "runs").glob("*_verify"))
    manifest = json.loads((records[-1] / "run.json").read_text())
    assert manifest["kind"] == "verify" and manifest["verdict"] == "regression"
    findings = (target_repo.path / "findings.md").read_text()
    assert "Verdict: regression." in findings and "Crash accounting" in findings
    # handoff will not push a measured regression; the verify is of the head, so it is not stale
    handoff = invoke("handoff", "--repo", str(target_repo.path), "--reports", str(reports), "--push", "origin")
    line = handoff.stderr.strip().splitlines()[-1]
    assert handoff.returncode == 2 and f"shows a regression ({comparison['benchmark']}/nojit)" in line, handoff.stderr
    assert "verify is stale" not in line and "cannot be matched" not in line


@pytest.mark.ssh
def test_verify_worktree_measures_the_uncommitted_change(sshd_host: Any, target_repo: Any, tmp_path: Path) -> None:
    reports = baseline_over_ssh(sshd_host, target_repo, tmp_path)
    committed = target_repo.head()
    # The slowdown exists only in the working tree: the branch is still the baseline's commit, so
    # measuring the branch instead would compare the baseline with itself.
    (target_repo.path / "bench" / "bm_fixture.py").write_text(slowed_benchmark(target_repo))
    result = invoke("verify", "--reports", str(reports), "--worktree", "--paired", "yes", "--blocks", "8", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    (comparison,) = json.loads(result.stdout)["comparisons"]
    assert comparison["paired"] and comparison["verdict"] == "regression", comparison
    assert comparison["ratio"] > 2 and comparison["ci"][0] > 1.5
    assert target_repo.head() == committed and "bench/bm_fixture.py" in target_repo.git("status", "--porcelain")
    manifest = ab_manifest(reports)
    assert manifest["sources"] == {
        "a": {"kind": "commit", "ref": committed},
        "b": {"kind": "worktree", "ref": ""},
    }
    deploys = {step["name"]: step["detail"] for step in manifest["steps"] if step["name"].endswith("-deploy")}
    assert "working tree of" in deploys["b-deploy"] and "+ changes" in deploys["b-deploy"]
    assert "working tree" not in deploys["a-deploy"]
