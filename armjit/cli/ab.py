"""``invoke ab``: paired, interleaved A/B of two refs on one host (``--aa`` measures the noise floor)."""

from __future__ import annotations

import json
import sys
from typing import Any

from invoke import Context

from armjit.analysis import stats
from armjit.cli._task import BENCH, BUILD, OUTPUT, REMOTE, SSH, TARGET, armjit_task
from armjit.cli.baseline import fleet_summary
from armjit.config import Settings
from armjit.errors import UsageError
from armjit.flows.ab import run_ab
from armjit.flows.fleet_report import ab_fleet
from armjit.render.ab_report import ab_text, save_ab_plot, save_sequence_plot, write_ab_notes
from armjit.render.progress import Progress
from armjit.seams import notes

__all__ = ["DEFAULT_BUDGET", "TASKS", "parse_duration"]

DEFAULT_BUDGET = 600.0
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def _pair(text: str) -> tuple[str, str] | None:
    if not text:
        return None
    parts = tuple(p.strip() for p in text.split(","))
    if len(parts) != 2:
        raise UsageError(f"--mode-pair {text!r}: expected FROM,TO, e.g. nojit,jitlist")
    return parts[0], parts[1]


def parse_duration(text: str, flag: str) -> float:
    """``600``, ``90s``, ``10m``, ``1.5h`` -> seconds, or a one-line UsageError."""
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _UNITS else ""
    number = raw[: len(raw) - len(unit)]
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        raise UsageError(f"{flag} {text!r}: expected a duration such as 600, 90s, 10m or 1h") from None
    if not 0 < seconds < float("inf"):
        raise UsageError(f"{flag} {text!r}: must be a positive duration")
    return seconds


@armjit_task(
    settings=TARGET + SSH + REMOTE + BUILD + BENCH + OUTPUT,
    help={
        "base": "the from ref (A)",
        "cand": "the to ref (B); default: the work branch",
        "blocks": "blocks per mode (one A and one B process each)",
        "aa": "run A against itself and store the noise floor for this host and benchmark",
        "until_decided": "add blocks until the interval settles (beyond ±δ or inside it) or the budget is spent",
        "budget": "time limit of --until-decided for the blocks: 600, 90s, 10m, 1h (a bare number is seconds)",
        "mode_pair": "FROM,TO: one build, A in JIT mode FROM and B in mode TO (e.g. nojit,jitlist)",
        "json": "print the comparisons as JSON",
        "verbose": "stream every output line",
    },
)
def ab(
    c: Context,
    settings: Settings,
    sources: dict[str, str],
    base: str = "",
    cand: str = "",
    blocks: int = stats.DEFAULT_BLOCKS,
    aa: bool = False,
    until_decided: bool = False,
    budget: str = "",
    mode_pair: str = "",
    json_: bool = False,
    verbose: bool = False,
) -> None:
    """Build --base and --cand side by side on the host; interleave them in blocks; paired verdict."""
    # ab's design fixes these: never take a flag and then ignore it (a config file's value is the
    # baseline's business).
    typed = {name for name, source in sources.items() if source == "command line"}
    if "processes" in typed or ("bench_runner" in typed and settings.bench_runner != "pyperf"):
        raise UsageError(
            "--processes and --bench-runner pyperformance do not apply to ab: it runs one pyperf worker per "
            "side in each block (set --blocks, or --until-decided)"
        )
    notes_dir = settings.notes_path
    notes.ensure_writable([notes_dir / "findings.md"])
    args: dict[str, Any] = {
        "base": base or None,
        "cand": cand or None,
        "blocks": int(blocks),
        "aa": aa,
        "until_decided": until_decided,
        "mode_pair": _pair(mode_pair),
        "budget": parse_duration(budget, "--budget") if budget else (DEFAULT_BUDGET if until_decided else 0.0),
    }
    if settings.hosts:
        report = ab_fleet(settings, set(sources), reports=settings.reports_path, stream=sys.stderr, **args)
        fleet_summary(report, json_)
        return
    outcome = run_ab(
        settings, set(sources), reports=settings.reports_path, progress=Progress(sys.stderr, verbose=verbose), **args
    )
    plot = save_ab_plot(outcome.run, outcome.report)
    sequence_plot = save_sequence_plot(outcome.run, outcome.manifest, outcome.report)
    write_ab_notes(outcome.run, outcome.manifest, outcome.report, notes_dir, plot, sequence_plot)
    if json_:
        print(json.dumps({"run_id": outcome.run.run_id, **outcome.manifest["report"], "noise_floor": outcome.noise}))
    else:
        print(ab_text(outcome.manifest, outcome.report, outcome.noise))
        for written in (plot, sequence_plot):
            if written:
                print(f"plot: {outcome.run.path / written}")


TASKS = [ab]
