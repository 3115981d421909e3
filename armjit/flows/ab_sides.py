"""The two sides of an ``ab`` run: what each ships, its settings and run dir, one measured process,
and the JIT activity proof from its logs."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from armjit.cinderx import gate
from armjit.cinderx.buildsource import BuildSource
from armjit.cinderx.modes import jitlist_text
from armjit.config import Settings
from armjit.errors import UsageError
from armjit.flows import steps
from armjit.flows.pipeline import StepContext
from armjit.seams import gitops

__all__ = [
    "Side",
    "crash_gates",
    "fetch_logs",
    "jit_proof",
    "pair_proof",
    "prepare",
    "process",
    "resolve_sources",
    "side_settings",
    "source_of",
]

q = shlex.quote


@dataclass
class Side:
    """One side of the comparison: what it ships, where its steps run, and what they made."""

    label: str  # "a" (base, from) or "b" (candidate, to)
    source: BuildSource | None  # None: no target repo, nothing to deploy (the embedded default)
    target: steps.Target
    wheel: str | None = None
    driver_python: str = ""
    bench: steps.BenchVenv = field(default_factory=lambda: steps.BenchVenv(""))
    attempts: dict[str, int] = field(default_factory=dict)
    successes: dict[str, int] = field(default_factory=dict)


def side_settings(settings: Settings, root: str, label: str, source: BuildSource | None) -> Settings:
    # Equal-length paths for both sides: the environment and path sizes must not differ.
    shipped = source or BuildSource.branch(settings.branch)
    return replace(
        settings,
        remote_workdir=f"{root}/{label}",
        driver_venv=f"{root}/{label}/venv-driver",
        branch=settings.branch if shipped.is_worktree else shipped.ref,
        worktree=shipped.is_worktree,
        bench_runner="pyperf",
    )


def source_of(repo: Path, given: str | BuildSource | None, default: BuildSource) -> BuildSource:
    """A side's source: as given (a ref is checked against the repo), else ``default``."""
    if given is None:
        return default
    if isinstance(given, BuildSource):
        if not given.is_worktree and gitops.resolve(repo, given.ref) is None:
            raise UsageError(f"{given.ref!r} is neither a branch nor a commit in {repo}")
        return given
    return BuildSource.of_ref(repo, given)


def resolve_sources(
    settings: Settings, repo: Path | None, base: str | BuildSource | None, cand: str | BuildSource | None, *, aa: bool
) -> tuple[BuildSource | None, BuildSource | None]:
    """What each side ships, resolved once, here; None without a repo (nothing to deploy). Unset,
    a side ships what a baseline would: the working tree with --worktree, else the work branch."""
    if not aa and repo is None:
        raise UsageError("ab compares two refs of a --repo; without a repo only --aa (A against itself) makes sense")
    if not aa and not base:
        raise UsageError("give --base REF (and --cand REF, default: the work branch), or --aa")
    if repo is None:
        return None, None
    gitops.check_repo(repo)
    default = BuildSource.worktree() if settings.worktree else BuildSource.branch(settings.branch)
    base_src = source_of(repo, base, default)
    return base_src, base_src if aa else source_of(repo, cand, default)


def prepare(ctx: StepContext, target: steps.Target) -> str:
    """The side's run dir, log dirs and jitlist files, once: every process of the side reuses them."""
    rrun = q(target.remote_run)
    # Each benchmark's processes log into their own directory: its JIT activity is its own.
    dirs = " ".join(f"{rrun}/jitlogs/{m}/{b}" for m in target.modes for b in target.settings.bench)
    ctx.run(f"{steps.claim_workdir(ctx, target.settings)} && mkdir -p {rrun}/blocks {dirs}")
    for mode_name in target.modes:
        mode = target.mode(mode_name)
        if mode.jitlist:
            ctx.run(f"printf %s {q(jitlist_text(mode.jitlist))} > {rrun}/jitlist-{mode_name}.txt")
    steps.upload_resources(target, ("armjit_jit_hook.py", "armjit_jit_hook.pth"))
    return target.remote_run


