"""Faults on purpose against the loopback sshd and the fixture target: the run's results must
end complete and correct, nothing half-written, nothing left running.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .faultkit import Baseline, check_complete, first_line, only_run, record_row


def test_drops_mid_build_and_mid_benchmark_cost_a_reconnect(faulty: Baseline) -> None:
    faulty.processes = 6
    proc = faulty.start(faulty.argv())
    build = faulty.wait_for_step("build-wheel-1", proc)
    assert not (build / "exit.json").exists()
    assert faulty.drop() >= 1
    dropped = time.monotonic()
    bench = faulty.wait_for_step("bench-nojit-1", proc)
    running = not (bench / "exit.json").exists()
    assert faulty.drop() >= 1
    dropped_bench = time.monotonic()
    _out, err = proc.communicate(timeout=900)
    recovered = time.monotonic()
    assert proc.returncode == 0, err[-3000:]
    run = only_run(faulty.reports)
    m = check_complete(run, processes=6)
    assert running, "the benchmark ended before the drop: the fault missed"
    # One supervisor per step, started once: nothing ran twice.
    for key in ("build-wheel-1", "bench-nojit-1"):
        state = faulty.state(key)
        assert state is not None and json.loads((state / "exit.json").read_text())["exit_code"] == 0
    assert faulty.leftovers() == []
    assert not faulty.lease().exists()
    sees = first_line(err, "connection to")
    assert "during step build-wheel" in sees, err[-3000:]
    assert "during step bench-nojit" in first_line(err, "during step bench-nojit"), err[-3000:]
    record_row("drop mid-build", sees, "the build (it ran on)", recovered - dropped)
    sees = first_line(err, "during step bench-nojit")
    record_row("drop mid-benchmark", sees, "the benchmark, measured once", recovered - dropped_bench)
    assert m["steps"][-1]["name"] == "jit-gate"


def test_a_stalled_connection_is_noticed_and_replaced(faulty: Baseline) -> None:
    proc = faulty.start(faulty.argv())
    bench = faulty.wait_for_step("bench-nojit-1", proc)
    assert not (bench / "exit.json").exists()
    stopped = faulty.stall()
    started = time.monotonic()
    try:
        _out, err = proc.communicate(timeout=900)
    finally:
        faulty.wake_and_end(stopped)
    recovered = time.monotonic() - started
    assert proc.returncode == 0, err[-3000:]
    line = first_line(err, "stalled during")
    assert line.startswith("connection to ") and "step bench-nojit" in line, err[-2000:]
    assert "back: following step bench-nojit" in err
    check_complete(only_run(faulty.reports))
    assert faulty.leftovers() == []
    record_row("stall (SIGSTOP of the session) mid-benchmark", line, "the benchmark, measured once", recovered)


def test_kill_9_at_the_build_then_resume(faulty: Baseline) -> None:
    proc = faulty.start(faulty.argv())
    faulty.wait_for_step("build-wheel-1", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    run = only_run(faulty.reports)
    assert json.loads((run / "run.json").read_text())["status"] == "running"  # shown as abandoned
    assert faulty.lease().exists()  # the build goes on, so the host stays this run's
    resumed = faulty.run(faulty.argv("--resume", run.name))
    recovered = time.monotonic() - killed
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "kept" in resumed.stderr and "deploy" in resumed.stderr  # the tree was not sent again
    m = check_complete(run)
    steps = [s["name"] for s in m["steps"]]
    assert steps.count("build-wheel") == 1 and steps.count("bench-nojit") == 1
    assert faulty.leftovers() == []
    assert not faulty.lease().exists()
    sees = first_line(resumed.stderr, "kept")
    record_row("kill -9 of armjit mid-build, then `baseline --resume RUN`", sees, "deploy, the build", recovered)


def test_kill_9_at_a_benchmark_then_attach(faulty: Baseline) -> None:
    proc = faulty.start(faulty.argv())
    bench = faulty.wait_for_step("bench-jitlist-1", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    assert not (bench / "exit.json").exists()
    attached = faulty.run(faulty.task_argv("attach"))
    recovered = time.monotonic() - killed
    assert attached.returncode == 0, attached.stderr[-3000:]
    run = only_run(faulty.reports)
    m = check_complete(run)
    kept = {s["name"]: s["detail"] for s in m["steps"]}
    assert "kept" in kept["bench-nojit"]  # measured before: not measured again
    assert faulty.leftovers() == []
    record_row(
        "kill -9 of armjit mid-benchmark, then `attach`",
        first_line(attached.stderr, "kept"),
        "every step that passed, the running benchmark",
        recovered,
    )


def test_two_runs_at_once_take_turns(faulty: Baseline) -> None:
    first = faulty.start(faulty.argv())
    faulty.wait_for_step("build-wheel-1", first)
    assert faulty.lease().exists()
    busy = faulty.run(faulty.argv("--no-wait", "--skip-pyperf"))
    assert busy.returncode == 1
    line = busy.stderr.strip().splitlines()[-1]
    assert line.startswith("armjit: host busy: ") and " since 20" in line and "invoke baseline" in line, line
    assert len(list((faulty.reports / "runs").iterdir())) == 1  # the refused run left nothing
    waiter = faulty.start(faulty.argv("--wait", "--wait-timeout", "900", "--skip-pyperf"))
    _out, err = first.communicate(timeout=900)
    assert first.returncode == 0, err[-3000:]
    first_done = time.monotonic()
    _out2, err2 = waiter.communicate(timeout=900)
    assert waiter.returncode == 0, err2[-3000:]
    assert first_line(err2, "host busy:").startswith("host busy: ")
    runs = sorted((faulty.reports / "runs").iterdir())
    assert len(runs) == 2
    manifests = [json.loads((r / "run.json").read_text()) for r in runs]
    full = next(r for r, m in zip(runs, manifests, strict=True) if m.get("modes"))
    check_complete(full)
    assert all(m["status"] == "ok" for m in manifests)
    assert faulty.leftovers() == [] and not faulty.lease().exists()
    record_row(
        "two runs at once on one host work dir",
        line.removeprefix("armjit: "),
        "both runs, one after the other",
        time.monotonic() - first_done,
    )


def test_a_changed_host_key_mid_run_stops_following_and_attach_finishes(faulty: Baseline) -> None:
    proc = faulty.start(faulty.argv())
    bench = faulty.wait_for_step("bench-nojit-1", proc)
    assert not (bench / "exit.json").exists()
    faulty.sshd.regenerate_host_key()  # restarts sshd: every session drops, the new key is refused
    changed = time.monotonic()
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("armjit: host key of ") and "changed" in last, err[-2000:]
    assert "step bench-nojit is still running on" in err and "invoke attach" in err
    assert "Traceback" not in err
    # The engineer checks the new key and puts it in known_hosts: attach finishes the run.
    faulty.sshd.known_hosts_path.write_text(faulty.sshd.host_key_line())
    attached = faulty.run(faulty.task_argv("attach"))
    assert attached.returncode == 0, attached.stderr[-3000:]
    check_complete(only_run(faulty.reports))
    assert faulty.leftovers() == []
    record_row(
        "host key changed mid-run",
        last.removeprefix("armjit: ")[:90] + " ...",
        "the run; attach after the key is checked",
        time.monotonic() - changed,
    )


def test_ctrl_c_with_a_dead_connection_exits_at_once_and_cancel_stops_the_host(faulty: Baseline) -> None:
    faulty.processes = 40  # long enough to still run when cancel comes
    proc = faulty.start(faulty.argv())
    bench = faulty.wait_for_step("bench-nojit-1", proc)
    stopped = faulty.stall()
    try:
        time.sleep(1.0)
        pressed = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
        exited = time.monotonic() - pressed
    finally:
        faulty.wake_and_end(stopped)
    assert proc.returncode == 130, err[-2000:]
    assert exited < 5.0, exited
    line = first_line(err, "still running on")
    assert "step bench-nojit" in line and "invoke attach" in line and "invoke cancel" in line, err[-2000:]
    run = only_run(faulty.reports)
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    assert faulty.leftovers() != []  # the benchmark goes on on the host ...
    cancelled = faulty.run(faulty.task_argv("cancel", run.name))
    assert cancelled.returncode == 0, cancelled.stderr[-2000:]
    assert "bench-nojit-1" in cancelled.stdout
    assert faulty.leftovers() == []  # ... until cancel stops its whole process group
    assert json.loads((bench / "exit.json").read_text())["cancelled"] is True
    assert not faulty.lease().exists()
    record_row("Ctrl-C with a dead (stalled) connection", line, "the run record; the benchmark until `cancel`", exited)


def test_nothing_half_written_when_armjit_dies_anywhere(faulty: Baseline, tmp_path: Path) -> None:
    """kill -9 during the driver venv, then attach: the record and every file in the run are whole."""
    proc = faulty.start(faulty.argv())
    faulty.wait_for_step("driver-venv-1", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    run = only_run(faulty.reports)
    json.loads((run / "run.json").read_text())  # whole JSON, whatever the moment
    attached = faulty.run(faulty.task_argv("attach", "--run", run.name))
    assert attached.returncode == 0, attached.stderr[-3000:]
    check_complete(run)
    assert faulty.leftovers() == []
    assert subprocess.run(["pgrep", "-f", str(faulty.remote_root)], capture_output=True, check=False).returncode == 1
    record_row(
        "kill -9 of armjit mid-venv, then `attach --run RUN`",
        first_line(attached.stderr, "kept"),
        "every step that passed",
        time.monotonic() - killed,
    )


def test_a_host_that_stays_away_ends_in_detached_and_attach_finishes(faulty: Baseline) -> None:
    faulty.processes, faulty.reconnect_for = 12, 5
    proc = faulty.start(faulty.argv())
    faulty.wait_for_step("bench-nojit-1", proc)
    faulty.sshd.stop()  # the host is gone: no session, no new connection
    gone = time.monotonic()
    _out, err = proc.communicate(timeout=300)
    faulty.sshd.start()
    assert proc.returncode == 2, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("armjit: ") and "unreachable for 5s during step bench-nojit" in last, err[-2000:]
    assert "invoke attach" in last and "invoke cancel" in last
    run = only_run(faulty.reports)
    assert json.loads((run / "run.json").read_text())["status"] == "detached"
    assert faulty.lease().exists()  # the benchmark goes on, so the host stays this run's
    # The hint, as printed: `invoke attach --run RUN` (the connection flags are this suite's own).
    hinted = shlex.split(last.split("`")[1])
    assert hinted[:2] == ["invoke", "attach"] and run.name in hinted, last
    attached = faulty.run(faulty.task_argv(*hinted[1:]))
    assert attached.returncode == 0, attached.stderr[-3000:]
    check_complete(run, processes=12)
    assert faulty.leftovers() == [] and not faulty.lease().exists()
    record_row(
        "host gone longer than --reconnect-for, then `attach`",
        last.removeprefix("armjit: "),
        "the benchmark (it ran on); every step that passed",
        time.monotonic() - gone,
    )


def test_a_drop_mid_fetch_fetches_again_and_keeps_every_byte(faulty: Baseline) -> None:
    """The connection dies while a JIT log comes home: armjit reconnects and fetches it again;
    the local copy is whole (the same sha256 as the host's), and no partial file is left."""
    proc = faulty.start(faulty.argv())
    bench = faulty.wait_for_step("bench-nojit-1", proc)
    # A JIT log big enough that its download lasts seconds: written on the host beside the
    # benchmark's own logs while the benchmark runs (the step fetches whatever the dir holds).
    remote_log = bench.parents[2] / "jitlogs" / "nojit" / "richards" / "jit_999999.log"  # the benchmark's own dir
    remote_log.parent.mkdir(parents=True, exist_ok=True)
    line = b"# armjit fault tier: a large JIT log that holds no compile\n"
    remote_log.write_bytes(line * (160 * 1024 * 1024 // len(line)))
    expected = hashlib.sha256(remote_log.read_bytes()).hexdigest()
    deadline = time.monotonic() + 600
    while not list(faulty.reports.glob("runs/*/jitlogs/nojit/richards/.jit_999999.log.part")):
        assert proc.poll() is None, proc.stderr.read()[-3000:] if proc.stderr else ""
        assert time.monotonic() < deadline, "the fetch never started"
        time.sleep(0.02)
    assert faulty.drop() >= 1
    dropped = time.monotonic()
    _out, err = proc.communicate(timeout=900)
    recovered = time.monotonic()
    assert proc.returncode == 0, err[-3000:]
    run = only_run(faulty.reports)
    check_complete(run)  # also: no .part file anywhere in the run
    local = run / "jitlogs" / "nojit" / "richards" / "jit_999999.log"
    assert hashlib.sha256(local.read_bytes()).hexdigest() == expected
    sees = first_line(err, "during the fetch of step bench-nojit")
    assert sees.startswith("connection to ") and "reconnecting" in sees, err[-3000:]
    assert "back: following the fetch of step bench-nojit again" in err
    assert "Traceback" not in err  # paramiko's own report of the drop stays out of the terminal
    assert faulty.leftovers() == []
    kept = "every file fetched, whole (sha256 checked)"
    record_row("drop mid-fetch (a 160 MB JIT log)", sees, kept, recovered - dropped)


def _big_commit(faulty: Baseline, megabytes: int) -> str:
    """A branch whose tree holds one incompressible file of ``megabytes``: a deploy lasting seconds."""
    big = faulty.repo.path / "data" / "big.bin"
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_bytes(os.urandom(megabytes * 1024 * 1024))
    faulty.repo.git("add", "--", "data/big.bin")
    faulty.repo.git("commit", "-q", "-m", "a large file")
    return hashlib.sha256(big.read_bytes()).hexdigest()


def _arriving(work: Path) -> bool:
    partial = [*work.glob("data/.big.bin.*"), work / ".armjit-sync.tar"]
    return any(p.is_file() and p.stat().st_size > 0 for p in partial)


@pytest.mark.parametrize("method", ["rsync", "python"])
def test_a_drop_mid_deploy_sends_again_and_the_tree_arrives_whole(faulty: Baseline, method: str) -> None:
    """The connection dies while the tree is sent: armjit reconnects and sends it again (what
    arrived whole is not sent twice); the host's tree matches the commit and the run ends ok."""
    expected = _big_commit(faulty, 192)
    proc = faulty.start(faulty.argv("--sync-method", method))
    work = faulty.remote_root / "work"
    deadline = time.monotonic() + 600
    # Mid-deploy: part of the big file is on the host (rsync's temp file beside it, or the
    # python transport's tar), the deploy marker not yet.
    while not _arriving(work):
        assert proc.poll() is None, proc.stderr.read()[-3000:] if proc.stderr else ""
        assert time.monotonic() < deadline, "the deploy never started"
        time.sleep(0.005)
    assert faulty.drop() >= 1
    dropped = time.monotonic()
    _out, err = proc.communicate(timeout=900)
    recovered = time.monotonic()
    assert proc.returncode == 0, err[-3000:]
    m = check_complete(only_run(faulty.reports))
    assert hashlib.sha256((work / "data" / "big.bin").read_bytes()).hexdigest() == expected
    assert sorted(p.name for p in (work / "data").iterdir()) == ["big.bin"]  # no temp file left
    assert not (work / ".armjit-sync.tar").exists()
    assert [s["name"] for s in m["steps"]].count("deploy") == 1
    sees = first_line(err, "during the deploy")
    assert sees.startswith("connection to ") and "reconnecting" in sees, err[-3000:]
    assert "Traceback" not in err
    assert faulty.leftovers() == []
    record_row(
        f"drop mid-deploy ({method}, a 192 MB file)",
        sees,
        "what arrived whole; the rest sent again",
        recovered - dropped,
    )


def _ab_argv(faulty: Baseline, *more: str) -> list[str]:
    r = faulty.remote_root
    return faulty.task_argv(
        "ab", "--aa", "--repo", str(faulty.repo.path), "--branch", faulty.repo.work_branch,
        "--remote-workdir", str(r / "work"), "--remote-incoming", str(r / "incoming"),
        "--remote-python", sys.executable, "--driver-venv", str(r / "venv-driver"),
        "--bench-script", "bench/bm_fixture.py", "--modes", "nojit", "--warmups", "1", *more,
    )  # fmt: skip


def test_a_drop_mid_ab_block_follows_the_process_again_and_measures_it_once(faulty: Baseline) -> None:
    proc = faulty.start(_ab_argv(faulty, "--blocks", "6", "--values", "6", "--cpu-share-gap", "0"))
    block = faulty.wait_for_step("blocks-5", proc)
    running = not (block / "exit.json").exists()
    assert faulty.drop() >= 1
    dropped = time.monotonic()
    _out, err = proc.communicate(timeout=900)
    recovered = time.monotonic()
    assert proc.returncode == 0, err[-3000:]
    assert running, "the block's process ended before the drop: the fault missed"
    run = only_run(faulty.reports)
    m = json.loads((run / "run.json").read_text())
    assert m["status"] == "ok" and len(m["samples"]["richards/nojit"]) == 6, m.get("failure")
    steps = block.parent
    # One process per side and block, each run once, each ended well: none ran twice.
    keys = sorted(p.name for p in steps.iterdir() if p.name.startswith("blocks-"))
    assert len(keys) == 12 and all(json.loads((steps / k / "exit.json").read_text())["exit_code"] == 0 for k in keys)
    sees = first_line(err, "during step blocks")
    assert sees.startswith("connection to ") and "reconnect" in sees, err[-3000:]
    assert "Traceback" not in err
    assert faulty.leftovers() == [] and not faulty.lease().exists()
    record_row("drop mid-`ab` block", sees, "the block's process, measured once", recovered - dropped)


def test_ctrl_c_mid_ab_block_stops_its_process_and_gives_the_host_back(faulty: Baseline) -> None:
    proc = faulty.start(_ab_argv(faulty, "--blocks", "6", "--values", "40"))
    block = faulty.wait_for_step("blocks-3", proc)
    time.sleep(0.5)
    assert not (block / "exit.json").exists()
    pressed = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    exited = time.monotonic() - pressed
    assert proc.returncode == 130, err[-2000:]
    assert exited < 5.0, exited
    run = only_run(faulty.reports)
    m = json.loads((run / "run.json").read_text())
    assert m["status"] == "interrupted"
    # Nobody can attach to an ab: its running process is stopped, not left to run on.
    assert json.loads((block / "exit.json").read_text())["cancelled"] is True
    assert faulty.leftovers() == [] and not faulty.lease().exists()
    assert "Traceback" not in err and "still running" not in err
    last = err.strip().splitlines()[-1]
    record_row("Ctrl-C mid-`ab` block", last, "the run record (interrupted); the host is free", exited)
