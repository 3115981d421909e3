"""Reading logs from bytes or files: one scan, a second pass for start names only when needed.

Errors reading a file are one-line UsageErrors (a missing file, a directory, no permission).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from armjit.errors import UsageError
from armjit.jitlog import limits
from armjit.jitlog.formats import FormatTable
from armjit.jitlog.parallel import default_jobs, scan_parallel
from armjit.jitlog.patterns import PID_NAME
from armjit.jitlog.records import ProcessLog
from armjit.jitlog.scanner import Scanner
from armjit.jitlog.start_names import add_start_names, needs_names, start_names
from armjit.jitlog.tallies import Tallies, to_process_log

__all__ = ["log_identity", "read_log", "scan_bytes"]


def scan_bytes(
    data: bytes,
    source: str = "<bytes>",
    *,
    pid: int | None = None,
    group: str = "",
    formats: FormatTable | None = None,
) -> ProcessLog:
    """One log held in memory, scanned as read_log scans a file (same tallies, same second pass)."""
    scanner = Scanner(source)
    scanner.feed(data)
    scanner.flush()
    if needs_names(scanner.state):
        add_start_names(scanner.state, start_names([data]))
    return to_process_log(scanner.state, source, pid, group, "single", formats)


def _file_blocks(path: Path, chunk_size: int) -> Iterable[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(chunk_size):
            yield block


def log_identity(path: Path) -> tuple[str, int | None]:
    """(group, pid) from a per-process log name: ``jit_1234.log`` -> ("jit", 1234)."""
    m = PID_NAME.match(path.name)
    if m and m["stem"]:
        return m["stem"], int(m["pid"])
    return path.stem or path.name, None


def read_log(
    path: Path,
    *,
    jobs: int | None = None,
    chunk_size: int = limits.CHUNK_SIZE,
    group: str | None = None,
    formats: FormatTable | None = None,
) -> ProcessLog:
    """Stream one file through the scanner; big files are split between ``jobs`` processes."""
    stem, pid = log_identity(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise UsageError(f"{path} is a directory, not a log file")
        with path.open("rb") as probe:
            probe.read(1)
    except UsageError:
        raise
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if jobs is None:
        jobs = default_jobs()
    state: Tallies | None = None
    if jobs > 1 and size >= limits.PARALLEL_MIN:
        state = scan_parallel(path, size, jobs, chunk_size)
    if state is None:
        scanner = Scanner(str(path), chunk_size=chunk_size)
        try:
            with path.open("rb") as handle:
                while block := handle.read(chunk_size):
                    scanner.feed(block)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
        scanner.flush()
        state = scanner.state
    if needs_names(state):
        try:
            add_start_names(state, start_names(_file_blocks(path, chunk_size)))
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return to_process_log(state, str(path), pid, group if group is not None else stem, "single", formats)
