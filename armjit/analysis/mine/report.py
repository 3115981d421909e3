"""A mining report: every input parsed, added up overall and per mode, and its JSON shape.

Pure: the logs are read through jitlog.read_log, everything after is data in, records out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armjit.analysis.mine.attribution import assign_benchmarks, mark_deaths
from armjit.analysis.mine.inputs import LogInput
from armjit.errors import UsageError
from armjit.jitlog import (
    Aggregate,
    FormatTable,
    FunctionSummary,
    ProcessLog,
    aggregate,
    assign_roles,
    read_log,
    shipped_table,
)

__all__ = ["MineReport", "by_size", "mine", "report_json", "unsupported_opcodes"]


@dataclass(frozen=True)
class MineReport:
    """What ``invoke mine`` found: the whole set added up, one aggregate per mode, and one per
    benchmark and mode (label ``mode/bench``; only when the input names its benchmarks)."""

    label: str
    overall: Aggregate
    groups: tuple[Aggregate, ...]  # one per mode (or per log group), in input order
    benches: tuple[Aggregate, ...] = ()  # one per (mode, benchmark), label "mode/bench"
    formats: str = ""  # where the JIT's format strings came from


def mine(
    label: str, inputs: Sequence[LogInput], *, jobs: int | None = None, formats: FormatTable | None = None
) -> MineReport:
    """Parse every input and add them up; refuse input in which nothing is a JIT or crash line.

    ``formats``: the JIT's format strings (of the tree being built); default: the shipped table.
    """
    table = formats if formats is not None else shipped_table()
    parsed = [
        (i, dataclasses.replace(read_log(i.path, jobs=jobs, group=i.group, formats=table), benchmark=i.bench))
        for i in inputs
    ]
    console = [log.with_role("console") for i, log in parsed if i.console]
    benchmarks: dict[str, tuple[str, ...]] = {}
    for i, _log in parsed:
        benchmarks.setdefault(i.group, i.benchmarks)
    jit = _with_benchmarks([log for i, log in parsed if not i.console], benchmarks)
    # Roles per benchmark: each benchmark's pyperf run has its own parent and calibration process.
    jit = mark_deaths(_per_benchmark_roles(jit), console)
    logs = jit + console
    if not any(log.jit_lines or log.crashes for log in logs):
        why = "; ".join(f"{Path(log.source).name}: {', '.join(log.notes) or 'no JIT lines'}" for log in logs[:5])
        raise UsageError(f"nothing to mine: no CinderX JIT log lines in the input ({why})")
    order: list[str] = []
    for log in logs:
        if log.group not in order:
            order.append(log.group)
    groups = tuple(aggregate([log for log in logs if log.group == g], g) for g in order)
    pairs = list(dict.fromkeys((log.group, log.benchmark) for log in jit if log.benchmark))
    benches = tuple(
        aggregate([log for log in jit if (log.group, log.benchmark) == pair], f"{pair[0]}/{pair[1]}") for pair in pairs
    )
    return MineReport(label, aggregate(logs, label), groups, benches, table.origin)


def _per_benchmark_roles(logs: list[ProcessLog]) -> list[ProcessLog]:
    """assign_roles within each (mode, benchmark), in the order of ``logs``."""
    out: list[ProcessLog | None] = [None] * len(logs)
    for key in dict.fromkeys((log.group, log.benchmark) for log in logs):
        index = [i for i, log in enumerate(logs) if (log.group, log.benchmark) == key]
        for i, log in zip(index, assign_roles([logs[i] for i in index]), strict=True):
            out[i] = log
    return [log for log in out if log is not None]


def _with_benchmarks(logs: list[ProcessLog], benchmarks: dict[str, tuple[str, ...]]) -> list[ProcessLog]:
    """Each mode's logs placed in their benchmarks (kept in input order)."""
    if not any(benchmarks.values()) and not any(log.benchmark for log in logs):
        return logs
    return assign_benchmarks(logs, benchmarks)


