"""A run's status is the truth: a lost connection fails the run, a run whose process is gone is
``abandoned`` (and never ``latest`` or a baseline), and run ids never clash."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import run_invoke
from sshd import descendants
from test_baseline_ssh import baseline_argv, only_run

from armjit.analysis import compare
from armjit.analysis.mine import collect
from armjit.errors import ArmjitError, UsageError
from armjit.flows import verify
from armjit.flows.pipeline import StepRecord, final_status
from armjit.seams import liveness
from armjit.seams.store import RunDir, RunStore, is_finished, new_run_id

ROOT = Path(__file__).resolve().parents[1]

# Stands in for a benchmark that is still running when the connection drops: it writes a JIT log
# (so there is something to download afterwards), says where it is, and waits.
HANGING_BENCH = """\
import os, time
from pathlib import Path

log = os.environ.get("PYTHONJITLOGFILE", "")
if log:
    Path(log.replace("{pid}", str(os.getpid()))).write_text("JIT log of a benchmark that never finished\\n")
Path(__file__).with_name("hang.pid").write_text(str(os.getpid()))
time.sleep(120)
"""


def _sshd_sessions(listener: int) -> list[int]:
    """The per-connection sshd processes (not the shells and commands they started)."""
    found = []
    for pid in descendants(listener):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().startswith("sshd"):
                found.append(pid)
    return found


@pytest.mark.ssh
@pytest.mark.slow
def test_a_connection_lost_mid_benchmark_costs_a_reconnect_and_a_failing_step_is_named(
    sshd_host: Any, target_repo: Any, tmp_path: Path
) -> None:
    # The benchmark runs detached on the host (README "Reliability"): the drop costs a reconnect,
    # not the run. The benchmark then dies on its own, and the record names that step.
    target_repo.commit_file("bench/bm_fixture.py", HANGING_BENCH, "a benchmark that hangs")
    argv = baseline_argv(sshd_host, target_repo, tmp_path, "--modes", "jitlist", "--no-sync-upstream")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid_file = tmp_path / "remote root" / 'it\'s "quoted"' / "work" / "bench" / "hang.pid"
    deadline = time.monotonic() + 300
    while not pid_file.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if not pid_file.is_file():
        proc.kill()
        pytest.fail("the benchmark never started: " + proc.communicate()[1][-3000:])
    bench_pid = int(pid_file.read_text())
    try:
        # The listener stays up: armjit may reconnect, but what it had open on the old connection is gone.
        listener = sshd_host.pid
        assert listener is not None
        for pid in _sshd_sessions(listener):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(3)
        assert proc.poll() is None  # still following the benchmark over a new connection
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(bench_pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0, err[-3000:]
    assert "lost during step bench-jitlist" in err, err[-3000:]
    m = json.loads((only_run(tmp_path) / "run.json").read_text())
    assert m["status"] == "failed", m.get("failure")
    assert m["failure"]["step"] == "bench-jitlist"
    assert m["failure"]["cause"]
    steps = {s["name"]: s["status"] for s in m["steps"]}
    assert steps["bench-jitlist"] == "failed"
    # The cause the record names is the one the user saw.
    assert m["failure"]["cause"].split(":")[-1].strip() in err


# -- abandoned ---------------------------------------------------------------------------------


def invoke(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return run_invoke(*args, timeout=timeout)


def dead_pid() -> int:
    """The pid of a real process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_run(store: RunStore, second: int, status: str, owner: dict[str, Any] | None = None) -> RunDir:
    run = store.create(f"20261124T1200{second:02d}Z_abcdef12_host")
    manifest: dict[str, Any] = {
        "run_id": run.run_id,
        "kind": "baseline",
        "status": status,
        "started": f"2026-11-24T12:00:{second:02d}+00:00",
        "settings": {"bench": ["fixture"]},
        "host": {"name": "host"},
        "commits": {"commit": "abcdef1234"},
        "modes": {"nojit": {"pyperf_json": None, "jit_logs": ["jitlogs/nojit/jit_1.log"]}},
        "steps": [],
    }
    run.write_text("jitlogs/nojit/jit_1.log", "")
    if owner is not None:
        manifest["owner"] = owner
    run.save_manifest(manifest)
    return run


def test_a_running_run_whose_process_is_gone_is_abandoned_and_never_chosen(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "reports" / "runs")
    good = write_run(store, 1, "ok")
    gone = write_run(store, 2, "running", {**liveness.owner(), "pid": dead_pid(), "process_start": None})

    assert gone.status() == "abandoned" and not is_finished(gone.manifest())
    assert json.loads((gone.path / "run.json").read_text())["status"] == "running"  # readers decide, never write
    assert store.resolve("latest") == good
    assert verify._find_baseline(store, None) == good
    with pytest.raises(UsageError, match="abandoned"):
        verify._find_baseline(store, gone.run_id)
    assert compare.load_input(gone.run_id, store).label == f"{gone.run_id} (abandoned)"
    assert collect([gone.run_id], store)[0] == f"{gone.run_id} (abandoned)"

    status = invoke("status", "--json", "--reports", str(tmp_path / "reports"))
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["abandoned"] == [gone.run_id]
    assert next(s for s in data["steps"] if s["name"] == "baseline")["run_id"] == good.run_id
    text = invoke("status", "--reports", str(tmp_path / "reports"))
    assert f"abandoned: {gone.run_id}" in text.stdout


