"""Comparison reports (armjit.analysis.compare) -> the from -> to table, console text, and the
findings.md block of one iteration."""

from __future__ import annotations

from typing import Any

from armjit.analysis import stats
from armjit.analysis.compare import NOT_INTERLEAVED, Comparison, Report
from armjit.render.tables import TableFormat, table

__all__ = ["HEADERS", "comparison_findings_block", "render_table", "render_text"]

HEADERS = (
    "mode",
    "benchmark",
    "from (s/iter)",
    "to (s/iter)",
    stats.RATIO_HEADER,
    "95% CI",
    "%Δ (lower is better)",
    "verdict",
    "reason",
)


def _row(c: Comparison) -> list[Any]:
    e = c.estimate
    return [
        c.mode or "-",
        c.benchmark,
        f"{e.from_median:.6g}",
        f"{e.to_median:.6g}",
        f"{e.ratio:.4f}",
        f"[{e.ci_lo:.4f}, {e.ci_hi:.4f}]",
        f"{stats.pct_change(e.ratio):+.2f}%",
        c.verdict,
        c.reason,
    ]


def render_table(report: Report, fmt: TableFormat = "simple") -> str:
    """The from -> to table; the headers carry the sign convention, and the unit: instruction
    counts are labelled as such, never as time."""
    headers = HEADERS
    if any(c.unit == "instructions" for c in report.comparisons):
        headers = ("mode", "benchmark", "from (instructions)", "to (instructions)", *HEADERS[4:])
    return table([_row(c) for c in report.comparisons], headers, fmt=fmt)


def render_text(report: Report) -> str:
    """Console output: what was compared, the notes, the table, the overall verdict."""
    lines = [f"from {report.from_label} -> to {report.to_label}"]
    lines += [f"note: {n}" for n in report.notes]
    lines += ["", render_table(report), "", f"Verdict: {report.overall_text}."]
    return "\n".join(lines)


def comparison_findings_block(report: Report, *, title: str, plot: str | None = None) -> str:
    """Markdown for one findings.md iteration: the from -> to table and one explicit verdict sentence."""
    design = (
        "paired: interleaved blocks of one from and one to process in random order"
        if report.paired
        else "unpaired: separate runs, not interleaved"
    )
    lines = [
        f"### {title}",
        "",
        f"From `{report.from_label}` -> to `{report.to_label}` ({design}). "
        "Ratio = to/from, %Δ = (ratio-1)·100: lower is better.",
        "",
        render_table(report, fmt="github"),
        "",
    ]
    notes = [n for n in report.notes if n != NOT_INTERLEAVED]
    lines += [f"- {n}" for n in notes]
    if notes:
        lines.append("")
    if plot:
        lines += [f"![from -> to per process]({plot})", ""]
    lines.append(f"Verdict: {report.overall_text}.")
    return "\n".join(lines) + "\n"
