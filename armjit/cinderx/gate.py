"""The JIT activity gate: a mode counts as active only if its own workers' JIT logs say so.

Pure: takes log bytes (or per-log counts) and the mode's expectation, returns counts and a
verdict whose message names the likely cause (hook not loaded, variables not inherited, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from armjit.cinderx.modes import JitMode

__all__ = ["GateResult", "LogCounts", "compiles_expected", "count_log", "judge_mode"]

_FINISHED = b"Finished compiling "
_FINISHED_MAIN = b"Finished compiling __main__:"
_CALLS = re.compile(rb"Configuring JIT to compile functions after (\d+) calls")
_BYTECODES = re.compile(rb"Configuring JIT to compile functions after (\d+) interpreted bytecodes")


@dataclass(frozen=True)
class LogCounts:
    name: str
    main: int
    total: int
    calls: int | None
    bytecodes: int | None

    @property
    def other(self) -> int:
        return self.total - self.main


def count_log(name: str, data: bytes) -> LogCounts:
    """The v5 gate's counts (``grep -c``) of one per-process log, plus the logged thresholds."""
    calls = _CALLS.search(data)
    bytecodes = _BYTECODES.search(data)
    return LogCounts(
        name,
        data.count(_FINISHED_MAIN),
        data.count(_FINISHED),
        int(calls.group(1)) if calls else None,
        int(bytecodes.group(1)) if bytecodes else None,
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
