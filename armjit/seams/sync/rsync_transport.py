"""The rsync transport: ``--modify-window=-1`` compares
mtimes to the nanosecond, because rsync's default whole-second quick check misses a same-size
edit made within the same second (reference gotcha). rsync itself deletes nothing: what the
source dropped is deleted beforehand, and only if armjit wrote it (``sync.delete_written``).

Only the options are built here; the Host adds its transport (``Host.rsync_push``), so the ssh
command line, its key and its host-key policy stay in the hosts seam.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from armjit.errors import ArmjitError, ConnectionLost
from armjit.seams import workdir
from armjit.seams.hosts import Host
from armjit.seams.sync.source import Source

__all__ = ["MIN_RSYNC_NS", "parse_rsync_stats", "rsync_options", "rsync_version", "sync_rsync"]

MIN_RSYNC_NS = (3, 1, 3)  # receivers older than this do not understand --modify-window=-1
_TIMEOUT = 1800


def rsync_options(
    *,
    keep: Sequence[str],
    filter_file: Path | None,
    exact_times: bool,
    compress: bool,
) -> list[str]:
    """rsync's options, without source, target or transport (pure, so tests can check them)."""
    argv = ["-a", "--no-D", "--no-owner", "--no-group", "--stats", "--protect-args"]
    argv.append("--modify-window=-1" if exact_times else "--checksum")
    if compress:
        argv.append("-z")
    argv += [f"--filter=P /{k}/" for k in keep]
    argv.append(f"--filter=P /{workdir.OWNER_NAME}")  # never replaced by a file of the same name
    if filter_file is not None:
        argv.append(f"--filter=merge {filter_file}")
    return argv


def parse_rsync_stats(text: str) -> tuple[int, int, int]:
    """(regular files transferred, files deleted, bytes sent) from ``rsync --stats``."""

    def number(label: str) -> int:
        match = re.search(rf"^{label}:\s*([\d,.]+)", text, re.MULTILINE)
        return int(re.sub(r"[,.]", "", match.group(1))) if match else 0

    return (
        number("Number of regular files transferred"),
        number("Number of deleted files"),
        number("Total bytes sent"),
    )


def _rsync_pattern(path: str) -> str:
    # rsync reads backslashes as escapes only in patterns that contain a wildcard.
    if any(c in path for c in "*?["):
        return re.sub(r"([*?\[\\])", r"\\\1", path)
    return path


def rsync_version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"version (\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(g) for g in match.groups()) if match else None


# rsync's exits for a connection that broke: 10 socket I/O, 12 protocol data stream, 30 and 35
# timeouts, 255 ssh itself (the session died).
_CONNECTION_EXITS = (10, 12, 30, 35, 255)


def sync_rsync(
    host: Host, source: Source, dest: str, keep: Sequence[str], compress: bool, remote_version: tuple[int, ...]
) -> tuple[int, int, int]:
    filter_file: Path | None = None
    if source.worktree:
        # Sender-side "hide" rules: .git and ignored files are not sent (copies of them that an
        # earlier deploy wrote are deleted like any other file the source does not have).
        rules = ["H /.git", *(f"H /{_rsync_pattern(p)}" for p in source.hidden if "\n" not in p)]
        fd, name = tempfile.mkstemp(prefix="armjit-rsync-", suffix=".rules")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(rules) + "\n")
        filter_file = Path(name)
    options = rsync_options(
        keep=keep, filter_file=filter_file, exact_times=remote_version >= MIN_RSYNC_NS, compress=compress
    )
    try:
        result = host.rsync_push(options, source.root, dest, timeout=_TIMEOUT)
    finally:
        if filter_file is not None:
            filter_file.unlink(missing_ok=True)
    if result.timed_out:
        raise ArmjitError(f"rsync to {host.name}:{dest} did not finish within {_TIMEOUT // 60} minutes")
    if not result.ok:
        # The first line says why (ssh's or rsync's complaint); the last is rsync's generic summary.
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        why = lines[0] if lines else "no error output"
        message = f"rsync to {host.name}:{dest} failed (exit {result.exit_code}): {why}"
        if result.exit_code in _CONNECTION_EXITS:
            raise ConnectionLost(message)  # sending again finishes it: rsync keeps what arrived whole
        raise ArmjitError(message)
    return parse_rsync_stats(result.stdout)
