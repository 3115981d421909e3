"""What an SSH session reads from the user's own files, and how it speaks about them: the
``Port`` of an ssh_config entry, warnings about known_hosts lines, and paramiko's own log."""

from __future__ import annotations

import logging
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from armjit.errors import UsageError

__all__ = ["config_port", "configured_identities", "control_dir", "quiet_library_logs", "warn_once"]


def config_port(looked_up: Mapping[str, Any], default: int, where: str) -> int:
    """The ``Port`` ssh_config gives a host, checked like a --port value."""
    text = str(looked_up.get("port", default)).strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise UsageError(f"ssh_config {where}: Port {text!r} is not a port number (1-65535)")
    return int(text)


_shown_warnings: set[str] = set()


def warn_once(lines: Iterable[str]) -> None:
    """Warnings about files the user keeps (known_hosts): on stderr, each once per process."""
    for line in lines:
        if line not in _shown_warnings:
            _shown_warnings.add(line)
            print(f"armjit: warning: {line}", file=sys.stderr)


def quiet_library_logs() -> None:
    """paramiko logs its own failures with tracebacks (``Exception (client): Error reading SSH
    protocol banner`` and 20 lines) before armjit's one line says the same. Its records are
    dropped unless debug logging is on (``invoke --debug`` / ``INVOKE_DEBUG``)."""
    logger = logging.getLogger("paramiko")
    debugging = bool(logging.getLogger().handlers) and logging.getLogger().isEnabledFor(logging.DEBUG)
    logger.propagate = debugging
    if not debugging and not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    if not debugging and threading.excepthook is not _quiet_prefetch:
        _previous_excepthook[:] = [threading.excepthook]
        threading.excepthook = _quiet_prefetch


_previous_excepthook = [threading.excepthook]  # the hook _quiet_prefetch hands every other thread to


def _quiet_prefetch(args: threading.ExceptHookArgs) -> None:
    """A download's read-ahead thread (paramiko's ``_prefetch_thread``) dies with the connection
    and prints its traceback; the download itself fails in armjit's thread, which says so in one
    line and fetches again. Every other thread's exception is printed as usual."""
    thread = args.thread.name if args.thread is not None else ""
    lost = isinstance(args.exc_value, (EOFError, OSError)) or type(args.exc_value).__name__ == "SSHException"
    if "_prefetch_thread" in thread and lost:
        return
    _previous_excepthook[0](args)


def configured_identities(ssh_config: Path | None, host: str) -> list[str]:
    """IdentityFile entries that ssh_config gives ``host`` and that exist (no connection made)."""
    import paramiko

    path = Path(ssh_config or "~/.ssh/config").expanduser()
    if not path.is_file():
        return []
    try:
        config = paramiko.SSHConfig.from_path(str(path))
    except (OSError, paramiko.SSHException):
        return []
    files: list[str] = list(config.lookup(host).get("identityfile", []))
    return [f for f in files if Path(f).expanduser().is_file()]


def control_dir() -> Path | None:
    """A private directory for ssh control sockets (short path: sockets are limited to ~100 bytes)."""
    if not hasattr(os, "getuid"):
        return None
    path = Path(tempfile.gettempdir()) / f"armjit-ssh-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except OSError:
        return None
    # Someone else's directory, or one others can write to, must not hold our sockets.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return path