def process(
    ctx: StepContext,
    side: Side,
    bench: str,
    mode_name: str,
    output: str,
    *,
    loops: int,
    values: int,
    warmups: int,
    extra_env: dict[str, str] | None = None,
) -> Any:
    """One pyperf process, detached from the connection; ``extra_env`` (measurement variables
    for the JIT hook) is set and passed through ``--inherit-environ`` like the mode's own variables."""
    from armjit.cinderx.commands import bench_command

    target = side.target
    mode = target.mode(mode_name, bench)
    if extra_env:
        mode = replace(mode, env={**mode.env, **extra_env})
    cmd = bench_command(
        runner="pyperf",
        python=side.bench.python,
        bench=bench,
        mode=mode,
        output=output,
        bench_file=side.bench.files[bench],
        processes=1,
        values=values,
        warmups=warmups,
        loops=loops,
    )
    return ctx.run(cmd.command, cwd=target.settings.remote_workdir, check=False, detach=True)


def fetch_logs(ctx: StepContext, side: Side, mode: str, bench: str) -> list[gate.LogCounts]:
    """The JIT logs of one benchmark's processes in one mode, fetched home, as the gate counts them."""
    log_dir = f"{side.target.remote_run}/jitlogs/{mode}/{bench}"
    listing = ctx.run(f"ls -1 {q(log_dir)} 2>/dev/null || true", check=False)
    counts = []
    for entry in sorted(listing.stdout.split()):
        local = side.target.run.file("jitlogs", side.label, mode, bench, entry)
        ctx.host.get(f"{log_dir}/{entry}", local)
        counts.append(gate.count_log(entry, local.read_bytes()))
    return counts


def jit_proof(
    ctx: StepContext, sides: list[Side], bench: str, mode: str, *, aa: bool
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each side's JIT activity in ``mode`` (from its fetched logs), and the gates that keep a
    verdict from being claimed: an inactive JIT, different thresholds, crashed processes."""
    a, b = sides
    key = f"{bench}/{mode}"
    gates = []
    expects = gate.compiles_expected(a.target.mode(mode), build=a.target.settings.build)
    proof = {}
    for side in [a] if aa else [a, b]:
        counts = fetch_logs(ctx, side, mode, bench)
        verdict = gate.judge_mode(mode, counts, expects_compiles=expects, expected_processes=1)
        proof[side.label] = {"main": verdict.main, "total": verdict.total, "threshold": verdict.threshold}
        if not verdict.ok:
            gates.append(f"JIT activity on {side.label}: {verdict.message}")
    if not aa and proof.get("a", {}).get("threshold") != proof.get("b", {}).get("threshold"):
        gates.append("the JIT logged different thresholds on the two sides")
    return proof, gates + crash_gates(sides, key)


def pair_proof(
    ctx: StepContext, sides: list[Side], bench: str, pair: tuple[str, str]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``--mode-pair``: one build, A in the first mode and B in the second; each side's JIT
    activity is judged in its own mode (nojit must not compile, jitlist must)."""
    gates = []
    proof = {}
    for side, mode in zip(sides, pair, strict=True):
        counts = fetch_logs(ctx, side, mode, bench)
        expects = gate.compiles_expected(side.target.mode(mode), build=side.target.settings.build)
        verdict = gate.judge_mode(mode, counts, expects_compiles=expects, expected_processes=1)
        proof[side.label] = {"mode": mode, "main": verdict.main, "total": verdict.total, "threshold": verdict.threshold}
        if not verdict.ok:
            gates.append(f"JIT activity on {side.label} ({mode}): {verdict.message}")
    return proof, gates + crash_gates(sides, f"{bench}/{pair[0]}->{pair[1]}")


def crash_gates(sides: list[Side], key: str) -> list[str]:
    gates = []
    for side in sides:
        if side.successes.get(key, 0) < side.attempts.get(key, 0):
            gates.append(
                f"{side.label} crashed in {side.attempts[key] - side.successes.get(key, 0)} of "
                f"{side.attempts[key]} processes"
            )
    return gates