def report_json(report: MineReport, top: int | None = None) -> dict[str, Any]:
    """The documented ``invoke mine --json`` shape (plus per-mode and per-input details)."""
    # One literal on purpose: it is the documented shape, and reads as the JSON it prints.
    agg = report.overall
    funcs = by_size(agg)
    if top is not None:
        funcs = funcs[:top]
    return {
        "label": report.label,
        "processes": len(agg.processes),
        "compiled": _compiled(agg),
        "failed": agg.failed,
        "failures": [
            {
                "function": f.function,
                "reason": f.reason,
                "kind": f.kind,
                "detail": f.detail,
                "opcode": f.opcode,
                "opcode_name": f.opcode_name,
                "count": f.processes,
                "events": f.events,
                "message": f.message,
                "format": f.format,
                "format_source": f.source,
            }
            for f in agg.failures
        ],
        "formats": report.formats,
        "functions": [
            {
                "name": f.name,
                "code_size": f.code_size,
                "code_size_total": f.total_size,
                "compile_us": f.compile_us,
                "count": f.processes,
                "compiles": f.compiles,
            }
            for f in funcs
        ],
        "thresholds": {"calls": agg.thresholds.calls, "bytecodes": agg.thresholds.bytecodes},
        "crashes": [{"signature": s, "count": p, "events": e} for s, p, e in agg.crashes],
        "unrecognised_lines": agg.unrecognised,
        "unsupported_opcodes": [
            {"opcode": op, "opcode_name": name, "count": n, "functions": fs}
            for op, name, n, fs in unsupported_opcodes(agg)
        ],
        "deopts": [
            {"function": d.function, "reason": d.reason, "description": d.description, "count": d.count}
            for d in agg.deopts
        ],
        "inlined": [
            {"caller": i.caller, "processes": i.processes, "callees": [{"name": c, "count": n} for c, n in i.callees]}
            for i in agg.inlined
        ],
        "modes": {g.label: _group_json(g) for g in report.groups},
        "benchmarks": {g.label: _group_json(g) for g in report.benches},
        "inputs": [
            {
                "path": log.source,
                "group": log.group,
                "role": log.role,
                "pid": log.pid,
                "benchmark": log.benchmark,
                "lines": log.lines,
                "compiled": log.compiled,
                "failed": log.failed,
                "unrecognised_lines": log.unrecognised,
                "notes": list(log.notes),
            }
            for log in agg.logs
        ],
    }


def _group_json(g: Aggregate) -> dict[str, Any]:
    return {
        "processes": len(g.processes),
        "compiled": _compiled(g),
        "failed": g.failed,
        "thresholds": {"calls": g.thresholds.calls, "bytecodes": g.thresholds.bytecodes},
    }


def _compiled(agg: Aggregate) -> dict[str, int]:
    return {"total": agg.compiled, "main": agg.compiled_main, "other": agg.compiled - agg.compiled_main}


def by_size(agg: Aggregate) -> list[FunctionSummary]:
    """Compiled functions, largest code first."""
    return sorted(agg.functions, key=lambda f: (-f.code_size, f.name))


def unsupported_opcodes(agg: Aggregate) -> list[tuple[int | None, str | None, int, list[str]]]:
    """(opcode, name, processes, functions) for unsupported/unhandled opcodes, most frequent first."""
    table: dict[tuple[int | None, str | None], list[Any]] = {}
    for f in agg.failures:
        if f.kind in ("unsupported-opcode", "unhandled-opcode"):
            rec = table.setdefault((f.opcode, f.opcode_name), [0, []])
            rec[0] += f.processes
            if f.function not in rec[1]:
                rec[1].append(f.function)
    return sorted(
        ((op, name, n, sorted(fs)) for (op, name), (n, fs) in table.items()),
        key=lambda r: (-r[2], r[0] or 0),
    )
