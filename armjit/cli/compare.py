"""``invoke compare --from X --to Y [--json] [--delta D] [--mode M] [--plot FILE] [--record-noise]``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from invoke import Context

from armjit.analysis import stats
from armjit.analysis.between_runs import measure_between_run_noise, store_between_run_noise
from armjit.analysis.compare import (
    compare_inputs,
    load_input,
    noise_path,
    parse_delta,
    report_json,
)
from armjit.cli._task import armjit_task
from armjit.config import Settings
from armjit.errors import UsageError
from armjit.flows.control_scope import scope_for_runs
from armjit.render.compare_report import render_text
from armjit.seams.store import RunStore

__all__ = ["TASKS"]


def _emit(text: str) -> None:
    """Print, tolerating a closed pipe (``invoke compare --json | head``)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit; point it at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@armjit_task(
    settings=("reports",),
    help={
        "from": "the baseline: a run id, a run directory, 'latest', or a pyperf JSON(.gz) file",
        "to": "the candidate: same kinds as --from",
        "json": "print the comparisons as JSON (ratio = to/from, lower is better)",
        "delta": "practical threshold, e.g. 0.02 or 2% (default: the host's stored between-run noise; none: δ unknown)",
        "mode": "compare only this JIT mode (needed when a multi-mode run meets a plain pyperf file)",
        "plot": "also write a PNG (per-process values and the ratio interval) here; needs matplotlib",
        "seed": "bootstrap seed (same inputs and seed -> same intervals)",
        "record-noise": "from and to are runs of the same code: store their spread (with any other such runs) "
        "as this host's between-run noise, which later unpaired verdicts use as δ",
    },
)
def compare(
    c: Context,
    settings: Settings,
    sources: dict[str, str],
    from_: str = "",
    to: str = "",
    json_: bool = False,
    delta: str = "",
    mode: str = "",
    plot: str = "",
    seed: int = stats.DEFAULT_SEED,
    record_noise: bool = False,
) -> None:
    """Compare two runs or pyperf files per mode and benchmark: ratio to/from and a verdict.

    Unpaired (not interleaved): a 95% interval and real improvement / no clear improvement /
    regression / inconclusive."""
    if not from_ or not to:
        raise UsageError("give both --from and --to (run ids, run directories, 'latest' or pyperf JSON files)")
    explicit = parse_delta(delta) if delta else None
    reports = settings.reports_path
    store = RunStore(reports / "runs")
    a = load_input(from_, store)
    b = load_input(to, store)
    stored: list[str] = []
    if record_noise:
        # Measured and written before the comparison, so the verdict below already uses it.
        stored = store_between_run_noise(noise_path(reports), measure_between_run_noise(a, b, store))
    scope = scope_for_runs(None, a.path, b.path) if a.is_run and b.is_run else None
    report = compare_inputs(
        a, b, delta=explicit, noise_file=noise_path(reports), mode=mode or None, seed=int(seed), control_scope=scope
    )
    plot_note = None
    if plot:
        from armjit.render.plot import SKIPPED_NOTE, PlotItem, save_plot

        items = [
            PlotItem(f"{cmp.mode or '-'} / {cmp.benchmark}", cmp.estimate, cmp.decision.delta)
            for cmp in report.comparisons
        ]
        written = save_plot(items, Path(plot), title=f"{report.from_label} -> {report.to_label}")
        plot_note = f"plot: {written}" if written else SKIPPED_NOTE
    if json_:
        data = report_json(report)
        if plot:
            data["plot"] = plot_note
        if record_noise:
            data["recorded_noise"] = stored
        _emit(json.dumps(data, indent=2))
    else:
        _emit("\n".join([render_text(report), *stored]))
        if plot_note:
            print(plot_note, file=sys.stderr)


TASKS = [compare]
