"""Getting the source to the host: upstream sync, deploy (or what is deployed), host facts."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armjit.cinderx import commands as cinderx
from armjit.cinderx.buildsource import BuildSource
from armjit.config import Settings
from armjit.flows.pipeline import StepContext, StepFailed
from armjit.flows.steps.target import Target, claim_workdir

__all__ = ["Deployed", "FoundHost", "deploy", "deployed", "host_facts", "upstream_sync"]

q = shlex.quote


@dataclass(frozen=True)
class Deployed:
    """What the host's work dir holds: its deploy marker's data."""

    marker: dict[str, Any]
    detail: str
    failure: StepFailed | None = None


def upstream_sync(ctx: StepContext, repo: Path, s: Settings) -> str:
    from armjit.seams import upstream

    result = upstream.sync_upstream(
        repo, s.upstream_remote, s.upstream_branch, s.branch, rebase=s.rebase, report=ctx.pipeline.progress.message
    )
    return str(result)


def deploy(ctx: StepContext, target: Target, repo: Path, source: BuildSource) -> Deployed:
    """Ship ``source`` of ``repo`` to the target's work dir, then check the deploy marker: what
    the host holds must be what was meant to be deployed."""
    from armjit.seams import sync

    s = target.settings

    def send() -> tuple[sync.SyncResult, Any]:
        result = sync.sync_tree(
            ctx.host,
            repo,
            s.remote_workdir,
            ref=source.sync_ref(),
            worktree=source.is_worktree,
            method=s.sync_method,
            adopt=s.adopt_workdir,
            report=ctx.pipeline.progress.message,
            fence=ctx.pipeline.fence,
        )
        return result, sync.verify_deploy(ctx.host, s.remote_workdir, result.source)

    follower = ctx.pipeline.follower
    # A sync is safe to repeat (the marker is written last, and rsync or the hash manifest skip
    # what arrived whole), so a drop costs a reconnect and a second, shorter send.
    result, marker = send() if follower is None else follower.reconnecting("the deploy", send, on_host=False, tries=4)
    detail = (
        f"{result.method}: {result.files_sent} sent, {result.files_deleted} deleted, "
        f"{result.bytes_sent} bytes in {result.seconds:.2f}s ({result.source.label()})"
    )
    return Deployed(marker.as_dict(), detail)


def deployed(ctx: StepContext, target: Target) -> Deployed:
    """With --bench-only: what the host holds (its deploy marker), instead of deploying."""
    from armjit.seams import sync

    workdir = target.settings.remote_workdir
    marker = sync.read_marker(ctx.host, workdir)
    if marker is None:
        raise StepFailed(f"nothing deployed at {workdir}: run a baseline without --bench-only")
    detail = f"{marker.get('branch') or ''} @ {str(marker.get('commit'))[:10]} (deployed {marker.get('time')})"
    return Deployed(marker, detail)


@dataclass(frozen=True)
class FoundHost:
    """What the host says about itself (uname, CPU, load, its Python)."""

    facts: dict[str, str]
    detail: str
    failure: StepFailed | None = None


def host_facts(ctx: StepContext, target: Target) -> FoundHost:
    """The host's facts; then, when its Python runs, the work dir and the remote run dir."""
    s = target.settings
    result = ctx.run(cinderx.host_facts_command(), what="host facts")
    facts = cinderx.parse_host_facts(result.stdout)
    py = ctx.run(f"{q(s.remote_python)} -c 'import sys; print(sys.version.split()[0])'", check=False)
    facts["python"] = py.stdout.strip() if py.ok else f"missing: {s.remote_python}"
    if not py.ok:
        problem = StepFailed(f"{s.remote_python} does not run on {ctx.host.name}: set --remote-python", py)
        return FoundHost(facts, "", problem)
    ctx.run(f"{claim_workdir(ctx, s)} && mkdir -p {q(target.remote_run)}/jitlogs", what="work dir and run dir")
    return FoundHost(facts, f"{facts.get('arch', '?')}, python {facts['python']}, load {facts.get('loadavg', '?')}")
