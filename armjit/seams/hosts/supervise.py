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

``poll`` answers one JSON line (state, new output from the given offsets, base64) so that a
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
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


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


def poll(state: Path, out_offset: int, err_offset: int) -> int:
    """One JSON line: has it started, has it ended (exit code), is its supervisor alive, the age
    of its heartbeat, and the output from the offsets on (at most CHUNK bytes of each)."""
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


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "run":
        return run(Path(argv[1]))
    if len(argv) == 4 and argv[0] == "poll":
        return poll(Path(argv[1]), int(argv[2]), int(argv[3]))
    if len(argv) == 2 and argv[0] == "cancel":
        return cancel(Path(argv[1]))
    sys.stderr.write("usage: supervise.py run STATE | poll STATE OUT ERR | cancel STATE\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
