"""History rows -> the table ``invoke history`` prints and the findings.md block that links the charts."""

from __future__ import annotations

from collections.abc import Sequence

from armjit.analysis.history import HistoryRow, Series
from armjit.render.tables import TableFormat, fmt_seconds, table

__all__ = ["HEADERS", "findings_block", "history_table", "regression_lines", "rows_of"]

HEADERS = (
    "time (UTC)",
    "commit",
    "host",
    "benchmark",
    "mode",
    "median [95% CI]",
    "ratio to previous",
    "verdict vs previous (unpaired)",
    "paired verdict",
)


def _cell_median(row: HistoryRow) -> str:
    text = fmt_seconds(row.point.median)
    if row.interval is not None:
        text += f" [{fmt_seconds(row.interval[0])}, {fmt_seconds(row.interval[1])}]"
    return text


def _cell_ratio(row: HistoryRow) -> str:
    if row.ratio is None:
        return ""
    text = f"{row.ratio:.3f}"
    if row.estimate is not None:
        text += f" [{row.estimate.ci_lo:.3f}, {row.estimate.ci_hi:.3f}]"
    return text


def _cell_verdict(row: HistoryRow) -> str:
    if not row.verdict:
        return "first run" if row.previous is None else "too few processes"
    if row.regression:
        return "REGRESSION" + (" (bootstrap confirmed)" if row.confirmed else "")
    if row.verdict in ("inconclusive", "no clear improvement"):
        # The reason is long; its first clause says what blocked the claim (a claimless mark says why).
        first = row.reason.removeprefix("inconclusive: ").split(";")[0]
        return f"{row.verdict}: {first[:60]}" if first else row.verdict
    return row.verdict


def rows_of(series: Sequence[Series]) -> list[HistoryRow]:
    """All rows, in time order across series."""
    return sorted((r for s in series for r in s.rows), key=lambda r: (r.point.started, r.point.run_id))


def history_table(rows: Sequence[HistoryRow], fmt: TableFormat = "simple") -> str:
    cells = [
        (
            r.point.started[:19].replace("T", " "),
            r.point.commit[:10] or "-",
            r.point.host,
            r.point.benchmark,
            r.point.mode,
            _cell_median(r),
            _cell_ratio(r),
            _cell_verdict(r),
            r.paired,
        )
        for r in rows
    ]
    return table(cells, HEADERS, fmt)


def regression_lines(rows: Sequence[HistoryRow]) -> list[str]:
    """One line per regression: where, between which runs, by how much, and why it counts."""
    lines = []
    for r in rows:
        if not r.regression or r.previous is None or r.estimate is None:
            continue
        p, e = r.point, r.estimate
        lines.append(
            f"{p.host} {p.benchmark}/{p.mode}: {r.previous.run_id} -> {p.run_id} "
            f"({r.previous.commit[:10] or '-'} -> {p.commit[:10] or '-'}) ratio {e.ratio:.3f} "
            f"[{e.ci_lo:.3f}, {e.ci_hi:.3f}]" + (f" (fleet {p.fleet})" if p.fleet else "") + f": {r.reason}"
        )
    return lines


def findings_block(rows: Sequence[HistoryRow], charts: Sequence[tuple[str, str]], notes: Sequence[str]) -> str:
    """The ``history`` block of findings.md: the table, the chart links (title, relative path)."""
    lines = ["## History", "", "The latest run of each series, and every marked regression:", ""]
    lines += [history_table(rows, "github"), ""]
    if charts:
        lines += ["Trend charts (median per run, 95% interval as a band, commits as labels):", ""]
        lines += [f"- [{title}]({path})" for title, path in charts]
        lines.append("")
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines).rstrip() + "\n"
