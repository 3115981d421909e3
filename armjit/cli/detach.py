"""``invoke attach``, ``invoke cancel`` and ``invoke hosts``: runs whose work goes on on the host."""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import Context

from armjit.cli._task import OUTPUT, REMOTE, SSH, armjit_task
from armjit.config import Settings
from armjit.errors import GateFailed, UsageError
from armjit.flows import hostwork
from armjit.flows.baseline import open_run_host, run_baseline
from armjit.render import table
from armjit.render.baseline_report import summary_text
from armjit.render.progress import Progress
from armjit.seams.hosts import opened

__all__ = ["TASKS", "go_on"]


def go_on(settings: Settings, sources: dict[str, str], ref: str | None, *, verbose: bool) -> None:
    """Attach to / resume run ``ref`` (latest: the newest baseline that did not end ok): follow
    its running step, then do what is left, with the settings it recorded."""
    run = hostwork.resumable(settings.reports_path, ref)
    resumed, explicit = hostwork.resumed_settings(run.record(), settings.public_dict(), set(sources))
    if "repo" in sources and settings.repo and not _same_path(settings.repo, resumed.repo):
        # A run goes on with the checkout it started from: another one would mix two trees.
        raise UsageError(f"run {run.run_id} started from {resumed.repo or 'no repo'}, not --repo {settings.repo}")
    progress = Progress(sys.stderr, verbose=verbose)
    outcome = run_baseline(resumed, explicit, reports=settings.reports_path, progress=progress, resume=run)
    print(summary_text(outcome.run, outcome.manifest))
    if outcome.failures:
        raise GateFailed("; ".join(outcome.failures))


def _same_path(a: str, b: str) -> bool:
    return bool(b) and Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


@armjit_task(
    settings=("repo", *SSH, "wait", "wait_timeout", *OUTPUT),
    help={
        "run": "the run to attach to (default: the latest baseline that did not end ok)",
        "verbose": "stream every output line",
    },
)
def attach(c: Context, settings: Settings, sources: dict[str, str], run: str = "", verbose: bool = False) -> None:
    """Follow a baseline whose work goes on on the host, to its end, and fetch everything."""
    go_on(settings, sources, run or None, verbose=verbose)


@armjit_task(settings=(*SSH, *OUTPUT), positional=["run"], help={"run": "the run id (or run directory) to stop"})
def cancel(c: Context, settings: Settings, sources: dict[str, str], run: str) -> None:
    """Stop what a run still runs on its host (its process groups), give back its lease."""
    found = hostwork.cancellable(settings.reports_path, run)
    recorded, _ = hostwork.resumed_settings(found.record(), settings.public_dict(), set(sources))
    host, recorded = open_run_host(recorded)
    with opened(host):
        stopped = hostwork.cancel_run(host, recorded, found)
    what = ", ".join(stopped) if stopped else "nothing was running"
    print(f"cancelled {found.run_id} on {host.name}: {what}")


@armjit_task(settings=(*SSH, *REMOTE))
def hosts(c: Context, settings: Settings, sources: dict[str, str]) -> None:
    """Who holds the host work dir (its lease): user, machine, run, since when, last heartbeat."""
    host, settings = open_run_host(settings)
    with opened(host):
        holder = hostwork.lease_holder(host, settings.remote_workdir)
    if holder is None:
        row = (host.name, settings.remote_workdir, "free", "", "", "")
    else:
        o = holder.owner
        who = f"{o.get('user', '?')}@{o.get('machine', '?')} pid {o.get('pid', '?')}"
        age = "" if holder.heartbeat_age is None else f"{holder.heartbeat_age}s ago"
        row = (host.name, settings.remote_workdir, who, holder.run_id, str(o.get("started", "")), age)
    print(table([row], ["host", "work dir", "held by", "run", "since", "heartbeat"]))


TASKS = [attach, cancel, hosts]
