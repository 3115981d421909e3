"""Scanning one big file with several processes: cut at newlines, scan the ranges, add the tallies.

The order inside a file does not matter to the scanner's tallies (see scanner.py), so ranges can
be scanned apart and merged by addition; only the "last value wins" fields take the later range.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from armjit.jitlog.scanner import Scanner
from armjit.jitlog.tallies import Tallies

__all__ = ["default_jobs", "scan_parallel"]


def default_jobs() -> int:
    """Processes read_log uses by default: the CPUs this process may run on, at most 4."""
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except AttributeError:  # not on Linux
        return max(1, min(4, os.cpu_count() or 1))


def _scan_range(path: str, start: int, end: int, chunk_size: int) -> Tallies:
    """One worker's share of a file: the lines between two newline-aligned offsets."""
    scanner = Scanner(path, chunk_size=chunk_size)
    with Path(path).open("rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            block = handle.read(min(chunk_size, left))
            if not block:
                break
            left -= len(block)
            scanner.feed(block)
    scanner.flush()
    return scanner.state


def _boundaries(path: Path, size: int, jobs: int) -> list[int]:
    """Split offsets just after a newline, so no line is cut between two workers."""
    cuts = [0]
    with path.open("rb") as handle:
        for i in range(1, jobs):
            pos = max(size * i // jobs, cuts[-1])
            handle.seek(pos)
            while True:
                block = handle.read(1 << 16)
                if not block:
                    pos = size
                    break
                nl = block.find(b"\n")
                if nl >= 0:
                    pos += nl + 1
                    break
                pos += len(block)
            cuts.append(pos)
    cuts.append(size)
    return cuts


def scan_parallel(path: Path, size: int, jobs: int, chunk_size: int) -> Tallies | None:
    """Scan byte ranges in worker processes and add them up; None if processes are unavailable.

    The calling process scans the first range itself while ``jobs - 1`` workers scan the others,
    so ``jobs`` CPUs are busy and no process sits waiting. Workers are forked (no re-import) and
    send back only their tallies, so the merge costs a few milliseconds.
    """
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing.context import BaseContext

    cuts = _boundaries(path, size, jobs)
    ranges = [(a, b) for a, b in itertools.pairwise(cuts) if b > a]
    if len(ranges) < 2:
        return None
    context: BaseContext
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform: the default start method re-imports the module
        context = multiprocessing.get_context()
    try:
        with ProcessPoolExecutor(max_workers=len(ranges) - 1, mp_context=context) as pool:
            futures: list[Future[Tallies]] = [
                pool.submit(_scan_range, str(path), a, b, chunk_size) for a, b in ranges[1:]
            ]
            total = _scan_range(str(path), *ranges[0], chunk_size)
            parts = [f.result() for f in futures]
    except (OSError, BrokenProcessPool, NotImplementedError, PermissionError):
        return None
    for part in parts:
        total.merge(part)
    # Only the last range can end without a newline; an inner "truncated" flag cannot happen.
    total.truncated = parts[-1].truncated
    return total
