"""Tables of ``invoke mine``: the console report, the notes.md and task_plan.md blocks, the size diff.

The same rows go to the console ("simple") and to the notes ("github").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from armjit.analysis.mine import (
    UNKNOWN_BENCH,
    FunctionDiff,
    MineReport,
    SizeDiff,
    by_size,
    candidates,
    pct_change,
    unsupported_opcodes,
)
from armjit.jitlog import Aggregate, FailureSummary
from armjit.render.tables import TableFormat, table

__all__ = ["candidate_table", "mining_notes_block", "render_diff", "render_report"]


def _names(items: Iterable[str], limit: int = 6) -> str:
    items = list(items)
    more = f" (+{len(items) - limit})" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _compiles_rows(report: MineReport) -> list[list[Any]]:
    """One row per benchmark and mode when the logs say which benchmark, else one per mode."""
    rows: list[list[Any]] = []
    for g in report.benches or report.groups:
        if not g.processes:
            continue
        mode, _, bench = g.label.partition("/")
        rows.append(
            [mode, bench, len(g.processes), g.compiled_main, g.compiled - g.compiled_main, g.compiled, g.failed]
        )
    agg = report.overall
    rows.append(
        ["total", "", len(agg.processes), agg.compiled_main, agg.compiled - agg.compiled_main, agg.compiled, agg.failed]
    )
    return rows


NO_REASON = "(no line names it)"
DIED = "(the process died)"


def _group_key(f: FailureSummary) -> str:
    if f.kind == "unmatched":
        return NO_REASON
    if f.kind == "crash":
        return DIED
    return f.group


def _where(report: MineReport) -> dict[tuple[str, str], list[str]]:
    """(function, failure group) -> the benchmark/mode labels it failed in."""
    out: dict[tuple[str, str], list[str]] = {}
    unsplit = [g for g in report.groups if not any(log.benchmark for log in g.processes)]
    for g in [*report.benches, *unsplit]:
        for f in g.failures:
            labels = out.setdefault((f.function, _group_key(f)), [])
            if g.label not in labels:
                labels.append(g.label)
    return out


def _failure_rows(report: MineReport, failures: Sequence[FailureSummary]) -> list[list[Any]]:
    """One row per function and format: the format string (the group), the function, where, and
    the JIT's line verbatim. Groups with more processes first."""
    where = _where(report)
    weight: dict[str, int] = {}
    for f in failures:
        weight[_group_key(f)] = weight.get(_group_key(f), 0) + f.processes
    rows = []
    for f in failures:
        key = _group_key(f)
        line = f.message or f.reason
        rows.append([key, f.function, f.processes, ", ".join(where.get((f.function, key), [])), line])
    return sorted(rows, key=lambda r: (-weight[r[0]], r[0], -r[2], r[1]))


def _sections(report: MineReport, top: int, fmt: TableFormat) -> list[tuple[str, str]]:
    """(title, table) pairs, the same for the console and the notes: what compiled, then what did not."""
    return _compile_sections(report, top, fmt) + _problem_sections(report, top, fmt)


