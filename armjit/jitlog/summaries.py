"""A set of logs (one mode, one run, or any files) added up per function, failure and crash."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from armjit.jitlog.records import Deopt, ProcessLog, Thresholds, failure_reason

__all__ = ["Aggregate", "FailureSummary", "FunctionSummary", "InlineSummary", "aggregate"]


@dataclass(frozen=True)
class FunctionSummary:
    name: str
    processes: int  # processes that compiled it
    compiles: int
    code_size: int  # bytes of the largest single compile seen in any process
    min_code_size: int
    compile_us: int  # summed over all compiles
    total_size: int = 0  # bytes summed over all compiles in all processes

    @property
    def main(self) -> bool:
        return self.name.startswith("__main__:")

    @property
    def mean_us(self) -> int:
        return self.compile_us // self.compiles if self.compiles else 0


@dataclass(frozen=True)
class FailureSummary:
    function: str
    kind: str
    detail: str
    opcode: int | None
    opcode_name: str | None
    processes: int
    events: int
    message: str = ""  # the JIT's line, verbatim
    format: str = ""  # the format string it was written with
    source: str = ""  # the file of that format string

    @property
    def reason(self) -> str:
        return failure_reason(self.kind, self.detail, self.opcode, self.opcode_name)

    @property
    def group(self) -> str:
        """What failures are grouped by: the JIT's format string, else the reason."""
        return self.format or self.reason


@dataclass(frozen=True)
class InlineSummary:
    """One caller's inlined callees, as the inliner logged them (``Inlining function X into Y``)."""

    caller: str
    callees: tuple[tuple[str, int], ...]  # callee, processes that logged it
    processes: int  # processes in which anything was inlined into the caller


@dataclass(frozen=True)
class Aggregate:
    """A set of logs (one mode, one run, or any files) added up; ``count`` fields = processes."""

    label: str
    logs: tuple[ProcessLog, ...]
    functions: tuple[FunctionSummary, ...]
    failures: tuple[FailureSummary, ...]
    crashes: tuple[tuple[str, int, int], ...]  # signature, processes, events
    thresholds: Thresholds
    threshold_values: tuple[tuple[str, tuple[int, ...]], ...] = field(default=())
    deopts: tuple[Deopt, ...] = ()
    inlined: tuple[InlineSummary, ...] = ()

    @property
    def processes(self) -> tuple[ProcessLog, ...]:
        """Logs of JIT processes (console transcripts excluded)."""
        return tuple(log for log in self.logs if log.role != "console")

    @property
    def compiled(self) -> int:
        return sum(log.compiled for log in self.processes)

    @property
    def compiled_main(self) -> int:
        return sum(log.compiled_main for log in self.processes)

    @property
    def failed(self) -> int:
        return sum(log.failed for log in self.processes)

    @property
    def unrecognised(self) -> int:
        return sum(log.unrecognised for log in self.processes)

    @property
    def total_code_size(self) -> int:
        """Sum over functions of the largest single compile of each."""
        return sum(f.code_size for f in self.functions)

    @property
    def inlines(self) -> int:
        """``Inlining function`` lines in all processes."""
        return sum(log.inlines for log in self.processes)


def aggregate(logs: Sequence[ProcessLog], label: str = "all") -> Aggregate:
    funcs: dict[str, list[int]] = {}
    fails: dict[tuple[str, str, str, int | None, str | None, str, str, str], list[int]] = {}
    inlined: dict[str, dict[str, int]] = {}
    callers: Counter[str] = Counter()
    crashes: dict[str, list[int]] = {}
    deopts: Counter[tuple[str, str, str]] = Counter()
    calls: Counter[int] = Counter()
    bytecodes: Counter[int] = Counter()
    for log in logs:
        for f in log.functions:
            rec = funcs.setdefault(f.name, [0, 0, 0, f.code_size, 0, 0])
            rec[0] += 1
            rec[1] += f.compiles
            rec[2] = max(rec[2], f.code_size)
            rec[3] = min(rec[3], f.code_size)
            rec[4] += f.compile_us
            rec[5] += f.total_size
        for callee, caller, _n in log.inlined:
            per = inlined.setdefault(caller, {})
            per[callee] = per.get(callee, 0) + 1
        callers.update({caller for _callee, caller, _n in log.inlined})
        for x in log.failures:
            key = (x.function, x.kind, x.detail, x.opcode, x.opcode_name, x.message, x.format, x.source)
            frec = fails.setdefault(key, [0, 0])
            frec[0] += 1
            frec[1] += x.events
        for c in log.crashes:
            crec = crashes.setdefault(c.signature, [0, 0])
            crec[0] += 1
            crec[1] += c.events
        for d in log.deopts:
            deopts[(d.function, d.reason, d.description)] += d.count
        if log.role != "console":
            if log.thresholds.calls is not None:
                calls[log.thresholds.calls] += 1
            if log.thresholds.bytecodes is not None:
                bytecodes[log.thresholds.bytecodes] += 1
    return Aggregate(
        label=label,
        logs=tuple(logs),
        functions=tuple(FunctionSummary(n, *r) for n, r in sorted(funcs.items())),
        failures=tuple(
            FailureSummary(f, kind, detail, op, opname, r[0], r[1], message, fmt, src)
            for (f, kind, detail, op, opname, message, fmt, src), r in sorted(fails.items(), key=_fail_key)
        ),
        crashes=tuple((s, r[0], r[1]) for s, r in sorted(crashes.items(), key=lambda i: (-i[1][0], i[0]))),
        # The value most processes logged; disagreements stay visible in threshold_values.
        thresholds=Thresholds(
            calls.most_common(1)[0][0] if calls else None,
            bytecodes.most_common(1)[0][0] if bytecodes else None,
        ),
        threshold_values=(("calls", tuple(sorted(calls))), ("bytecodes", tuple(sorted(bytecodes)))),
        deopts=tuple(Deopt(f, r, d, n) for (f, r, d), n in deopts.most_common()),
        inlined=tuple(
            InlineSummary(caller, tuple(sorted(per.items(), key=lambda i: (-i[1], i[0]))), callers[caller])
            for caller, per in sorted(inlined.items(), key=lambda i: (-len(i[1]), i[0]))
        ),
    )


def _fail_key(
    item: tuple[tuple[str, str, str, int | None, str | None, str, str, str], list[int]],
) -> tuple[Any, ...]:
    (function, kind, detail, _op, _name, _msg, _fmt, _src), (processes, _events) = item
    return (-processes, kind, detail, function)
