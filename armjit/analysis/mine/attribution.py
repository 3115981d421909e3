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
from collections.abc import Mapping, Sequence

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


def assign_benchmarks(logs: Sequence[ProcessLog], benchmarks: Mapping[str, Sequence[str]]) -> list[ProcessLog]:
    """Each log with its benchmark set, where the logs tell (else ``UNKNOWN_BENCH``).

    ``benchmarks``: the benchmarks each mode (log group) ran. In order of evidence: a benchmark
    already set (the log's directory), the only benchmark of its mode, a benchmark named in its
    ``__main__`` functions, ``__main__`` functions shared with logs already placed (in any mode: the
    same benchmark file runs in every mode), ``__main__`` functions of no placed benchmark when one
    benchmark of the mode is left, and last the pid range of a benchmark in the mode (benchmarks
    run one after another).
    """
    known: dict[int, str] = {}
    for i, log in enumerate(logs):
        names = benchmarks.get(log.group, ())
        if log.benchmark:
            known[i] = log.benchmark
        elif len(names) == 1:
            known[i] = names[0]
        elif names and (bench := _by_name(log, names)):
            known[i] = bench
    owner: dict[str, Counter[str]] = {}
    for i, bench in known.items():
        for name in main_names(logs[i]):
            owner.setdefault(name, Counter())[bench] += 1
    for i, log in enumerate(logs):
        names = benchmarks.get(log.group, ())
        if i in known or not names:
            continue
        votes: Counter[str] = Counter()
        for name in main_names(log):
            votes.update({b: n for b, n in owner.get(name, Counter()).items() if b in names})
        top = votes.most_common(2)
        if top and (len(top) == 1 or top[0][1] > top[1][1]):
            known[i] = top[0][0]
    for group, names in benchmarks.items():
        members = [i for i, log in enumerate(logs) if log.group == group]
        # Benchmarks run different files: __main__ functions no placed log shares belong to the
        # one benchmark of the mode that has no log yet, when there is exactly one.
        empty = [b for b in names if b not in {known[i] for i in members if i in known}]
        if len(empty) == 1:
            for i in members:
                found = main_names(logs[i])
                if i not in known and found and not any(n in owner for n in found):
                    known[i] = empty[0]
        _by_pid_range(logs, members, known)
    return [
        dataclasses.replace(log, benchmark=known.get(i, UNKNOWN_BENCH if benchmarks.get(log.group) else log.benchmark))
        for i, log in enumerate(logs)
    ]


def _by_pid_range(logs: Sequence[ProcessLog], members: Sequence[int], known: dict[int, str]) -> None:
    """Place the mode's remaining logs inside one benchmark's pid range, or just below it (the parent)."""
    ranges: dict[str, list[int]] = {}
    for i in members:
        pid = logs[i].pid
        if i in known and pid is not None:
            span = ranges.setdefault(known[i], [pid, pid])
            span[0], span[1] = min(span[0], pid), max(span[1], pid)
    for i in members:
        pid = logs[i].pid
        if i in known or pid is None:
            continue
        inside = [b for b, (lo, hi) in ranges.items() if lo <= pid <= hi]
        # pyperf's parent starts (lowest pid) before the workers of its benchmark: the next range up.
        above = sorted((lo, b) for b, (lo, _hi) in ranges.items() if lo > pid)
        if len(inside) == 1:
            known[i] = inside[0]
        elif not inside and above and not any(pid < hi < above[0][0] for _lo, hi in ranges.values()):
            known[i] = above[0][1]


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