def _compile_sections(report: MineReport, top: int, fmt: TableFormat) -> list[tuple[str, str]]:
    agg = report.overall
    out: list[tuple[str, str]] = []
    split = bool(report.benches)
    title = "Compiles per benchmark and mode" if split else "Compiles per mode"
    if any(g.label.endswith(f"/{UNKNOWN_BENCH}") for g in report.benches):
        title += f" ({UNKNOWN_BENCH}: the logs name no __main__ function of any benchmark)"
    heads = ["mode", "benchmark", "processes", "main", "other", "total", "failed"]
    rows = _compiles_rows(report)
    out.append(
        (title, table(rows if split else [r[:1] + r[2:] for r in rows], heads if split else heads[:1] + heads[2:], fmt))
    )
    procs = [
        [
            Path(log.source).name,
            log.group,
            log.benchmark,
            log.role,
            log.lines,
            log.compiled,
            log.failed,
            log.unrecognised,
            "; ".join(log.notes),
        ]
        for log in agg.processes
    ]
    heads = ["log", "mode", "benchmark", "role", "lines", "compiled", "failed", "unrecognised", "notes"]
    if not split:
        procs, heads = [r[:2] + r[3:] for r in procs], heads[:2] + heads[3:]
    out.append(("Processes", table(procs, heads, fmt)))
    largest = by_size(agg)[:top]
    out.append(
        (
            f"Top {top} functions by code size (max bytes: its largest single compile; all bytes: summed over"
            " every compile in every process)",
            table(
                [[f.name, f.code_size, f.total_size, f.processes, f.compiles] for f in largest],
                ["function", "max bytes", "all bytes", "processes", "compiles"],
                fmt,
            ),
        )
    )
    by_time = sorted(agg.functions, key=lambda f: (-f.compile_us, f.name))[:top]
    out.append(
        (
            f"Top {top} functions by compile time",
            table(
                [[f.name, f"{f.compile_us / 1000:.1f}", f.mean_us, f.compiles] for f in by_time],
                ["function", "total ms", "mean µs", "compiles"],
                fmt,
            ),
        )
    )
    if agg.inlined:
        out.append(
            (
                f"Inlined calls ({agg.inlines} 'Inlining function' lines)",
                table(
                    [
                        [i.caller, _names((f"{c} ({n})" for c, n in i.callees), 4), i.processes]
                        for i in agg.inlined[:top]
                    ],
                    ["caller", "inlined callees (processes)", "processes"],
                    fmt,
                ),
            )
        )
    elif agg.inlines:
        out.append(("Inlined calls", f"{agg.inlines} 'Inlining function' lines"))
    return out


def _problem_sections(report: MineReport, top: int, fmt: TableFormat) -> list[tuple[str, str]]:
    agg = report.overall
    out: list[tuple[str, str]] = []
    origin = f" (formats: {report.formats})" if report.formats else ""
    out.append(
        (
            f"Failures by format: the JIT's format string, the function, and its line verbatim{origin}",
            table(
                _failure_rows(report, agg.failures)[:top],
                ["format", "function", "processes", "where", "line"],
                fmt,
            )
            if agg.failures
            else "none",
        )
    )
    ops = unsupported_opcodes(agg)[:top]
    out.append(
        (
            "Unsupported opcodes",
            table([[op, name, n, _names(fs)] for op, name, n, fs in ops], ["opcode", "name", "count", "functions"], fmt)
            if ops
            else "none",
        )
    )
    out.append(
        (
            "Crash signatures",
            table([[s, p, e] for s, p, e in agg.crashes[:top]], ["signature", "processes", "events"], fmt)
            if agg.crashes
            else "none",
        )
    )
    out.append(
        (
            "Effective thresholds (from the logs)",
            table(
                [
                    [g.label, g.thresholds.calls, g.thresholds.bytecodes, _disagree(g)]
                    for g in report.groups
                    if g.processes
                ],
                ["mode", "calls", "bytecodes", "note"],
                fmt,
            ),
        )
    )
    if agg.deopts:
        out.append(
            (
                "Deopts",
                table(
                    [[d.function, d.reason, d.description, d.count] for d in agg.deopts[:top]],
                    ["function", "reason", "description", "count"],
                    fmt,
                ),
            )
        )
    return out


def _disagree(agg: Aggregate) -> str:
    notes = [f"{name} differ: {values}" for name, values in agg.threshold_values if len(values) > 1]
    if agg.thresholds.calls is None and agg.thresholds.bytecodes is None:
        notes.append("not logged (jitlist only, or PYTHONJITDEBUG off)")
    return "; ".join(notes)


def _step_logs(report: MineReport) -> str:
    """One line for the step logs read for crash signs (they are no JIT logs: no table of them)."""
    steps = [log for log in report.overall.logs if log.role == "console"]
    if not steps:
        return ""
    signs = sum(len(log.crashes) for log in steps)
    return f"step logs read for crash signs: {len(steps)} ({signs} crash signatures)"


def render_report(report: MineReport, top: int = 10) -> str:
    """Console tables."""
    parts = [f"JIT logs: {report.label}"]
    for title, body in _sections(report, top, "simple"):
        parts.append(f"\n{title}\n{body}")
    tail = [t for t in (_step_logs(report),) if t]
    if report.overall.unrecognised:
        tail.append(f"unrecognised lines (no known JIT format): {report.overall.unrecognised}")
    if tail:
        parts.append("\n" + "\n".join(tail))
    return "\n".join(parts) + "\n"


