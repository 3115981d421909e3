"""The JIT activity gate: a mode counts as active only if its own workers' JIT logs say so.

Pure: takes log bytes (or per-log counts) and the mode's expectation, returns counts and a
verdict whose message names the likely cause (hook not loaded, variables not inherited, ...).

A baseline judges each benchmark of each mode from that benchmark's own logs
(``judge_benchmarks``). A benchmark that compiled no ``__main__`` function in a JIT mode is
flagged by name with the reason its logs show: the JIT refused its functions, none reached the
autojit threshold, or none is in the jitlist. That is a fact about the benchmark, so it is a
flag, not a failure, while another benchmark of the mode shows the JIT at work; when no
benchmark of a mode compiled anything, or the JIT did not run at all, the mode fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from armjit import jitlog
from armjit.cinderx.modes import JitMode

__all__ = [
    "BenchVerdict",
    "GateResult",
    "LogCounts",
    "ModeVerdict",
    "compiles_expected",
    "count_log",
    "judge_benchmarks",
    "judge_mode",
]

_FINISHED = b"Finished compiling "
_FINISHED_MAIN = b"Finished compiling __main__:"
_CALLS = re.compile(rb"Configuring JIT to compile functions after (\d+) calls")
_BYTECODES = re.compile(rb"Configuring JIT to compile functions after (\d+) interpreted bytecodes")
_JITLIST_LOADED = b"CINDERX_JIT_LIST_FILE has been specified"


@dataclass(frozen=True)
class LogCounts:
    name: str
    main: int
    total: int
    calls: int | None
    bytecodes: int | None
    jitlist: bool = False  # the JIT loaded a jitlist file
    # (function, reason) of each __main__ function the JIT did not compile, as the log miner reads it
    main_failures: tuple[tuple[str, str], ...] = ()

    @property
    def other(self) -> int:
        return self.total - self.main


def count_log(name: str, data: bytes) -> LogCounts:
    """The v5 gate's counts (``grep -c``) of one per-process log, the logged thresholds, and
    which ``__main__`` functions failed to compile (only read when none compiled: the cheap
    counts decide every other case)."""
    calls = _CALLS.search(data)
    bytecodes = _BYTECODES.search(data)
    main = data.count(_FINISHED_MAIN)
    failures: tuple[tuple[str, str], ...] = ()
    if main == 0 and b"__main__:" in data:
        failures = tuple(
            (f.function, f.reason) for f in jitlog.scan_bytes(data, name).failures if f.function.startswith("__main__:")
        )
    return LogCounts(
        name,
        main,
        data.count(_FINISHED),
        int(calls.group(1)) if calls else None,
        int(bytecodes.group(1)) if bytecodes else None,
        _JITLIST_LOADED in data,
        failures,
    )


@dataclass(frozen=True)
class GateResult:
    ok: bool
    message: str
    main: int
    total: int
    other: int
    threshold: int | None
    thresholds: dict[str, int | None] = field(default_factory=dict)
    processes_with_compiles: int = 0
    logs: int = 0


def compiles_expected(mode: JitMode, *, build: str) -> bool:
    """Whether the gate must see compiles: the mode's registry entry says so, and cinderx is
    loaded (``--build none`` runs a plain interpreter, where nothing can compile)."""
    return mode.expects_compiles and build != "none"


def judge_mode(
    mode: str,
    counts: list[LogCounts],
    *,
    expects_compiles: bool,
    expected_processes: int,
    hook_problem: str = "",
) -> GateResult:
    """Judge one mode from its per-process logs."""
    main = sum(c.main for c in counts)
    total = sum(c.total for c in counts)
    calls = next((c.calls for c in counts if c.calls is not None), None)
    bytecodes = next((c.bytecodes for c in counts if c.bytecodes is not None), None)
    active = sum(1 for c in counts if c.main > 0)

    def result(ok: bool, message: str) -> GateResult:
        thresholds = {"calls": calls, "bytecodes": bytecodes}
        return GateResult(ok, message, main, total, total - main, calls, thresholds, active, len(counts))

    if not expects_compiles:
        if total:
            return result(False, f"{mode}: the JIT compiled {total} functions in a mode that must not compile")
        return result(True, f"{mode}: nothing compiled, as expected")
    if main > 0:
        note = ""
        if active < expected_processes:
            note = f" (only {active} of {expected_processes} worker processes compiled __main__ functions)"
        return result(True, f"{mode}: {main} __main__ compiles in {active} processes{note}")
    if hook_problem:
        cause = hook_problem
    elif not counts:
        cause = (
            "no process wrote a JIT log: the JIT never started in the benchmark processes "
            "(hook not loaded, cinderx not importable, or PYTHONJITLOGFILE not inherited)"
        )
    elif len(counts) < max(2, expected_processes):
        cause = (
            f"only {len(counts)} process(es) wrote a JIT log, expected about {expected_processes} workers: the "
            "workers did not get the JIT variables (check --inherit-environ)"
        )
    else:
        cause = (
            f"the JIT ran in {len(counts)} processes but compiled no __main__ function "
            f"(threshold logged: calls={calls}, bytecodes={bytecodes}); a JIT variable such as the jitlist "
            "or threshold did not take effect in the workers"
        )
    return result(False, f"{mode}: JIT did not compile any __main__ functions: {cause}")


# Why a benchmark compiled nothing, when its logs show the JIT ran: flags, not failures.
FLAG_REFUSED = "refused"
FLAG_BELOW_THRESHOLD = "below-threshold"
FLAG_NOT_IN_JITLIST = "not-in-jitlist"


@dataclass(frozen=True)
class BenchVerdict:
    """One benchmark of one mode, judged from its own logs. ``flag`` names why it compiled no
    ``__main__`` function although the JIT ran ("" when it compiled, or when the JIT did not run,
    which ``ok`` False says)."""

    bench: str
    ok: bool
    message: str
    main: int
    total: int
    threshold: int | None
    thresholds: dict[str, int | None]
    processes_with_compiles: int
    logs: int
    flag: str = ""
    reason: str = ""
    evidence: tuple[str, ...] = ()  # "function: reason" of the refused functions

    @property
    def other(self) -> int:
        return self.total - self.main

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {"ok": self.ok, "message": self.message}
        if self.flag:
            found |= {"flag": self.flag, "reason": self.reason}
        if self.evidence:
            found["evidence"] = list(self.evidence)
        return found


@dataclass(frozen=True)
class ModeVerdict:
    """A mode: ok unless the JIT did not run in it or none of its benchmarks compiled anything."""

    ok: bool
    message: str
    benches: dict[str, BenchVerdict]

    @property
    def flagged(self) -> list[BenchVerdict]:
        return [v for v in self.benches.values() if v.flag]


def _flag(counts: list[LogCounts], calls: int | None, bytecodes: int | None) -> tuple[str, str, tuple[str, ...]]:
    """Why the JIT, which ran in these processes, compiled no __main__ function: the first reason
    the logs show, or ("", "", ()) when they show none."""
    failed: dict[str, str] = {}
    for c in counts:
        for function, why in c.main_failures:
            failed.setdefault(function, why)
    if failed:
        evidence = tuple(f"{function}: {why}" for function, why in sorted(failed.items()))
        shown = ", ".join(sorted(failed)[:3]) + (f" and {len(failed) - 3} more" if len(failed) > 3 else "")
        return FLAG_REFUSED, f"the JIT logged a refusal or failure for {shown}", evidence
    listed = any(c.jitlist for c in counts)
    if calls is not None:
        limit = f"{calls} calls" + (f" / {bytecodes} interpreted bytecodes" if bytecodes is not None else "")
        also = " (a jitlist also filters what it compiles)" if listed else ""
        return (
            FLAG_BELOW_THRESHOLD,
            f"no __main__ function reached the autojit threshold of {limit} the JIT logged{also}",
            (),
        )
    if listed:
        return (
            FLAG_NOT_IN_JITLIST,
            "the JIT loaded the jitlist and none of the benchmark's __main__ functions is in it",
            (),
        )
    return "", "", ()


def _judge_bench(
    mode: str,
    bench: str,
    counts: list[LogCounts],
    *,
    expects_compiles: bool,
    expected_processes: int,
    hook_problem: str,
) -> BenchVerdict:
    main = sum(c.main for c in counts)
    total = sum(c.total for c in counts)
    calls = next((c.calls for c in counts if c.calls is not None), None)
    bytecodes = next((c.bytecodes for c in counts if c.bytecodes is not None), None)
    active = sum(1 for c in counts if c.main > 0)
    thresholds = {"calls": calls, "bytecodes": bytecodes}
    where = f"{mode}/{bench}"

    def verdict(
        ok: bool, message: str, flag: str = "", reason: str = "", evidence: tuple[str, ...] = ()
    ) -> BenchVerdict:
        return BenchVerdict(
            bench, ok, message, main, total, calls, thresholds, active, len(counts), flag, reason, evidence
        )

    if not expects_compiles:
        if total:
            return verdict(False, f"{where}: the JIT compiled {total} functions in a mode that must not compile")
        return verdict(True, f"{where}: nothing compiled, as expected")
    if main > 0:
        note = ""
        if active < expected_processes:
            note = f" (only {active} of {expected_processes} worker processes compiled __main__ functions)"
        return verdict(True, f"{where}: {main} __main__ compiles in {active} processes{note}")
    none = f"{where}: JIT did not compile any __main__ functions: "
    if hook_problem:
        return verdict(False, none + hook_problem)
    if not counts:
        return verdict(
            False,
            none + "no process wrote a JIT log: the JIT never started in the benchmark processes "
            "(hook not loaded, cinderx not importable, or PYTHONJITLOGFILE not inherited)",
        )
    if len(counts) < max(2, expected_processes):
        return verdict(
            False,
            none + f"only {len(counts)} process(es) wrote a JIT log, expected about {expected_processes} "
            "workers: the workers did not get the JIT variables (check --inherit-environ)",
        )
    flag, reason, evidence = _flag(counts, calls, bytecodes)
    if flag:
        return verdict(True, f"{where}: compiled nothing ({flag}): {reason}", flag, reason, evidence)
    return verdict(
        False,
        none + f"the JIT ran in {len(counts)} processes but compiled no __main__ function "
        f"(threshold logged: calls={calls}, bytecodes={bytecodes}); a JIT variable such as the jitlist "
        "or threshold did not take effect in the workers",
    )


def judge_benchmarks(
    mode: str,
    counts: dict[str, list[LogCounts]],
    *,
    expects_compiles: bool,
    expected_processes: int,
    hook_problem: str = "",
) -> ModeVerdict:
    """Judge each benchmark of one mode from its own per-process logs, then the mode."""
    benches = {
        bench: _judge_bench(
            mode,
            bench,
            found,
            expects_compiles=expects_compiles,
            expected_processes=expected_processes,
            hook_problem=hook_problem,
        )
        for bench, found in counts.items()
    }
    failed = [v for v in benches.values() if not v.ok]
    if hook_problem and expects_compiles and not any(v.main for v in benches.values()):
        return ModeVerdict(False, f"{mode}: JIT did not compile any __main__ functions: {hook_problem}", benches)
    if failed:
        return ModeVerdict(False, "; ".join(v.message for v in failed), benches)
    if expects_compiles and benches and all(v.flag for v in benches.values()):
        why = "; ".join(f"{v.bench} ({v.flag}): {v.reason}" for v in benches.values())
        return ModeVerdict(False, f"{mode}: JIT did not compile any __main__ functions: {why}", benches)
    return ModeVerdict(True, "; ".join(v.message for v in benches.values()), benches)
