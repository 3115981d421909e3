"""``invoke ab``: paired, interleaved A/B of two refs on one host (``--aa`` measures the noise floor)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from invoke import Context

from armjit import stats
from armjit.ab import run_ab
from armjit.config import Settings
from armjit.progress import Progress
from armjit.report_ab import ab_text, save_ab_plot, write_ab_notes
from armjit.tasks._common import friendly_errors
from armjit.tasks._settings import settings_task

__all__ = ["TASKS"]


@friendly_errors
def _ab(
    c: Context,
    settings: Settings,
    sources: dict[str, str],
    *,
    base: str = "",
    cand: str = "",
    blocks: int = stats.DEFAULT_BLOCKS,
    aa: bool = False,
    json_output: bool = False,
    verbose: bool = False,
) -> None:
    """Build --base and --cand side by side on the host; interleave them in blocks; paired verdict."""
    from armjit import notes

    reports = Path(settings.reports)
    repo = Path(settings.repo).expanduser() if settings.repo else None
    notes_dir = Path(settings.notes_dir) if settings.notes_dir else notes.notes_dir(repo, reports)
    notes.ensure_writable([notes_dir / "findings.md"])
    outcome = run_ab(
        settings,
        set(sources),
        base=base or None,
        cand=cand or None,
        blocks=int(blocks),
        aa=aa,
        reports=reports,
        progress=Progress(sys.stderr, verbose=verbose),
    )
    plot = save_ab_plot(outcome.run, outcome.report)
    write_ab_notes(outcome.run, outcome.manifest, outcome.report, notes_dir, plot)
    if json_output:
        print(json.dumps({"run_id": outcome.run.run_id, **outcome.manifest["report"], "noise_floor": outcome.noise}))
    else:
        print(ab_text(outcome.manifest, outcome.report, outcome.noise))
        if plot:
            print(f"plot: {outcome.run.path / plot}")


ab = settings_task(
    lambda c, s, src, base="", cand="", blocks=stats.DEFAULT_BLOCKS, aa=False, json=False, verbose=False: _ab(
        c, s, src, base=base, cand=cand, blocks=blocks, aa=aa, json_output=json, verbose=verbose
    ),
    extra={
        "base": ("", "the from ref (A)"),
        "cand": ("", "the to ref (B); default: the work branch"),
        "blocks": (stats.DEFAULT_BLOCKS, "blocks per mode (one A and one B process each)"),
        "aa": (False, "run A against itself and store the noise floor for this host and benchmark"),
        "json": (False, "print the comparisons as JSON"),
        "verbose": (False, "stream every output line"),
    },
    name="ab",
)
ab.__doc__ = _ab.__doc__

TASKS = [ab]
