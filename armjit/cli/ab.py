"""``invoke ab``: paired, interleaved A/B of two refs on one host (``--aa`` measures the noise floor)."""

from __future__ import annotations

import json
import sys

from invoke import Context

from armjit.analysis import stats
from armjit.cli._task import BENCH, BUILD, OUTPUT, REMOTE, SSH, TARGET, armjit_task
from armjit.cli.baseline import fleet_summary
from armjit.config import Settings
from armjit.flows.ab import run_ab
from armjit.flows.fleet_report import ab_fleet
from armjit.render.ab_report import ab_text, save_ab_plot, write_ab_notes
from armjit.render.progress import Progress
from armjit.seams import notes

__all__ = ["TASKS"]


@armjit_task(
    settings=TARGET + SSH + REMOTE + BUILD + BENCH + OUTPUT,
    help={
        "base": "the from ref (A)",
        "cand": "the to ref (B); default: the work branch",
        "blocks": "blocks per mode (one A and one B process each)",
        "aa": "run A against itself and store the noise floor for this host and benchmark",
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
    json_: bool = False,
    verbose: bool = False,
) -> None:
    """Build --base and --cand side by side on the host; interleave them in blocks; paired verdict."""
    notes_dir = settings.notes_path
    notes.ensure_writable([notes_dir / "findings.md"])
    if settings.hosts:
        args = {"base": base or None, "cand": cand or None, "blocks": int(blocks), "aa": aa}
        report = ab_fleet(settings, set(sources), reports=settings.reports_path, stream=sys.stderr, **args)
        fleet_summary(report, json_)
        return
    outcome = run_ab(
        settings,
        set(sources),
        base=base or None,
        cand=cand or None,
        blocks=int(blocks),
        aa=aa,
        reports=settings.reports_path,
        progress=Progress(sys.stderr, verbose=verbose),
    )
    plot = save_ab_plot(outcome.run, outcome.report)
    write_ab_notes(outcome.run, outcome.manifest, outcome.report, notes_dir, plot)
    if json_:
        print(json.dumps({"run_id": outcome.run.run_id, **outcome.manifest["report"], "noise_floor": outcome.noise}))
    else:
        print(ab_text(outcome.manifest, outcome.report, outcome.noise))
        if plot:
            print(f"plot: {outcome.run.path / plot}")


TASKS = [ab]