def mining_notes_block(report: MineReport, top: int = 10) -> str:
    """The notes.md section: a few plain findings, then the same tables in markdown."""
    agg = report.overall
    roles: dict[str, int] = {}
    for log in agg.processes:
        roles[log.role] = roles.get(log.role, 0) + 1
    bullets = [
        f"- Source: {report.label}; {len(agg.processes)} processes ("
        + ", ".join(f"{n} {r}" for r, n in sorted(roles.items()))
        + ")",
        f"- Compiled: {agg.compiled} (`__main__`: {agg.compiled_main}, other: {agg.compiled - agg.compiled_main});"
        f" failed: {agg.failed} function compiles",
    ]
    groups: dict[str, list[str]] = {}
    for row in _failure_rows(report, agg.failures):
        groups.setdefault(row[0], []).append(f"{row[1]} ({row[2]})")
    for key, functions in list(groups.items())[:3]:
        bullets.append(f"- Failure `{key}`: {_names(functions)}")
    for op, name, n, fs in unsupported_opcodes(agg)[:3]:
        bullets.append(f"- Unsupported opcode {op} ({name}) in {n} processes: {_names(fs)}")
    for sig, procs, _ in agg.crashes[:3]:
        bullets.append(f"- Crash in {procs} processes: `{sig}`")
    if agg.unrecognised:
        bullets.append(f"- {agg.unrecognised} log lines were not recognised")
    text = [f"## JIT log mining: {report.label}", "", *bullets]
    for title, body in _sections(report, top, "github"):
        if title == "Processes":
            continue
        text += ["", f"### {title}", "", body]
    return "\n".join(text) + "\n"


def candidate_table(report: MineReport, top: int = 10) -> str:
    """The task_plan.md decision table: what failed or crashed, how often, and where to look."""
    rows = [[c.target, c.reason, c.occurrences, c.area] for c in candidates(report)[:top]]
    head = f"## Candidates from the JIT logs ({report.label})\n\n"
    if not rows:
        return head + "No compile failures or crashes in the logs.\n"
    return head + table(rows, ["function", "reason", "occurrences", "likely source area"], "github") + "\n"


def _fmt_pct(p: float | None) -> str:
    return "" if p is None else f"{p:+.1f}%"


def render_diff(d: SizeDiff, top: int = 10, fmt: TableFormat = "simple") -> str:
    """Totals from -> to, then the functions that changed most (newly compiled or failing first).

    "max bytes" is a function's largest single compile in any process, as in the mine tables."""
    totals = table(
        [
            ["max bytes summed, all compiled functions", d.total_from, d.total_to, _fmt_pct(d.total_pct)],
            ["max bytes summed, functions compiled in both", d.common_from, d.common_to, _fmt_pct(d.common_pct)],
            [
                "Finished compiling events",
                d.compiled_from,
                d.compiled_to,
                _fmt_pct(pct_change(d.compiled_from, d.compiled_to)),
            ],
            [
                "failed function compiles",
                d.failed_from,
                d.failed_to,
                _fmt_pct(pct_change(d.failed_from, d.failed_to)),
            ],
        ],
        ["", d.label_from, d.label_to, "change"],
        fmt,
    )
    key: Callable[[FunctionDiff], Any] = lambda r: (r.change == "same", -abs(r.delta or 0), r.name)  # noqa: E731
    interesting = sorted((r for r in d.rows if r.change != "same"), key=key)[:top]
    rows = table(
        [
            [r.name, r.size_from, r.size_to, r.delta, _fmt_pct(r.pct), f"{r.status_from} -> {r.status_to}", r.change]
            for r in interesting
        ],
        ["function", "max bytes from", "max bytes to", "delta", "%", "status", "change"],
        fmt,
    )
    counts = ", ".join(
        f"{len(d.changed(c))} {c}"
        for c in ("newly compiled", "newly failing", "no longer compiled", "bigger", "smaller")
    )
    return f"{d.label_from} -> {d.label_to}\n{totals}\n\n{counts}\n{rows if interesting else 'no function changed'}\n"
