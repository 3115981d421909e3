"""A set of logs (one mode, one run, or any files) added up per function, failure and crash."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from armjit.jitlog.records import Deopt, ProcessLog, Thresholds, failure_reason

__all__ = ["Aggregate", "FailureSummary", "FunctionSummary", "aggregate"]


@dataclass(frozen=True)
class FunctionSummary:
    name: str
    processes: int  # processes that compiled it
    compiles: int
    code_size: int  # largest size seen in any process
    min_code_size: int
    compile_us: int  # summed over all compiles

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

    @property
    def reason(self) -> str:
        return failure_reason(self.kind, self.detail, self.opcode, self.opcode_name)


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
        return sum(f.code_size for f in self.functions)


def aggregate(logs: Sequence[ProcessLog], label: str = "all") -> Aggregate:
    funcs: dict[str, list[int]] = {}
    fails: dict[tuple[str, str, str, int | None, str | None], list[int]] = {}
    crashes: dict[str, list[int]] = {}
    deopts: Counter[tuple[str, str, str]] = Counter()
    calls: Counter[int] = Counter()
    bytecodes: Counter[int] = Counter()
    for log in logs:
        for f in log.functions:
            rec = funcs.setdefault(f.name, [0, 0, 0, f.code_size, 0])
            rec[0] += 1
            rec[1] += f.compiles
            rec[2] = max(rec[2], f.code_size)
            rec[3] = min(rec[3], f.code_size)
            rec[4] += f.compile_us
        for x in log.failures:
            frec = fails.setdefault((x.function, x.kind, x.detail, x.opcode, x.opcode_name), [0, 0])
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
        failures=tuple(FailureSummary(*key, *r) for key, r in sorted(fails.items(), key=_fail_key)),
        crashes=tuple((s, r[0], r[1]) for s, r in sorted(crashes.items(), key=lambda i: (-i[1][0], i[0]))),
        # The value most processes logged; disagreements stay visible in threshold_values.
        thresholds=Thresholds(
            calls.most_common(1)[0][0] if calls else None,
            bytecodes.most_common(1)[0][0] if bytecodes else None,
        ),
        threshold_values=(("calls", tuple(sorted(calls))), ("bytecodes", tuple(sorted(bytecodes)))),
        deopts=tuple(Deopt(f, r, d, n) for (f, r, d), n in deopts.most_common()),
    )


def _fail_key(item: tuple[tuple[str, str, str, int | None, str | None], list[int]]) -> tuple[Any, ...]:
    (function, kind, detail, _op, _name), (processes, _events) = item
    return (-processes, kind, detail, function)
