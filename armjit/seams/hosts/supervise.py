"""The supervisor armjit ships to a host: it runs one step's command detached from the SSH session.

Standard library only (it runs under whatever Python the host has), and never imported by
armjit itself: ``armjit.seams.hosts.detached`` uploads this file into the run's directory on the
host and starts it with ``setsid nohup``, so the command outlives a dropped connection or a
killed armjit. Each step gets a state directory holding:

- ``command.sh``   the bash text to run (written by armjit before the start);
- ``supervisor.json``  the supervisor's pid and start time, and the command's pid (its process group);
- ``stdout``/``stderr``  the command's output, appended as it comes;
- ``heartbeat``    touched every ``BEAT`` seconds while the supervisor lives;
- ``exit.json``    the exit code and end time, written atomically once the command ended.

``failed`` says whether a command ended badly or lost its supervisor (a resumed run runs it
again); ``poll`` answers one JSON line (state, new output from the given offsets, base64) so that a
reader can follow the output over any number of connections; ``cancel`` ends the command's
process group and lets the supervisor record how it ended.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BEAT = 2.0
CHUNK = 256 * 1024
CANCELLED = 143


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk: no half-written state is left behind
        raise


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, sig)


def run(state: Path) -> int:
    """Run ``state/command.sh`` to its end, beating the heart, then record the exit code."""
    started = time.time()
    with (state / "stdout").open("ab") as out, (state / "stderr").open("ab") as err:
        child = subprocess.Popen(
            ["bash", str(state / "command.sh")],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: cancel ends the whole tree
        )
    _write_json(state / "supervisor.json", {"pid": os.getpid(), "child": child.pid, "start": started})
    cancelled: list[int] = []

    def on_term(signum: int, _frame: object) -> None:
        cancelled.append(signum)
        _kill_group(child.pid, signal.SIGTERM)
        _kill_group(child.pid, signal.SIGCONT)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    beat = state / "heartbeat"
    deadline_kill: float | None = None
    while True:
        beat.write_text(f"{time.time():.3f}\n", encoding="ascii")
        try:
            code = child.wait(timeout=BEAT)
            break
        except subprocess.TimeoutExpired:
            if cancelled and deadline_kill is None:
                deadline_kill = time.monotonic() + 10
            if deadline_kill is not None and time.monotonic() > deadline_kill:
                _kill_group(child.pid, signal.SIGKILL)
    _kill_group(child.pid, signal.SIGKILL)  # whatever the command left behind in its group goes too
    exit_code = code if code >= 0 else 128 - code
    if cancelled:
        exit_code = CANCELLED
    ended = {"exit_code": exit_code, "end": time.time(), "start": started, "cancelled": bool(cancelled)}
    _write_json(state / "exit.json", ended)
    return 0


def _chunk(path: Path, offset: int) -> tuple[int, str]:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(min(offset, size))
            data = handle.read(CHUNK)
    except OSError:
        return 0, ""
    return size, base64.b64encode(data).decode("ascii")


OUTPUT_BATCH = 0.5


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _wait_for_news(state: Path, out_offset: int, err_offset: int, wait: float) -> None:
    """Return once the command ended, wrote past the offsets or lost its supervisor, or after
    ``wait`` seconds: one poll then answers at once when something happens, instead of the
    follower sleeping between polls (the end of a short benchmark process is seen within 50 ms)."""
    started = time.monotonic()
    deadline = started + wait
    while time.monotonic() < deadline:
        if (state / "exit.json").exists():
            return
        # New output is answered after OUTPUT_BATCH seconds: a chatty command costs a few polls
        # a second, not one per line.
        news = _size(state / "stdout") > out_offset or _size(state / "stderr") > err_offset
        if news and time.monotonic() - started >= OUTPUT_BATCH:
            return
        info = _read_json(state / "supervisor.json")
        if info is None or not _alive(info.get("pid")):
            return
        time.sleep(0.05)


def poll(state: Path, out_offset: int, err_offset: int, wait: float = 0.0) -> int:
    """One JSON line: has it started, has it ended (exit code), is its supervisor alive, the age
    of its heartbeat, and the output from the offsets on (at most CHUNK bytes of each). With
    ``wait``, first wait up to that many seconds for any of these to change."""
    if wait > 0:
        _wait_for_news(state, out_offset, err_offset, wait)
    info = _read_json(state / "supervisor.json") or {}
    ended = _read_json(state / "exit.json")
    try:
        age: float | None = time.time() - (state / "heartbeat").stat().st_mtime
    except OSError:
        age = None
    out_size, out = _chunk(state / "stdout", out_offset)
    err_size, err = _chunk(state / "stderr", err_offset)
    answer = {
        "started": bool(info),
        "alive": _alive(info.get("pid")),
        "heartbeat_age": age,
        "exit": ended,
        "out_size": out_size,
        "err_size": err_size,
        "out": out,
        "err": err,
    }
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


def cancel(state: Path) -> int:
    """End the command's process group; the supervisor records exit 143. Prints what it did."""
    info = _read_json(state / "supervisor.json") or {}
    sup, child = info.get("pid"), info.get("child")
    if _read_json(state / "exit.json") is not None:
        print("ended")
        return 0
    if _alive(sup) and isinstance(sup, int):
        os.kill(sup, signal.SIGTERM)
    elif isinstance(child, int):
        _kill_group(child, signal.SIGKILL)  # no supervisor left to record it: end the group directly
    deadline = time.monotonic() + 20
    while _alive(sup) and time.monotonic() < deadline:
        time.sleep(0.1)
    print("cancelled" if not _alive(sup) else "still-running")
    return 0


def failed(state: Path) -> int:
    """Exit 0 when the command ended with a non-zero code, or its supervisor is gone without
    having recorded an end (killed, or it could not write ``exit.json`` on a full disk)."""
    ended = _read_json(state / "exit.json")
    if ended is not None:
        return 0 if ended.get("exit_code") != 0 else 1
    info = _read_json(state / "supervisor.json")
    if info is None:
        # Its supervisor never wrote its state (a full disk), unless it is starting right now.
        try:
            return 0 if time.time() - (state / "command.sh").stat().st_mtime > 10 * BEAT else 1
        except OSError:
            return 0
    return 1 if _alive(info.get("pid")) else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "run":
        return run(Path(argv[1]))
    if len(argv) in (4, 5) and argv[0] == "poll":
        return poll(Path(argv[1]), int(argv[2]), int(argv[3]), float(argv[4]) if len(argv) == 5 else 0.0)
    if len(argv) == 2 and argv[0] == "cancel":
        return cancel(Path(argv[1]))
    if len(argv) == 2 and argv[0] == "failed":
        return failed(Path(argv[1]))
    sys.stderr.write("usage: supervise.py run STATE | poll STATE OUT ERR [WAIT] | cancel STATE | failed STATE\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
