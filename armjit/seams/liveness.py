"""Is the process that started a run still there?

A run records its owner when it starts: pid, hostname, and where cheap (Linux) the kernel's boot
id and the process start time. A reader decides from that record alone, without writing:

- another hostname, no pid, or a system without signal 0 (Windows): *cannot tell* (None);
- this host rebooted since (boot id differs): gone, every process of that boot is;
- no process with that pid, or a zombie: gone;
- a process with that pid but another start time: gone (the pid was reused);
- otherwise: alive.

"Cannot tell" is never turned into "gone": a run on another machine may well be running.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["owner", "owner_alive", "process_start"]

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _boot_id() -> str | None:
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (which may hold spaces and parentheses)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    tail = text.rsplit(")", 1)
    return tail[1].split() if len(tail) == 2 else None


def process_start(pid: int) -> int | None:
    """The process start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or None."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def owner() -> dict[str, Any]:
    """This process, as a run records it when it starts."""
    facts: dict[str, Any] = {"pid": os.getpid(), "hostname": socket.gethostname()}
    boot, start = _boot_id(), process_start(os.getpid())
    if boot is not None:
        facts["boot_id"] = boot
    if start is not None:
        facts["process_start"] = start
    return facts


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    fields = _stat_fields(pid)
    return not (fields and fields[0] == "Z")  # a zombie has exited, only its parent has not reaped it


def owner_alive(recorded: Mapping[str, Any] | None) -> bool | None:
    """True or False when this machine can tell whether the recorded owner still runs, else None."""
    if not isinstance(recorded, Mapping):
        return None
    pid, hostname = recorded.get("pid"), recorded.get("hostname")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or not isinstance(hostname, str):
        return None
    # On Windows os.kill(pid, 0) would terminate the process: there is no harmless probe here.
    if os.name != "posix" or hostname != socket.gethostname():
        return None
    boot = _boot_id()
    if recorded.get("boot_id") and boot and recorded["boot_id"] != boot:
        return False
    if not _pid_exists(pid):
        return False
    started, now = recorded.get("process_start"), process_start(pid)
    return not (isinstance(started, int) and now is not None and started != now)