def test_only_a_known_dead_owner_makes_a_run_abandoned(tmp_path: Path) -> None:
    me = liveness.owner()
    assert liveness.owner_alive(me) is True
    # The same pid with another start time is another process: the pid was reused.
    if isinstance(me.get("process_start"), int):
        assert liveness.owner_alive({**me, "process_start": me["process_start"] + 1}) is False
    assert liveness.owner_alive({**me, "pid": dead_pid()}) is False
    # Another machine's process cannot be seen from here; an old record has no owner at all.
    assert liveness.owner_alive({**me, "hostname": me["hostname"] + "-elsewhere"}) is None
    assert liveness.owner_alive(None) is None

    # A process that exited but is not reaped yet (a zombie) is gone too.
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    try:
        assert liveness.owner_alive({**me, "pid": proc.pid, "process_start": None}) is False
    finally:
        proc.wait()

    store = RunStore(tmp_path / "runs")
    live = write_run(store, 1, "running", me)
    elsewhere = write_run(store, 2, "running", {**me, "hostname": me["hostname"] + "-elsewhere"})
    old = write_run(store, 3, "running")
    for run in (live, elsewhere, old):
        assert run.status() == "running" and not is_finished(run.manifest())
    with pytest.raises(UsageError, match="no finished run"):
        store.resolve("latest")


HANGING_TEST = """\
import os, time, unittest
from pathlib import Path


class Hang(unittest.TestCase):
    def test_hangs(self):
        Path(__file__).with_name("hang.pid").write_text(str(os.getpid()))
        time.sleep(120)
"""


def test_an_armjit_killed_mid_step_is_listed_abandoned(target_repo: Any, tmp_path: Path) -> None:
    target_repo.commit_file("test_hang.py", HANGING_TEST, "a test that hangs")
    reports = tmp_path / "reports"
    argv = [sys.executable, "-m", "invoke", "-r", str(ROOT), "red", "-k", "test_hangs", "--test-file", "test_hang.py"]
    argv += ["--repo", str(target_repo.path), "--reports", str(reports), "--python", sys.executable]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pid_file = target_repo.path / "hang.pid"
    deadline = time.monotonic() + 120
    while not pid_file.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        assert pid_file.is_file(), proc.communicate()[1] if proc.poll() is not None else "the test never started"
        proc.kill()  # SIGKILL: armjit gets no chance to write a final status
        proc.wait()
    finally:
        if pid_file.is_file():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    (run,) = RunStore(reports / "runs").runs()
    m = run.manifest()
    assert m["status"] == "running" and m["owner"]["pid"] == proc.pid
    assert run.status() == "abandoned"
    status = invoke("status", "--json", "--repo", str(target_repo.path), "--reports", str(reports))
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["abandoned"] == [run.run_id]


# -- run ids -----------------------------------------------------------------------------------


def test_runs_started_in_the_same_second_get_different_ids(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 24, 12, 0, 0, tzinfo=dt.UTC)
    first, second = new_run_id(now, "abcdef12", "root@host:22"), new_run_id(now, "abcdef12", "root@host:22")
    assert first != second
    assert re.fullmatch(r"20261124T120000Z-[0-9a-f]{6}_abcdef12_root-host-22", first), first
    store = RunStore(tmp_path / "runs")
    assert store.create(first).path != store.create(second).path
    # Records named in the old format still load and sort among the new ones.
    old = write_run(store, 0, "ok")
    assert old.run_id == "20261124T120000Z_abcdef12_host"
    assert store.resolve(old.run_id) == old and old in store.runs()


# -- the final status, from plain data ----------------------------------------------------------


def _record(name: str, status: str, detail: str = "") -> StepRecord:
    return StepRecord(name, status, 0, 0.1, None, detail=detail)


def test_only_a_run_without_errors_or_failed_steps_is_ok() -> None:
    passed = [_record("deploy", "ok"), _record("runtime-tests", "skipped", "no test file")]
    assert final_status(passed, None) == ("ok", None)
    # An error that escaped a step: that step and the error's own words, even though the steps
    # recorded before it all passed.
    lost = ArmjitError("download of host:/x failed: Socket is closed")
    assert final_status(
        [*passed, _record("bench-jitlist", "failed", "ArmjitError: ...")], lost, step="bench-jitlist"
    ) == (
        "failed",
        {"step": "bench-jitlist", "cause": "download of host:/x failed: Socket is closed"},
    )
    # An error from between steps has no step; a bug is named with its type.
    assert final_status(passed, RuntimeError("boom")) == ("failed", {"step": None, "cause": "RuntimeError: boom"})
    assert final_status([*passed, _record("bench-nojit", "failed", "exit 1")], None) == (
        "failed",
        {"step": "bench-nojit", "cause": "exit 1"},
    )
    assert final_status(passed, None, failure=("targeted-test", "the test passed")) == (
        "failed",
        {"step": "targeted-test", "cause": "the test passed"},
    )
    interrupted = final_status([_record("build-wheel", "interrupted")], KeyboardInterrupt(), step="build-wheel")
    assert interrupted == ("interrupted", {"step": "build-wheel", "cause": "interrupted by the user"})


def test_discard_removes_only_a_run_that_holds_nothing_but_its_record(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "reports" / "runs")
    started = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    fresh, record = store.new_run("ab", started, "ab", "local")
    fresh.save(record)
    measured, record2 = store.new_run("ab", started, "ab", "local")
    measured.save(record2)
    measured.write_json("blocks/000-richards-nojit-a.json", {"benchmarks": []})
    assert fresh.discard() is True and not fresh.path.exists()
    assert measured.discard() is False and measured.file("blocks", "000-richards-nojit-a.json").is_file()
    assert fresh.discard() is False  # gone already: nothing to do
    assert store.root.is_dir()
