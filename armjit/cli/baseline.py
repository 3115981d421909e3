"""``invoke baseline`` and ``invoke settings``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from invoke import Context

from armjit.cli._task import ALL, armjit_task
from armjit.config import Settings, setting_specs
from armjit.errors import GateFailed
from armjit.flows.baseline import run_baseline
from armjit.flows.fleet_report import FleetReport, baseline_fleet
from armjit.render import table
from armjit.render.baseline_report import summary_text
from armjit.render.progress import Progress

__all__ = ["TASKS", "fleet_summary"]


@armjit_task(
    settings=ALL,
    help={
        "json": "print the run record's summary as JSON",
        "verbose": "stream every output line of every step",
        "resume": "go on with run RUN from the first step that did not finish, with its recorded settings",
    },
)
def baseline(
    c: Context,
    settings: Settings,
    sources: dict[str, str],
    json_: bool = False,
    verbose: bool = False,
    resume: str = "",
) -> None:
    """Sync, build, test, smoke and benchmark every JIT mode on the host; fetch everything back."""
    if resume:
        from armjit.cli.detach import go_on

        go_on(settings, sources, resume, verbose=verbose)
        return
    if settings.hosts:
        fleet_summary(baseline_fleet(settings, set(sources), reports=settings.reports_path, stream=sys.stderr), json_)
        return
    progress = Progress(sys.stderr, verbose=verbose)
    outcome = run_baseline(settings, set(sources), reports=settings.reports_path, progress=progress)
    if json_:
        print(json.dumps(_summary(outcome.manifest, outcome.run.path), indent=2))
    else:
        print(summary_text(outcome.run, outcome.manifest))
    if outcome.failures:
        raise GateFailed("; ".join(outcome.failures))


def fleet_summary(report: FleetReport, json_: bool) -> None:
    """Print a fleet's tables (or its record as JSON); exit 1 when not every host succeeded."""
    if json_:
        print(json.dumps({"fleet_dir": str(report.outcome.record.path), **report.outcome.record.to_json()}, indent=2))
    else:
        print(report.text)
    if report.outcome.failed:
        raise GateFailed(report.outcome.summary_line())


def _summary(manifest: dict[str, Any], path: Path) -> dict[str, Any]:
    keys = [
        "schema_version",
        "run_id",
        "status",
        "host",
        "commits",
        "steps",
        "modes",
        "skipped_modes",
        "gate",
        "warnings",
        "pins",
    ]
    return {"run_dir": str(path), **{k: manifest.get(k) for k in keys}}


# Every setting is a flag here, so that `invoke settings --port 2222` shows "command line" as its source.
@armjit_task(settings=ALL, help={"json": "print as JSON"})
def settings(c: Context, settings: Settings, sources: dict[str, str], json_: bool = False) -> None:
    """Show every setting: its value, where it came from, and its push_to_arm.ps1 name."""
    values = settings.public_dict()
    if json_:
        print(json.dumps({"settings": values, "sources": sources}, indent=2))
        return
    rows = [
        (spec.name, values[spec.name], sources.get(spec.name, "default"), spec.ps1, spec.remote_env)
        for spec in setting_specs()
    ]
    print(table(rows, ["setting", "value", "source", "push_to_arm.ps1", "remote script env"]))


TASKS = [baseline, settings]
