"""Comparison reports (armjit.analysis.compare) -> the from -> to table, console text, and the
findings.md block of one iteration."""

from __future__ import annotations

from typing import Any

from armjit.analysis import stats
from armjit.analysis.compare import NOT_INTERLEAVED, Comparison, Report
from armjit.render.tables import TableFormat, table

__all__ = [
    "CONTROLLED_HEADERS",
    "HEADERS",
    "comparison_findings_block",
    "control_lines",
    "render_controlled",
    "render_table",
    "render_text",
]

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


CONTROLLED_HEADERS = (
    "mode",
    "benchmark",
    "from: mode/control",
    "to: mode/control",
    "ratio of ratios (lower is better)",
    "95% CI",
    "%Δ",
    "control moved",
    "verdict",
    "standing",
    "reason",
)


def _controlled_row(c: Comparison) -> list[Any]:
    k = c.controlled
    assert k is not None
    e = k.estimate
    return [
        k.mode,
        k.benchmark,
        f"{e.from_median:.4f}",
        f"{e.to_median:.4f}",
        f"{e.ratio:.4f}",
        f"[{e.ci_lo:.4f}, {e.ci_hi:.4f}]",
        f"{stats.pct_change(e.ratio):+.2f}%",
        f"{k.control} {stats.pct_change(k.control_moved):+.1f}%",
        k.verdict,
        k.standing,
        _joined(k.decision.reason, k.decision.warning),
    ]


def _joined(*texts: str | None) -> str:
    """ "; "-separated parts of several texts, each part once (a warning often repeats the reason)."""
    parts: list[str] = []
    for text in texts:
        for part in (text or "").split("; "):
            if part and part not in parts:
                parts.append(part)
    return "; ".join(parts)


def render_controlled(report: Report, fmt: TableFormat = "simple") -> str:
    """The drift-cancelled table: each JIT mode's ratio to the control within each run, compared across runs."""
    return table([_controlled_row(c) for c in report.comparisons if c.controlled is not None], CONTROLLED_HEADERS, fmt)


def control_lines(report: Report) -> list[str]:
    """What the control says and which verdict carries each row's claim (empty without a control)."""
    scope = report.control_scope
    if scope is None or not report.controlled:
        return []
    control = report.controlled[0].control
    head = (
        f"Drift-cancelled view: each JIT mode divided by {control} within its own run, then to/from "
        f"(the machine's drift between the runs scales both and cancels). Control: {scope.state}, {scope.reason}."
    )
    if scope.valid:
        claim = f"Claim: the drift-cancelled verdicts carry the JIT modes' claims; {control}'s own move is the machine."
    elif scope.state == "unknown":
        claim = "Claim: the raw verdicts carry it; the drift-cancelled ones are advisory (changed files unknown)."
    else:
        claim = f"Claim: the raw verdicts carry it; {control} is no control for this change."
    return [head, claim]


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
    lines += ["", render_table(report)]
    extra = control_lines(report)
    if extra:
        lines += ["", *extra, "", render_controlled(report)]
    lines += ["", f"Verdict: {report.overall_text}."]
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
    extra = control_lines(report)
    if extra:
        lines += [*extra, "", render_controlled(report, fmt="github"), ""]
    if plot:
        lines += [f"![from -> to per process]({plot})", ""]
    lines.append(f"Verdict: {report.overall_text}.")
    return "\n".join(lines) + "\n"
