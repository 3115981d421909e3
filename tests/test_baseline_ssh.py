"""``invoke baseline`` end to end against a real sshd on 127.0.0.1 and the fixture target repo.

The fixture target builds a real wheel, runs a real unittest gate and a real pyperf benchmark;
its stand-in ``cinderx.jit`` writes CinderX-format per-process logs, so the JIT activity gate
sees real files fetched over SSH. (The real CinderX JIT is the e2e tier's job.)
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import as_from_a_terminal

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.ssh, pytest.mark.slow]


def baseline_argv(sshd: Any, repo: Any, tmp_path: Path, *extra: str) -> list[str]:
    odd = tmp_path / "remote root" / 'it\'s "quoted"'
    return [
        sys.executable, "-m", "invoke", "-r", str(ROOT), "baseline",
        "--host", f"{sshd.user}@{sshd.host}:{sshd.port}",
        "--key", str(sshd.key_path),
        "--known-hosts", str(sshd.known_hosts_path),
        "--repo", str(repo.path),
        "--branch", repo.work_branch,
        "--reports", str(tmp_path / "reports"),
        "--remote-workdir", str(odd / "work"),
        "--remote-incoming", str(odd / "incoming"),
        "--remote-python", sys.executable,
        "--driver-venv", str(odd / "venv-driver"),
        "--bench-script", "bench/bm_fixture.py",
        "--processes", "2", "--values", "2", "--warmups", "1",
        *extra,
    ]  # fmt: skip


def only_run(tmp_path: Path) -> Path:
    runs = list((tmp_path / "reports" / "runs").iterdir())
    assert len(runs) == 1
    return runs[0]


def test_baseline_over_ssh_keeps_every_result(sshd_host: Any, target_repo: Any, tmp_path: Path) -> None:
    argv = baseline_argv(sshd_host, target_repo, tmp_path)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run(tmp_path)
    m = json.loads((run / "run.json").read_text())
    assert m["schema_version"] == 1 and m["status"] == "ok" and m["run_id"] == run.name
    assert m["commits"]["commit"] == target_repo.head(target_repo.work_branch)
    assert m["commits"]["jit_files"] == ["cinderx/Jit/codegen_arm64.cpp", "cinderx/StaticPython/classloader.c"]
    assert m["host"]["name"].endswith(f":{sshd_host.port}") and m["host"]["python"]
    steps = {s["name"]: s for s in m["steps"]}
    expected_steps = ("upstream-sync", "deploy", "build-wheel", "driver-venv", "runtime-tests", "jit-smoke")
    expected_steps += ("bench-venv", "pins", "startup-smoke", "bench-nojit", "bench-jitlist", "bench-autojit")
    expected_steps += ("pins-after-bench", "jit-gate")
    for name in expected_steps:
        assert steps[name]["status"] == "ok", steps[name]
        assert steps[name]["seconds"] >= 0
    assert steps["runtime-tests"]["detail"] == "4 pass"
    # The pins are the venvs after the benchmarks, which changed nothing here (the pyperf runner).
    assert m["pins"]["taken"] == "after the benchmarks" and m["pins"]["changed_by_the_benchmarks"] == []
    assert steps["pins-after-bench"]["detail"] == "unchanged since the pins step"
    assert m["pins"]["cinderx"]["source"] == "source build" and m["pins"]["bench"]["cinderx"]
    assert [t["status"] for t in m["tests"]] == ["pass"] * 4
    modes = m["modes"]
    assert modes["nojit"]["compiles"] == {"main": 0, "total": 0, "other": 0}
    assert modes["jitlist"]["compiles"]["main"] > 0 and modes["autojit"]["compiles"]["main"] > 0
    assert modes["autojit"]["threshold"] == 50  # read back from the JIT's own "Configuring JIT" line
    for name, mode in modes.items():
        pyperf_json = json.loads((run / mode["pyperf_json"]).read_text())
        runs_with_values = [r for b in pyperf_json["benchmarks"] for r in b["runs"] if r.get("values")]
        assert len(runs_with_values) == 2, name
        for log in mode["jit_logs"]:
            assert (run / log).is_file()
        assert set(mode["env"]) <= set(mode["inherit_environ"].split(","))
    assert len(modes["jitlist"]["jit_logs"]) >= 2
    assert json.loads((run / "deploy-marker.json").read_text())["commit"] == m["commits"]["commit"]
    # notes go to the target repo by default, into armjit's own blocks
    findings = (target_repo.path / "findings.md").read_text()
    assert f"baseline-{run.name}" in findings and "| jitlist" in findings
    assert "### Test Results" in (target_repo.path / "progress.md").read_text()
    assert str(Path.home()) + "/" not in findings
    # the console summary has the step, mode and artifact tables
    assert "bench-autojit" in result.stdout and "threshold (logged)" in result.stdout and "run record" in result.stdout

    # nox -s remote_bench's path: only the benchmark part, on what is deployed, same run record
    again = subprocess.run([*argv, "--bench-only", "--modes", "jitlist"], capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    (second,) = [p for p in (tmp_path / "reports" / "runs").iterdir() if p != run]
    m2 = json.loads((second / "run.json").read_text())
    statuses = {s["name"]: s["status"] for s in m2["steps"]}
    assert statuses["deploy"] == statuses["build-wheel"] == statuses["runtime-tests"] == "skipped"
    assert statuses["deployed"] == statuses["bench-jitlist"] == statuses["jit-gate"] == "ok"
    assert m2["commits"]["commit"] == m["commits"]["commit"] and m2["modes"]["jitlist"]["compiles"]["main"] > 0


def test_inactive_jit_fails_the_gate_and_names_the_cause(sshd_host: Any, target_repo: Any, tmp_path: Path) -> None:
    argv = baseline_argv(
        sshd_host, target_repo, tmp_path, "--jit-hook", "none", "--modes", "jitlist", "--no-sync-upstream"
    )
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("armjit: step jit-gate:") and "nothing enables the JIT" in last
    m = json.loads((only_run(tmp_path) / "run.json").read_text())
    assert m["status"] == "failed" and m["modes"]["jitlist"]["compiles"]["main"] == 0
    assert m["modes"]["jitlist"]["pyperf_json"]  # the benchmark's results were kept anyway
    assert {s["name"]: s["status"] for s in m["steps"]}["upstream-sync"] == "skipped"
    errors = (target_repo.path / "task_plan.md").read_text()
    assert "| baseline" in errors and "nothing enables the JIT" in errors  # the Errors Encountered row


@pytest.mark.parametrize(
    ("sig", "code", "last_line"),
    [
        (signal.SIGINT, 130, "armjit: interrupted"),
        (signal.SIGTERM, 143, "armjit: terminated by SIGTERM"),
        (signal.SIGHUP, 129, "armjit: terminated by SIGHUP"),
    ],
    ids=["ctrl-c", "sigterm", "sighup"],
)
def test_ctrl_c_keeps_the_record_and_cancel_stops_the_remote_build(
    sshd_host: Any, target_repo: Any, tmp_path: Path, sig: signal.Signals, code: int, last_line: str
) -> None:
    # The build runs detached on the host (README "Reliability"): Ctrl-C stops armjit, says what
    # still runs there and how to stop it; `invoke cancel RUN` stops it. SIGTERM and SIGHUP (a
    # killed job, a closed terminal) end armjit the same way, each with its own status.
    argv = baseline_argv(sshd_host, target_repo, tmp_path, "--build-env", "CINDERX_FIXTURE_BUILD_SECONDS=600")
    proc = subprocess.Popen(
        as_from_a_terminal(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    runs = tmp_path / "reports" / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        manifests = list(runs.glob("*/run.json")) if runs.exists() else []
        logs = list(runs.glob("*/logs/build-wheel.log"))
        # The wheel build itself (the step's second detached command), not the build venv before
        # it: on a busy machine the venv takes longer than any fixed wait.
        commands = [line for line in logs[0].read_text().splitlines() if line.startswith("$ ")] if logs else []
        if manifests and commands and "/dist/armjit-" in commands[-1]:
            time.sleep(3)  # well inside the 600 s build, which only cancel ends
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the build step never started")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err[-2000:]
    assert err.strip().splitlines()[-1] == last_line
    m = json.loads(only_run(tmp_path).joinpath("run.json").read_text())
    assert m["status"] == "interrupted"
    cause = "interrupted by the user" if sig == signal.SIGINT else last_line.removeprefix("armjit: ")
    assert m["failure"]["cause"] == cause
    assert {s["name"]: s["status"] for s in m["steps"]}["build-wheel"] == "interrupted"
    assert f"step build-wheel is still running on {m['host']['name']}" in err
    assert f"invoke cancel {m['run_id']}" in err
    remote_root = str(tmp_path / "remote root")
    still = subprocess.run(["pgrep", "-f", remote_root], capture_output=True, text=True, check=False)
    assert still.stdout.strip() != ""  # the build goes on ...
    flags = [*argv[argv.index("--host") : argv.index("--repo")], "--reports", str(tmp_path / "reports")]
    cancel = subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(ROOT), "cancel", *flags, m["run_id"]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cancel.returncode == 0 and "build-wheel-2" in cancel.stdout, (cancel.stdout, cancel.stderr[-2000:])
    time.sleep(1)
    left = subprocess.run(["pgrep", "-af", remote_root], capture_output=True, text=True, check=False)
    assert [line for line in left.stdout.splitlines() if "pgrep" not in line] == []  # ... until cancel
    assert (only_run(tmp_path) / "logs").is_dir()
