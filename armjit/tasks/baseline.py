"""``invoke baseline`` and ``invoke settings``."""

from __future__ import annotations

import json
import sys
from typing import Any

from invoke import Context

from armjit.baseline import run_baseline
from armjit.config import Settings, setting_specs
from armjit.errors import GateFailed
from armjit.progress import Progress
from armjit.render import table
from armjit.report import summary_text
from armjit.tasks._common import friendly_errors
from armjit.tasks._settings import settings_task

__all__ = ["TASKS"]


@friendly_errors
def _baseline(
    c: Context, settings: Settings, sources: dict[str, str], *, json_output: bool = False, verbose: bool = False
) -> None:
    """Sync, build, test, smoke and benchmark every JIT mode on the host; fetch everything back."""
    from pathlib import Path

    progress = Progress(sys.stderr, verbose=verbose)
    outcome = run_baseline(settings, set(sources), reports=Path(settings.reports), progress=progress)
    if json_output:
        print(json.dumps(_summary(outcome.manifest, outcome.run.path), indent=2))
    else:
        print(summary_text(outcome.run, outcome.manifest))
    if outcome.failures:
        raise GateFailed("; ".join(outcome.failures))


def _summary(manifest: dict[str, Any], path: Any) -> dict[str, Any]:
    keys = ("schema_version", "run_id", "status", "host", "commits", "steps", "modes", "skipped_modes")
    return {"run_dir": str(path), **{k: manifest.get(k) for k in keys}}


baseline = settings_task(
    lambda c, s, src, json=False, verbose=False: _baseline(c, s, src, json_output=json, verbose=verbose),
    extra={
        "json": (False, "print the run record's summary as JSON"),
        "verbose": (False, "stream every output line of every step"),
    },
    name="baseline",
)
baseline.__doc__ = _baseline.__doc__


@friendly_errors
def _settings(c: Context, settings: Settings, sources: dict[str, str], *, json: bool = False) -> None:
    """Show every setting: its value, where it came from, and its push_to_arm.ps1 name."""
    values = settings.public_dict()
    if json:
        print(__import__("json").dumps({"settings": values, "sources": sources}, indent=2))
        return
    rows = [
        (spec.name, values[spec.name], sources.get(spec.name, "default"), spec.ps1, spec.remote_env)
        for spec in setting_specs()
    ]
    print(table(rows, ["setting", "value", "source", "push_to_arm.ps1", "remote script env"]))


settings = settings_task(
    lambda c, s, src, json=False: _settings(c, s, src, json=json),
    extra={"json": (False, "print as JSON")},
    name="settings",
)
settings.__doc__ = _settings.__doc__

TASKS = [baseline, settings]
