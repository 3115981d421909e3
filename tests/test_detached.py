"""Detached steps and the host lease, on this machine as the host (real processes, real files).

The same code runs over SSH; the fault tier (tests/faults) drops, stalls and kills that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from armjit.errors import ArmjitError
from armjit.seams.hosts import LocalHost
from armjit.seams.hosts.detached import Follower, parse_poll, state_root
from armjit.seams.lease import STALE, HostBusy, Lease, LeaseLost, holder_of, lease_dir, owner_facts


def follower(tmp_path: Path, lines: list[str] | None = None) -> Follower:
    host = LocalHost()
    return Follower(
        host,
        str(tmp_path / "run"),
        sys.executable,
        reconnect_for=5,
        stall_after=10,
        notify=(lines.append if lines is not None else lambda _t: None),
        hint="invoke attach R",
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_a_detached_command_streams_its_output_and_exit_code(tmp_path: Path) -> None:
    seen: list[str] = []
    log = tmp_path / "step.log"
    f = follower(tmp_path)
    result = f.run(
        "k-1",
        "for i in 1 2 3; do echo line $i; done; echo oops >&2; printf 'caf\\xc3\\xa9'; exit 7",
        label="step k",
        env={"X": "a b"},
        timeout=60,
        on_line=seen.append,
        log=log,
    )
    assert result.exit_code == 7 and not result.ok
    assert result.stdout.splitlines() == ["line 1", "line 2", "line 3", "café"]
    assert result.stderr.strip() == "oops"
    assert {"line 1", "line 2", "line 3", "oops", "café"} <= set(seen)
    assert "line 3" in log.read_text()
    state = tmp_path / "run" / ".armjit" / "steps" / "k-1"
    ended = json.loads((state / "exit.json").read_text())
    assert ended["exit_code"] == 7 and not ended["cancelled"]


def test_a_key_that_ran_is_read_back_not_run_again(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    command = f"echo x >> {counter}; cat {counter} | wc -l"
    first = follower(tmp_path).run("bench-1", command, label="step bench", timeout=60)
    again = follower(tmp_path).run("bench-1", command, label="step bench", timeout=60)
    assert counter.read_text() == "x\n"  # measured once
    assert first.stdout == again.stdout and again.exit_code == 0
    with pytest.raises(ArmjitError, match="another command under this step"):
        follower(tmp_path).run("bench-1", "echo different", label="step bench", timeout=60)


def test_going_on_runs_a_failed_command_again_and_keeps_its_old_state(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    # Fails the first time (a full disk, a crash), passes the second.
    command = f"echo x >> {counter}; [ $(wc -l < {counter}) -ge 2 ]"
    first = follower(tmp_path).run("venv-1", command, label="step venv", timeout=60)
    assert first.exit_code == 1
    within_the_run = follower(tmp_path).run("venv-1", command, label="step venv", timeout=60)
    assert within_the_run.exit_code == 1 and counter.read_text() == "x\n"  # followed, not run again
    going_on = follower(tmp_path)
    going_on.rerun_failed = True
    again = going_on.run("venv-1", command, label="step venv", timeout=60)
    assert again.exit_code == 0 and counter.read_text() == "x\nx\n"
    steps = Path(going_on.root) / "steps"
    kept = sorted(p.name for p in steps.iterdir())
    assert kept[0] == "venv-1" and len(kept) == 2 and kept[1].startswith("venv-1.failed-")
    assert json.loads((steps / kept[1] / "exit.json").read_text())["exit_code"] == 1
    # A command that ended well is read back, also when going on.
    assert going_on.run("venv-1", command, label="step venv", timeout=60).exit_code == 0
    assert counter.read_text() == "x\nx\n"


def test_a_supervisor_gone_without_an_end_counts_as_failed(tmp_path: Path) -> None:
    f = follower(tmp_path)
    f.run("k-1", "true", label="step k", timeout=60)  # uploads the supervisor
    sup = Path(f.root) / "supervise.py"
    state = tmp_path / "state"
    state.mkdir()
    (state / "command.sh").write_text("sleep 60")
    (state / "supervisor.json").write_text(json.dumps({"pid": 2**22 + 1, "child": 2**22 + 2, "start": 0}))

    def failed() -> int:
        return subprocess.run([sys.executable, str(sup), "failed", str(state)], check=False).returncode

    assert failed() == 0  # its pid runs no more, and it recorded no end
    (state / "supervisor.json").write_text(json.dumps({"pid": os.getpid(), "child": os.getpid(), "start": 0}))
    assert failed() == 1  # alive: it still works
    (state / "exit.json").write_text(json.dumps({"exit_code": 0}))
    assert failed() == 1
    (state / "exit.json").write_text(json.dumps({"exit_code": 143}))
    assert failed() == 0


def test_the_command_outlives_its_follower_and_cancel_ends_its_group(tmp_path: Path) -> None:
    # A follower in another process, killed with SIGKILL while the command runs (armjit's kill -9).
    marker = tmp_path / "started"
    script = (
        "import sys; from pathlib import Path; from armjit.seams.hosts import LocalHost;"
        "from armjit.seams.hosts.detached import Follower;"
        f"f = Follower(LocalHost(), {str(tmp_path / 'run')!r}, sys.executable, reconnect_for=5, stall_after=10,"
        " notify=print, hint='h');"
        f"f.run('long-1', 'touch {marker}; sleep 300.5123 & sleep 300.5123; wait', label='step long', timeout=600)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists()
    proc.kill()
    proc.wait()
    state = tmp_path / "run" / ".armjit" / "steps" / "long-1"
    info = json.loads((state / "supervisor.json").read_text())
    assert _alive(info["pid"]) and _alive(info["child"])  # still working without armjit
    f = follower(tmp_path)
    assert f.running() == ["long-1"]
    assert f.cancel_all() == ["long-1"]
    assert not _alive(info["pid"]) and not _alive(info["child"])
    time.sleep(0.5)  # SIGKILL is delivered at once, but the kernel may take a moment to end them
    left = subprocess.run(["pgrep", "-f", "sleep 300.5123"], capture_output=True, text=True, check=False)
    assert left.stdout.strip() == ""  # both sleeps are gone too (timeout(1) was in the group)
    assert json.loads((state / "exit.json").read_text())["cancelled"] is True
    assert f.running() == []


def test_parse_poll_reads_the_supervisor_answer() -> None:
    line = json.dumps(
        {
            "started": True,
            "alive": False,
            "heartbeat_age": 1.5,
            "exit": {"exit_code": 3, "start": 10.0, "end": 12.5, "cancelled": False},
            "out_size": 2,
            "err_size": 0,
            "out": "aGk=",
            "err": "",
        }
    )
    state = parse_poll("motd noise\n" + line + "\n")
    assert (state.exit_code, state.seconds, state.out, state.alive) == (3, 2.5, b"hi", False)
    with pytest.raises(ValueError):
        parse_poll("bash: python: not found")
    assert state_root("/x/run/") == "/x/run/.armjit"


def owner(run_id: str, remote_run: str = "") -> dict[str, object]:
    return owner_facts(run_id, remote_run, "invoke baseline")


def test_one_lease_per_work_dir(tmp_path: Path) -> None:
    host, workdir = LocalHost(), str(tmp_path / "w" / "work")
    first = Lease(host, workdir, owner("run-a"))
    first.acquire(wait=False, timeout=1, notify=print)
    assert lease_dir(workdir) == str(tmp_path / "w" / ".work.armjit-lease")
    second = Lease(host, workdir, owner("run-b"))
    with pytest.raises(HostBusy, match=r"^host busy: \S+@\S+ \(run run-a, pid \d+: invoke baseline\) since 20"):
        second.acquire(wait=False, timeout=1, notify=print)
    lines: list[str] = []
    started = time.monotonic()
    with pytest.raises(HostBusy, match="waited 2s"):
        second.acquire(wait=True, timeout=2, notify=lines.append)
    assert time.monotonic() - started >= 2 and lines[0].startswith("host busy: ")
    holder = holder_of(host, workdir)
    assert holder is not None and holder.run_id == "run-a"
    again = Lease(host, workdir, owner("run-a"))
    again.acquire(wait=False, timeout=1, notify=print)  # the same run again (attach): its new token
    with pytest.raises(LeaseLost, match="lease lost to run-a"):
        first.check()  # the process that held it before is fenced off
    second.release()  # not its lease: nothing happens
    first.release()  # the token there is again's now: nothing happens either
    assert holder_of(host, workdir) is not None
    again.release()
    assert holder_of(host, workdir) is None
    second.acquire(wait=False, timeout=1, notify=print)
    assert (holder_of(host, workdir) or pytest.fail()).run_id == "run-b"
    second.release()


def dead_pid() -> int:
    """The pid of a process that has ended (and was reaped)."""
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def age(workdir: str, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(Path(lease_dir(workdir)) / "heartbeat", (old, old))


def test_a_lease_is_taken_over_only_when_its_holder_is_gone(tmp_path: Path) -> None:
    host, workdir = LocalHost(), str(tmp_path / "work")
    remote_run = tmp_path / "incoming" / "run-a"
    gone = Lease(host, workdir, {**owner("run-a", str(remote_run)), "pid": dead_pid(), "process_start": None})
    gone.acquire(wait=False, timeout=1, notify=print)
    gone.keep()
    # run-a's supervisor still beats: its step goes on, so the lease stays, process or not.
    beat = remote_run / ".armjit" / "steps" / "bench-1" / "heartbeat"
    beat.parent.mkdir(parents=True)
    beat.write_text("now\n")
    taker = Lease(host, workdir, owner("run-b"))
    with pytest.raises(HostBusy):
        taker.acquire(wait=False, timeout=1, notify=print)
    old = time.time() - STALE - 60
    os.utime(beat, (old, old))
    lines: list[str] = []
    taker.acquire(wait=False, timeout=1, notify=lines.append)  # fresh heartbeat, but the process is gone
    assert lines and lines[0].startswith("warning: took over the lease of ") and "run run-a" in lines[0]
    assert "is gone" in lines[0]
    assert (holder_of(host, workdir) or pytest.fail()).run_id == "run-b"
    with pytest.raises(LeaseLost, match="lease lost to run-b"):
        gone.check()
    taker.release()
    assert not list(Path(workdir).parent.glob(".work.armjit-lease*"))  # nothing left beside the work dir


def test_a_stale_heartbeat_of_a_live_process_is_a_warning_not_a_takeover(tmp_path: Path) -> None:
    host, workdir = LocalHost(), str(tmp_path / "work")
    live = Lease(host, workdir, owner("run-a"))  # this very process: alive
    live.acquire(wait=False, timeout=1, notify=print)
    live.keep()
    age(workdir, STALE + 60)
    lines: list[str] = []
    with pytest.raises(HostBusy, match="run run-a"):
        Lease(host, workdir, owner("run-b")).acquire(wait=False, timeout=1, notify=lines.append)
    assert lines and "has not beaten for" in lines[0] and "not taken over" in lines[0]
    live.check()  # still its lease
    live.release()


def test_a_kill_stopped_holder_keeps_its_lease_and_a_killed_one_loses_it(tmp_path: Path) -> None:
    """The holder is a real process: stopped (SIGSTOP) it still exists, killed it is gone."""
    import signal

    workdir = str(tmp_path / "work")
    ready = tmp_path / "ready"
    code = (
        "import sys, time; from pathlib import Path\n"
        "from armjit.seams.hosts import LocalHost\n"
        "from armjit.seams.lease import Lease, owner_facts\n"
        f"lease = Lease(LocalHost(), {workdir!r}, owner_facts('run-held', '', 'invoke baseline'))\n"
        "lease.acquire(wait=False, timeout=1, notify=print); lease.keep()\n"
        f"Path({str(ready)!r}).write_text('x'); time.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(600):
            if ready.exists() or holder.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), "the holder did not take the lease"
        holder.send_signal(signal.SIGSTOP)
        age(workdir, STALE + 25)
        lines: list[str] = []
        taker = Lease(LocalHost(), workdir, owner("run-b"))
        with pytest.raises(HostBusy, match="run run-held"):
            taker.acquire(wait=False, timeout=1, notify=lines.append)
        assert "not taken over" in lines[0]
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        lines.clear()
        taker.acquire(wait=False, timeout=1, notify=lines.append)
        assert "took over the lease of" in lines[0] and "is gone" in lines[0]
        taker.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_aliases_of_a_work_dir_and_a_shared_driver_venv_share_one_lease(tmp_path: Path) -> None:
    from armjit.seams import workdir as workdirs

    host = LocalHost()
    (tmp_path / "srv" / "w").mkdir(parents=True)
    (tmp_path / "srv" / "wlink").symlink_to(tmp_path / "srv" / "w")
    venv = str(tmp_path / "venvs" / "driver")
    first_dir, alias = workdirs.resolve_guarded(
        host,
        [
            (str(tmp_path / "srv" / "w"), "--remote-workdir", 2),
            (str(tmp_path / "srv" / "wlink"), "--remote-workdir", 2),
        ],
    )
    assert first_dir == alias
    first = Lease(host, first_dir, owner("run-a"), also=[venv])
    first.acquire(wait=False, timeout=1, notify=print)
    with pytest.raises(HostBusy, match="run run-a"):
        Lease(host, alias, owner("run-b"), also=[venv]).acquire(wait=False, timeout=1, notify=print)
    # invoke hosts asked through the alias names the holder too.
    assert (holder_of(host, str(tmp_path / "srv" / "wlink")) or pytest.fail()).run_id == "run-a"
    # Another work dir, the same driver venv: busy too, and it holds nothing after giving up.
    other = Lease(host, str(tmp_path / "srv" / "other"), owner("run-c"), also=[venv])
    with pytest.raises(HostBusy, match="run run-a"):
        other.acquire(wait=False, timeout=1, notify=print)
    assert holder_of(host, str(tmp_path / "srv" / "other")) is None
    first.release()
    other.acquire(wait=False, timeout=1, notify=print)
    other.release()


def test_a_run_that_lost_its_lease_fails_before_its_next_step_and_deletes_nothing(
    tmp_path: Path, target_repo: Any
) -> None:
    import datetime as dt
    import io

    from armjit.flows.pipeline import Pipeline
    from armjit.render.progress import Progress
    from armjit.seams import sync
    from armjit.seams.store import RunStore

    host, dest = LocalHost(), str(tmp_path / "srv" / "work")
    target_repo.commit_file("gone.txt", "shipped once\n", "a file that will go")
    sync.sync_tree(host, target_repo.path, dest, method="rsync")
    target_repo.git("rm", "-q", "gone.txt")
    target_repo.git("commit", "-q", "-m", "drop it")
    mine = Lease(host, dest, {**owner("run-a"), "pid": dead_pid(), "process_start": None})
    mine.acquire(wait=False, timeout=1, notify=print)
    thief = Lease(host, dest, owner("run-b"))
    thief.acquire(wait=False, timeout=1, notify=print)  # run-a looks gone: taken over
    for method in ("rsync", "python"):
        with pytest.raises(LeaseLost, match="lease lost to run-b"):
            sync.sync_tree(host, target_repo.path, dest, method=method, fence=mine.check)
        assert (Path(dest) / "gone.txt").read_text() == "shipped once\n"
    run, record = RunStore(tmp_path / "runs").new_run("baseline", dt.datetime.now(dt.UTC), "lease")
    pipeline = Pipeline(run, record, Progress(io.StringIO()), step_timeout=60)
    pipeline.fence = mine.check
    ran: list[str] = []
    with pytest.raises(LeaseLost) as caught:
        pipeline.step("bench", host, lambda ctx: ran.append("bench") or "")
    assert ran == []
    assert pipeline.finish(caught.value) == "failed"
    assert record.failure is not None and record.failure.cause == "lease lost to run-b"
    assert record.failure.step == "bench"
    thief.release()


def test_invoke_hosts_shows_who_holds_the_work_dir(tmp_path: Path) -> None:
    from invoke_cli import run_invoke

    workdir = tmp_path / "srv" / "work"
    args = ("hosts", "--host", "local", "--remote-workdir", str(workdir))
    free = run_invoke(*args, timeout=120)
    assert free.returncode == 0, free.stderr
    assert "free" in free.stdout
    lease = Lease(LocalHost(), str(workdir), owner("run-held"))
    lease.acquire(wait=False, timeout=1, notify=print)
    try:
        held = run_invoke(*args, timeout=120)
    finally:
        lease.release()
    assert held.returncode == 0, held.stderr
    row = held.stdout.strip().splitlines()[-1]
    assert "run-held" in row and f"pid {os.getpid()}" in row and "s ago" in row


def test_ab_waits_for_or_refuses_a_held_work_dir_and_leaves_no_run(tmp_path: Path) -> None:
    from invoke_cli import run_invoke

    workdir, reports = tmp_path / "srv" / "work", tmp_path / "reports"
    lease = Lease(LocalHost(), str(workdir), owner("run-held"))
    lease.acquire(wait=False, timeout=1, notify=print)
    try:
        refused = run_invoke(
            "ab", "--aa", "--host", "local", "--remote-workdir", str(workdir),
            "--remote-incoming", str(tmp_path / "srv" / "in"), "--reports", str(reports), "--no-wait",
            timeout=300,
        )  # fmt: skip
    finally:
        lease.release()
    assert refused.returncode != 0
    assert "host busy: " in refused.stderr and "run run-held" in refused.stderr, refused.stderr[-2000:]
    assert not any((reports / "runs").glob("*"))  # no run was started
    assert holder_of(LocalHost(), str(workdir)) is None


def test_a_detached_step_stops_being_followed_once_its_lease_is_lost(tmp_path: Path) -> None:
    import threading

    host, workdir = LocalHost(), str(tmp_path / "w")
    lease = Lease(host, workdir, owner("run-a"))
    lease.acquire(wait=False, timeout=1, notify=print)
    follower = Follower(
        host,
        str(tmp_path / "run"),
        sys.executable,
        reconnect_for=5,
        stall_after=10,
        notify=lambda _t: None,
        hint="invoke attach R",
        poll_extra=lease.touch_shell,
    )
    started = tmp_path / "started"

    def steal() -> None:  # another run's token replaces this run's once the step runs
        while not started.exists():
            time.sleep(0.05)
        owner_file = Path(lease_dir(workdir)) / "owner.json"
        owner_file.write_text(json.dumps(owner("run-thief")) + "\n")

    thief = threading.Thread(target=steal, daemon=True)
    thief.start()
    with pytest.raises(LeaseLost, match="lease lost to run-thief"):
        follower.run("bench-1", f"touch {started}; sleep 300.4321", label="bench", timeout=600)
    assert follower.cancel("bench-1") in ("cancelled", "ended")
    thief.join(5)
    lease.release()
    assert (Path(lease_dir(workdir)) / "owner.json").exists()  # the thief's lease is left alone
