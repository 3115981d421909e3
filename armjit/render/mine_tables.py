"""Tables of ``invoke mine``: the console report, the notes.md and task_plan.md blocks, the size diff.

The same rows go to the console ("simple") and to the notes ("github").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from armjit.analysis.mine import (
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
    rows: list[list[Any]] = []
    for g in report.groups:
        if not g.processes:
            continue
        rows.append([g.label, len(g.processes), g.compiled_main, g.compiled - g.compiled_main, g.compiled, g.failed])
    agg = report.overall
    rows.append(
        ["total", len(agg.processes), agg.compiled_main, agg.compiled - agg.compiled_main, agg.compiled, agg.failed]
    )
    return rows


def _failure_groups(failures: Sequence[FailureSummary]) -> list[list[Any]]:
    groups: dict[str, list[FailureSummary]] = {}
    for f in failures:
        groups.setdefault(f.reason, []).append(f)
    rows = [
        [reason, len(fs), max(f.processes for f in fs), _names(f"{f.function} ({f.processes})" for f in fs)]
        for reason, fs in groups.items()
    ]
    return sorted(rows, key=lambda r: (-r[2], -r[1], r[0]))


def _sections(report: MineReport, top: int, fmt: TableFormat) -> list[tuple[str, str]]:
    """(title, table) pairs, the same for the console and the notes: what compiled, then what did not."""
    return _compile_sections(report, top, fmt) + _problem_sections(report, top, fmt)


def _compile_sections(report: MineReport, top: int, fmt: TableFormat) -> list[tuple[str, str]]:
    agg = report.overall
    out: list[tuple[str, str]] = []
    out.append(
        (
            "Compiles per mode",
            table(_compiles_rows(report), ["mode", "processes", "main", "other", "total", "failed"], fmt),
        )
    )
    out.append(
        (
            "Processes",
            table(
                [
                    [
                        Path(log.source).name,
                        log.group,
                        log.role,
                        log.lines,
                        log.compiled,
                        log.failed,
                        log.unrecognised,
                        "; ".join(log.notes),
                    ]
                    for log in agg.logs
                ],
                ["log", "mode", "role", "lines", "compiled", "failed", "unrecognised", "notes"],
                fmt,
            ),
        )
    )
    largest = by_size(agg)[:top]
    out.append(
        (
            f"Top {top} functions by code size",
            table(
                [[f.name, f.code_size, f.processes, f.compiles] for f in largest],
                ["function", "bytes", "processes", "compiles"],
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
    return out


def _problem_sections(report: MineReport, top: int, fmt: TableFormat) -> list[tuple[str, str]]:
    agg = report.overall
    out: list[tuple[str, str]] = []
    out.append(
        (
            "Failures by reason",
            table(_failure_groups(agg.failures)[:top], ["reason", "functions", "processes", "which (processes)"], fmt)
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


def render_report(report: MineReport, top: int = 10) -> str:
    """Console tables."""
    parts = [f"JIT logs: {report.label}"]
    for title, body in _sections(report, top, "simple"):
        parts.append(f"\n{title}\n{body}")
    parts.append(f"\nunrecognised lines: {report.overall.unrecognised}")
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
    for reason_row in _failure_groups(agg.failures)[:3]:
        bullets.append(f"- Failure: {reason_row[0]}: {reason_row[3]}")
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
    """Totals from -> to, then the functions that changed most (newly compiled or failing first)."""
    totals = table(
        [
            ["code size, all compiled functions", d.total_from, d.total_to, _fmt_pct(d.total_pct)],
            ["code size, functions compiled in both", d.common_from, d.common_to, _fmt_pct(d.common_pct)],
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
        ["function", "bytes from", "bytes to", "delta", "%", "status", "change"],
        fmt,
    )
    counts = ", ".join(
        f"{len(d.changed(c))} {c}"
        for c in ("newly compiled", "newly failing", "no longer compiled", "bigger", "smaller")
    )
    return f"{d.label_from} -> {d.label_to}\n{totals}\n\n{counts}\n{rows if interesting else 'no function changed'}\n"
