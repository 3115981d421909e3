"""``invoke history [--bench B] [--mode M] [--host H] [--since DATE] [--regressions]``: every run
record under the reports directory as one table per question, trend charts, and regressions."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

from invoke import Context

from armjit.analysis import history as hist
from armjit.analysis.history_load import load_history
from armjit.cli._task import OUTPUT, armjit_task
from armjit.config import Settings
from armjit.errors import UsageError
from armjit.render.history_report import findings_block, history_table, regression_lines, rows_of
from armjit.seams import notes
from armjit.seams.memo import JsonMemo

__all__ = ["TASKS", "history"]

BLOCK = "history"
CHARTS = "history"  # REPORTS/history/: the trend charts
RECHECKS = "history-rechecks.json"  # REPORTS/: the bootstrap rechecks already computed


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _since(text: str) -> str:
    """An ISO date or time, as the prefix a run's start time is compared with."""
    if not text:
        return ""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since {text!r}: expected a date like 2026-11-21 or a time like 2026-11-21T09:00") from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when.isoformat()


@armjit_task(
    settings=("repo", *OUTPUT),
    help={
        "bench": "only these benchmarks (comma-separated)",
        "mode": "only these JIT modes (comma-separated)",
        "host": "only these hosts, as run records name them (comma-separated)",
        "since": "only runs started on or after this UTC date or time (2026-11-21, 2026-11-21T09:00)",
        "regressions": "list only the regressions between consecutive runs, each rechecked with the bootstrap",
        "plots": "write a trend chart per host and mode under REPORTS/history (needs matplotlib; --no-plots: none)",
        "notes": "write the table and chart links into findings.md (--no-notes: print only)",
    },
)
def history(
    c: Context,
    settings: Settings,
    sources: dict[str, str],
    bench: str = "",
    mode: str = "",
    host: str = "",
    since: str = "",
    regressions: bool = False,
    plots: bool = True,
    notes_: bool = True,
) -> None:
    """Every run record as history: median with interval, ratio to the previous run, verdicts."""
    started = time.monotonic()
    reports = settings.reports_path
    found = load_history(reports)
    points = hist.select(found.points, bench=_names(bench), mode=_names(mode), host=_names(host), since=_since(since))
    for line in found.skipped:
        print(f"left out: {line}", file=sys.stderr)
    if not points:
        what = "no finished run with benchmark results" if not found.points else "no run matches the filter"
        raise UsageError(f"{what} under {reports / 'runs'} ({found.runs} run records read)")
    series = hist.build_rows(points, delta=found.delta, paired=found.paired)
    if regressions:
        flagged = [r for s in series for r in s.rows if r.verdict == "regression"]
        memo = JsonMemo(reports / RECHECKS)
        checked = [_confirm(r, found.delta(r.point.host, r.point.benchmark, r.point.mode), memo) for r in flagged]
        memo.save()
        lines = regression_lines([r for r in checked if r.regression])
        print("\n".join(lines) if lines else "no regression between consecutive runs")
        unknown = sum(1 for s in series for r in s.rows if "δ unknown" in r.reason)
        if unknown:
            print(
                f"{unknown} pair(s) could not be judged: no between-run δ stored for their host "
                "(`invoke compare --from A --to B --record-noise` on two runs of the same code)",
                file=sys.stderr,
            )
        return
    rows = rows_of(series)
    # The answer first: the charts below take seconds when they must be drawn.
    print(history_table(rows), flush=True)
    charts: list[tuple[str, str]] = []
    notes_dir = settings.notes_path
    if plots:
        charts = _write_charts(series, reports, notes_dir)
    marked = sum(1 for r in rows if r.regression)
    summary = (
        f"{len(rows)} results from {len({r.point.run_id for r in rows})} runs on "
        f"{len({r.point.host for r in rows})} host(s); {marked} marked regression(s) (unpaired screen: "
        "`invoke history --regressions` rechecks them)"
    )
    print(summary, file=sys.stderr)
    if notes_:
        # findings.md keeps what a reader needs: each series' latest run and every marked
        # regression; the whole table is a command away.
        latest = {id(s.rows[-1]) for s in series}
        kept = [r for r in rows if id(r) in latest or r.regression]
        notes.upsert_block(notes_dir / notes.FINDINGS, BLOCK, findings_block(kept, charts, [summary]))
    print(f"history of {found.runs} run records in {time.monotonic() - started:.2f}s", file=sys.stderr)


def _confirm(row: hist.HistoryRow, delta: float | None, memo: JsonMemo) -> hist.HistoryRow:
    """``hist.confirm`` with its bootstrap looked up first: about 0.3 s a pair, and the same
    values give the same seeded result."""
    key = hist.recheck_key(row)
    stored = memo.get(key)
    known = hist.estimate_from_json(stored) if isinstance(stored, dict) else None
    checked = hist.confirm(row, delta, estimate=known)
    if known is None and checked.estimate is not None:
        memo.put(key, hist.estimate_to_json(checked.estimate))
    return checked


def _write_charts(
    series: list[hist.Series], reports: os.PathLike[str], notes_dir: os.PathLike[str]
) -> list[tuple[str, str]]:
    from pathlib import Path

    from armjit.render.plot import SKIPPED_NOTE
    from armjit.render.trend_plot import chart_name, save_trend

    groups: dict[tuple[str, str], list[hist.Series]] = {}
    for s in series:
        groups.setdefault((s.host, s.mode), []).append(s)
    links = []
    for (host_name, mode_name), group in sorted(groups.items()):
        path = Path(reports) / CHARTS / chart_name(host_name, mode_name)
        chart = save_trend(group, path, title=f"{host_name} / {mode_name}")
        if chart is None:
            print(SKIPPED_NOTE, file=sys.stderr)
            return []
        links.append((f"{host_name} / {mode_name}", Path(os.path.relpath(chart.path, notes_dir)).as_posix()))
        print(f"chart: {chart.path}{'' if chart.drawn else ' (unchanged)'}", file=sys.stderr)
    return links


TASKS = [history]
