"""Which benchmark each process log belongs to, and which unfinished compiles died with their process.

A run's logs sit in one directory per mode (``jitlogs/<mode>/jit_<pid>.log``, or
``jitlogs/<mode>/<bench>/`` when a run keeps them per benchmark); with several benchmarks per
mode, a log says which one it is through its ``__main__`` functions (pyperf runs the benchmark
file as ``__main__``). Pure: logs in, logs with their benchmark or failure kind set out.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Sequence

from armjit.jitlog import ProcessLog

__all__ = ["UNKNOWN_BENCH", "assign_benchmarks", "main_names", "mark_deaths"]

UNKNOWN_BENCH = "?"


def main_names(log: ProcessLog) -> set[str]:
    """The ``__main__`` functions a log names: compiled, failed, or inlined."""
    names = {f.name for f in log.functions} | {f.function for f in log.failures}
    names |= {n for callee, caller, _ in log.inlined for n in (callee, caller)}
    return {n for n in names if n.startswith("__main__:")}


def _words(bench: str) -> set[str]:
    base = re.sub(r"^bm_", "", bench.lower())
    return {base, base.replace("_", ""), *(w for w in re.split(r"[_\-.]", base) if len(w) > 3)}


def _by_name(log: ProcessLog, benchmarks: Sequence[str]) -> str | None:
    """The one benchmark whose name appears in the log's ``__main__`` functions."""
    names = " ".join(main_names(log)).lower()
    scores = {b: sum(names.count(w) for w in _words(b)) for b in benchmarks}
    best = max(scores.values(), default=0)
    winners = [b for b, s in scores.items() if s == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


def assign_benchmarks(logs: Sequence[ProcessLog], benchmarks: Sequence[str]) -> list[ProcessLog]:
    """Each log with its benchmark set, where the logs tell (else ``UNKNOWN_BENCH``).

    In order of evidence: a benchmark already set (the log's directory), the only benchmark of
    the run, a benchmark named in its ``__main__`` functions, ``__main__`` functions shared with
    logs already placed, and last the pid range of a benchmark (benchmarks run one after another).
    """
    if not benchmarks:
        return list(logs)
    known: dict[int, str] = {}
    for i, log in enumerate(logs):
        if log.benchmark:
            known[i] = log.benchmark
        elif len(benchmarks) == 1:
            known[i] = benchmarks[0]
        elif bench := _by_name(log, benchmarks):
            known[i] = bench
    owner: dict[str, Counter[str]] = {}
    for i, bench in known.items():
        for name in main_names(logs[i]):
            owner.setdefault(name, Counter())[bench] += 1
    for i, log in enumerate(logs):
        if i in known:
            continue
        votes: Counter[str] = Counter()
        for name in main_names(log):
            votes.update(owner.get(name, Counter()))
        if votes:
            top = votes.most_common(2)
            if len(top) == 1 or top[0][1] > top[1][1]:
                known[i] = top[0][0]
    ranges: dict[str, list[int]] = {}
    for i, bench in known.items():
        pid = logs[i].pid
        if pid is not None:
            span = ranges.setdefault(bench, [pid, pid])
            span[0], span[1] = min(span[0], pid), max(span[1], pid)
    for i, log in enumerate(logs):
        if i in known or log.pid is None:
            continue
        pid = log.pid
        inside = [b for b, (lo, hi) in ranges.items() if lo <= pid <= hi]
        # pyperf's parent starts (lowest pid) before the workers of its benchmark: the next range up.
        above = sorted((lo, b) for b, (lo, _hi) in ranges.items() if lo > pid)
        if len(inside) == 1:
            known[i] = inside[0]
        elif not inside and above and not any(pid < hi < above[0][0] for _lo, hi in ranges.values()):
            known[i] = above[0][1]
    return [dataclasses.replace(log, benchmark=known.get(i, UNKNOWN_BENCH)) for i, log in enumerate(logs)]


def mark_deaths(logs: Sequence[ProcessLog], console: Sequence[ProcessLog]) -> list[ProcessLog]:
    """Unfinished compiles with no reason become "crash" only where the process died.

    Evidence of death: the log has no JIT shutdown line (``CinderX JIT Total Compilation Time``)
    and a crash signature was seen for it: in the log itself (an abort) or in a console
    transcript of the same mode (a worker's signal, pyperf's "Benchmark died"). Otherwise the
    start stays "unmatched": no reason logged.
    """
    crashes: dict[str, list[str]] = {}
    for c in console:
        crashes.setdefault(c.group, []).extend(x.signature for x in c.crashes)
    out = []
    for log in logs:
        signs = [c.signature for c in log.crashes] + crashes.get(log.group, []) + crashes.get("console", [])
        if log.exits or not signs or not any(f.kind == "unmatched" for f in log.failures):
            out.append(log)
            continue
        detail = f"no JIT shutdown line; {signs[0]}"
        failures = tuple(
            dataclasses.replace(f, kind="crash", detail=detail) if f.kind == "unmatched" else f for f in log.failures
        )
        out.append(dataclasses.replace(log, failures=failures))
    return out
