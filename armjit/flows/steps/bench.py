"""Benchmarks: the benchmark venv with the JIT hook, one JIT mode measured and fetched, the JIT gate."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from armjit.analysis import pyperf_data
from armjit.cinderx import commands as cinderx
from armjit.cinderx import gate
from armjit.cinderx.modes import inherit_environ, jitlist_text
from armjit.flows.pipeline import StepContext, StepFailed
from armjit.flows.steps.pins import install_report
from armjit.flows.steps.target import Target, pypi_spec
from armjit.seams.records import ModeRecord
from armjit.seams.store import RunDir

__all__ = ["BenchVenv", "GateRun", "ModeRun", "bench_mode", "bench_venv", "jit_gate", "planned_mode", "startup_smoke"]

q = shlex.quote


@dataclass(frozen=True)
class BenchVenv:
    """The interpreter the benchmarks run in, each benchmark's file, and why the JIT hook may
    not work there ("" when it should)."""

    python: str
    files: dict[str, str] = field(default_factory=dict)
    hook_problem: str = ""
    detail: str = ""
    failure: StepFailed | None = None


def bench_venv(ctx: StepContext, target: Target, driver_python: str, wheel: str | None) -> BenchVenv:
    """The benchmark venv with the build and the JIT hook installed (the driver venv itself for
    a plain interpreter; pyperformance's own venv with that runner)."""
    s = target.settings
    if s.build == "none":
        found = BenchVenv(driver_python, detail="driver venv (plain interpreter, no JIT hook)")
    elif target.runner == "pyperformance":
        result = ctx.run(
            cinderx.pyperformance_venv_command(s.driver_venv, recreate=s.recreate_pyperf_venv, benches=s.bench),
            cwd=s.remote_workdir,
            what="pyperformance venv",
            detach=True,
        )
        match = re.search(r"pyperf_venv=(\S+)", result.stdout)
        if not match:
            raise StepFailed("could not resolve pyperformance's venv", result)
        found = _install_jit(ctx, target, match.group(1), wheel)
    else:
        venv = f"{ctx.host.expand(s.remote_workdir).rstrip('/')}/venv/armjit-bench"
        create = cinderx.ensure_venv_command(s.remote_python, venv, recreate=s.recreate_pyperf_venv)
        first = ctx.run(create, check=False, detach=True)
        if not first.ok:  # v5: retry once after cleaning up
            retry = cinderx.ensure_venv_command(s.remote_python, venv, recreate=True)
            ctx.run(retry, what="bench venv create (retry)", detach=True)
        tools = ("pyperf",) if s.bench_script else ("pyperf", "pyperformance")
        ctx.run(
            cinderx.install_command(venv, wheel=None, pypi_spec=None, tools=tools), what="bench venv tools", detach=True
        )
        found = _install_jit(ctx, target, venv, wheel)
    files = {bench: _bench_file(ctx, target, found.python, bench) for bench in s.bench}
    return replace(found, files=files)


def _install_jit(ctx: StepContext, target: Target, venv: str, wheel: str | None) -> BenchVenv:
    s = target.settings
    python = cinderx.venv_python(venv)
    report = install_report(ctx, target, "bench")
    command = cinderx.install_command(venv, wheel=wheel, pypi_spec=pypi_spec(s), tools=(), report=report)
    ctx.run(command, what="JIT build install", detach=True)
    hook = ctx.run(cinderx.hook_install_command(venv, target.remote_run, s.jit_hook), what="JIT hook install")
    probe = ctx.run(cinderx.hook_probe_command(python), check=False)
    facts = cinderx.parse_host_facts(probe.stdout)
    found = facts.get("sitecustomize", "")
    problem = ""
    if s.jit_hook == "pth" and facts.get("hook_module") != "True":
        raise StepFailed(f"the .pth JIT hook did not load in {venv} (are .pth files processed there?)", probe)
    if s.jit_hook == "sitecustomize" and not found.startswith(venv.rstrip("/") + "/"):
        # Not fatal here: the JIT gate fails later and names this as the cause.
        problem = (
            f"the venv's sitecustomize.py hook is shadowed by {found or 'nothing'} (the interpreter's own "
            "sitecustomize wins), so the JIT never started: use --jit-hook pth"
        )
        ctx.pipeline.progress.message(f"warning: {problem}")
    if s.jit_hook == "none":
        problem = "--jit-hook none: nothing enables the JIT in the benchmark processes"
    detail = hook.stdout.strip().splitlines()[-1] if hook.stdout.strip() else venv
    return BenchVenv(python, hook_problem=problem, detail=detail)


def _bench_file(ctx: StepContext, target: Target, python: str, bench: str) -> str:
    s = target.settings
    if target.runner == "pyperformance":
        return ""
    if s.bench_script:
        path = s.bench_script.replace("{bench}", bench)  # one script per benchmark: bench/bm_{bench}.py
        if not path.startswith("/"):
            path = f"{s.remote_workdir.rstrip('/')}/{path}"
        return ctx.host.expand(path)
    result = ctx.run(cinderx.pyperformance_bench_file_command(python, bench), what="benchmark lookup")
    path = result.stdout.strip().splitlines()[-1]
    if not ctx.run(f"test -f {q(path)}", check=False).ok:
        raise StepFailed(f"pyperformance has no benchmark {bench!r} ({path} missing)")
    return path


def startup_smoke(ctx: StepContext, target: Target, bench_python: str) -> str:
    result = ctx.run(cinderx.startup_smoke_command(bench_python, target.settings.smoke_autojit), check=False)
    if "smoke-ok" not in result.stdout or not result.ok:
        raise StepFailed("startup smoke (generator + re.compile under the JIT) failed", result)
    return "smoke-ok"


def planned_mode(target: Target, name: str) -> ModeRecord:
    """Mode ``name`` as a run records it before it is measured: what it runs and how (each
    benchmark's processes log into ``jitlogs/<mode>/<benchmark>/``)."""
    mode = target.mode(name, "{bench}")
    return ModeRecord(
        description=mode.description,
        env=mode.env,
        pyperf_json=None,
        jit_logs=[],
        benchmarks=list(target.settings.bench),
        runner=target.runner,
        inherit_environ=inherit_environ(mode),
    )


@dataclass(frozen=True)
class ModeRun:
    """A measured mode: its record with the fetched pyperf JSON and JIT logs (run-relative)."""

    mode: ModeRecord
    failure: StepFailed | None = None

    @property
    def detail(self) -> str:
        results = self.mode.results or {}
        shown = [f"{b} {r['value']:.6f} s" for b, r in results.items() if isinstance(r.get("value"), float)]
        return "; ".join(shown) or "ok"


def bench_mode(ctx: StepContext, target: Target, name: str, driver_python: str, venv: BenchVenv) -> ModeRun:
    """Benchmark every --bench under JIT mode ``name``, one command each (so each benchmark's
    processes write their JIT logs into a directory of their own), then fetch the mode's pyperf
    JSON and JIT logs, whatever the benchmarks' exit status (a crash is data)."""
    s = target.settings
    rrun = ctx.host.expand(target.remote_run)
    jitlist = target.mode(name).jitlist
    if jitlist:
        ctx.run(f"printf %s {q(jitlist_text(jitlist))} > {q(rrun)}/jitlist-{name}.txt")
    output = f"{rrun}/{name}.json"
    failures = []
    shape: dict[str, Any] = {"processes": s.processes, "values": s.values, "warmups": s.warmups, "loops": s.loops}
    preset = target.shape.option  # pyperformance's option standing for the flags
    result = None
    for index, bench in enumerate(s.bench):
        ctx.run(f"mkdir -p {q(rrun)}/jitlogs/{name}/{bench}")
        pyperformance = target.runner == "pyperformance"
        cmd = cinderx.bench_command(
            runner=target.runner,
            python=driver_python if pyperformance else venv.python,
            bench=bench,
            mode=target.mode(name, bench),
            output=output,
            bench_file=None if pyperformance else venv.files[bench],
            preset=preset,
            **shape,
        )
        # Both runners add the later benchmarks to the first one's file.
        command = cmd.command if index == 0 else cmd.command.replace(f"-o {q(output)}", f"--append {q(output)}")
        result = ctx.run(command, cwd=s.remote_workdir, check=False, detach=True)
        if not result.ok:
            failures.append(f"{bench}: exit {result.exit_code}")
    record = _fetch_mode(ctx, target, name, output, planned_mode(target, name))
    failure = StepFailed(f"benchmark {name} failed ({'; '.join(failures)})", result) if failures else None
    return ModeRun(record, failure)


def _fetch_mode(ctx: StepContext, target: Target, name: str, output: str, record: ModeRecord) -> ModeRecord:
    """Bring the mode's pyperf JSON and each benchmark's JIT logs home into the run directory."""
    run, benches = target.run, list(target.settings.bench)
    summaries: dict[str, dict[str, Any]] = {}
    if ctx.run(f"test -s {q(output)}", check=False).ok:
        local = run.file("pyperf", f"{name}.json")
        _fetch(ctx, output, local)
        summaries = pyperf_data.summary(local)
        record = replace(record, pyperf_json=run.relative(local))
    logs: dict[str, list[str]] = {}
    for bench in benches:
        log_dir = f"{ctx.host.expand(target.remote_run)}/jitlogs/{name}/{bench}"
        listing = ctx.run(f"ls -1 {q(log_dir)} 2>/dev/null || true", check=False)
        logs[bench] = []
        for entry in sorted(listing.stdout.split()):
            local = run.file("jitlogs", name, bench, entry)
            _fetch(ctx, f"{log_dir}/{entry}", local)
            logs[bench].append(run.relative(local))
    results = bench_results(benches, summaries, logs)
    only = next(iter(results.values())) if len(results) == 1 else {}
    return replace(
        record,
        jit_logs=[p for paths in logs.values() for p in paths],
        results=results,
        value=only.get("value"),
        processes=only.get("processes"),
        values=only.get("values"),
    )


def bench_results(
    benches: list[str], summaries: Mapping[str, dict[str, Any]], logs: Mapping[str, list[str]]
) -> dict[str, dict[str, Any]]:
    """Per benchmark: its own pyperf numbers and its own JIT logs. A --bench name is matched to
    the pyperf benchmark of that name; the rest are paired in the order they ran (each command
    appended one benchmark to the file) when as many are left on both sides, since a benchmark
    script may name its benchmark as it likes. A pyperf benchmark left over gets a row of its
    own, without logs."""
    pairs = {b: b for b in benches if b in summaries}
    left = [b for b in benches if b not in pairs]
    others = [name for name in summaries if name not in pairs.values()]
    if len(left) == len(others):
        pairs |= dict(zip(left, others, strict=True))
    results: dict[str, dict[str, Any]] = {}
    for bench in benches:
        found = pairs.get(bench)
        numbers = dict(summaries[found]) if found else {"value": None}
        named = {"pyperf_name": found} if found and found != bench else {}
        results[bench] = {**numbers, **named, "jit_logs": list(logs.get(bench, []))}
    for other in summaries:
        if other not in pairs.values():
            results[other] = {**summaries[other], "jit_logs": []}
    return results


def _fetch(ctx: StepContext, remote: str, local: Path) -> None:
    """Download next to ``local`` and rename: a dropped connection never leaves half a file."""
    partial = local.with_name(f".{local.name}.part")

    def download() -> None:
        ctx.host.get(remote, partial)
        partial.replace(local)

    try:
        follower = ctx.pipeline.follower
        if follower is None:
            download()
        else:  # a drop mid-fetch costs a reconnect, like a drop mid-benchmark
            follower.reconnecting(f"the fetch of step {ctx.name}", download)
    finally:
        partial.unlink(missing_ok=True)


@dataclass(frozen=True)
class GateRun:
    """Each measured mode's record with the JIT gate's verdict added."""

    modes: dict[str, ModeRecord]
    detail: str
    failure: StepFailed | None = None


def jit_gate(ctx: StepContext, target: Target, modes: Mapping[str, ModeRecord], hook_problem: str) -> GateRun:
    """Evidence, not assumptions: a JIT mode counts as active only if the JIT's own logs from the
    benchmark processes say so, judged per benchmark from that benchmark's own logs."""
    s = target.settings
    problems, lines = [], []
    judged: dict[str, ModeRecord] = {}
    for name in target.modes:
        record = modes.get(name)
        if record is None:
            continue
        results = record.results or {}
        per_bench = {
            bench: [gate.count_log(p, (target.run.path / p).read_bytes()) for p in result.get("jit_logs") or []]
            for bench, result in results.items()
            if bench in s.bench
        }
        verdict = gate.judge_benchmarks(
            name,
            per_bench,
            expects_compiles=gate.compiles_expected(target.mode(name), build=s.build),
            expected_processes=target.shape.processes,
            hook_problem=hook_problem,
        )
        counts = [c for found in per_bench.values() for c in found]
        judged_results = {
            bench: {**result, **_bench_gate(verdict.benches[bench], per_bench[bench])} if bench in per_bench else result
            for bench, result in results.items()
        }
        main = sum(c.main for c in counts)
        total = sum(c.total for c in counts)
        bench_verdicts = list(verdict.benches.values())
        judged[name] = replace(
            record,
            results=judged_results,
            # The mode's logs over all its benchmarks (counts add up; each benchmark's are in results).
            compiles={"main": main, "total": total, "other": total - main},
            threshold=next((v.threshold for v in bench_verdicts if v.threshold is not None), None),
            thresholds=next((v.thresholds for v in bench_verdicts if v.threshold is not None), None)
            or {"calls": None, "bytecodes": None},
            processes_with_compiles=sum(v.processes_with_compiles for v in bench_verdicts),
            per_process=[{"log": c.name, "main": c.main, "total": c.total} for c in counts],
            gate={"ok": verdict.ok, "message": verdict.message},
        )
        lines.append(verdict.message)
        if not verdict.ok:
            problems.append(verdict.message)
            tail = _log_tail(target.run, record.jit_logs or [])
            if tail:
                ctx.pipeline.progress.message("--- jit log tail ---\n" + tail)
    failure = StepFailed("; ".join(problems)) if problems else None
    return GateRun(judged, "; ".join(lines), failure)


def _bench_gate(verdict: gate.BenchVerdict, counts: list[gate.LogCounts]) -> dict[str, Any]:
    """What a benchmark's result records of the gate: its compiles, threshold and verdict."""
    return {
        "compiles": {"main": verdict.main, "total": verdict.total, "other": verdict.other},
        "threshold": verdict.threshold,
        "processes_with_compiles": verdict.processes_with_compiles,
        "per_process": [{"log": c.name, "main": c.main, "total": c.total} for c in counts],
        "gate": verdict.to_json(),
    }


def _log_tail(run: RunDir, logs: list[str], lines: int = 40) -> str:
    if not logs:
        return ""
    biggest = max(logs, key=lambda p: (run.path / p).stat().st_size)
    text = (run.path / biggest).read_bytes()[-20000:].decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])
