"""``invoke ab``: build two refs side by side on one host and interleave them in paired blocks.

Each block runs, for every mode in random order, one fresh A process and one fresh B process in
random order, with the same pyperf loops (fixed once, from the baseline or a calibration on A).
The verdict is the paired one of armjit.analysis.stats; ``--aa`` runs A against itself to measure the
host's noise floor δ (benchmark-statistics.md §2).
"""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from armjit.analysis import compare, measure, pyperf_data, stats
from armjit.analysis.noise_store import check_noise_file
from armjit.cinderx import counters
from armjit.cinderx.buildsource import BuildSource
from armjit.config import Settings
from armjit.errors import UsageError
from armjit.flows import ab_blocks, ab_sides, steps
from armjit.flows import baseline as bl
from armjit.flows.hostwork import HostWork
from armjit.flows.pipeline import Pipeline, StepContext, StepFailed
from armjit.render.progress import Progress
from armjit.seams.hosts import Host
from armjit.seams.records import HostFacts, ModeRecord, RemotePaths, RunRecord
from armjit.seams.store import RunDir, RunStore, is_finished

__all__ = ["MIN_DELTA_INSTRUCTIONS", "AbOutcome", "noise_key", "run_ab"]

q = shlex.quote
# δ for instruction counts: they repeat to about 0.02% (README "Statistics"), so a fixed 1% would
# hide the changes they are for; 0.2% is the figure rustc-perf used for instruction counts.
MIN_DELTA_INSTRUCTIONS = 0.002


def _notes(design: ab_blocks.Design) -> tuple[str, ...]:
    notes = ["paired: interleaved blocks of one A and one B process in random order, same loops"]
    if design.metric == "instructions":
        notes.append(
            f"metric: instructions retired per measured value ({design.counter}: two workers, one with "
            f"{ab_blocks.EXTRA_VALUES} values more, subtracted, so start-up and JIT compiles cancel), not time: "
            "fewer instructions need not mean faster"
        )
    elif design.clock == "cpu":
        notes.append("clock: process CPU time of each worker (--clock cpu), not wall time")
    if design.until_decided:
        notes.append(f"sequential: blocks added until decided; interval = {stats.sequential.METHOD}")
    return tuple(notes)


@dataclass
class AbOutcome:
    run: RunDir
    record: RunRecord
    report: compare.Report
    noise: dict[str, float] = field(default_factory=dict)

    @property
    def manifest(self) -> dict[str, Any]:
        """The record as run.json holds it."""
        return self.record.to_json()


def _baseline_loops(store: RunStore, bench: str, mode: str) -> tuple[int | None, str | None]:
    run = store.latest(lambda r: r.record().kind == "baseline" and is_finished(r.manifest()))
    if run is None:
        return None, None
    record = (run.record().modes or {}).get(mode) or ModeRecord()
    if record.pyperf_json and bench in (record.benchmarks or []):
        return pyperf_data.first_loops(run.path / record.pyperf_json), run.run_id
    return None, None


def run_ab(
    settings: Settings,
    explicit: set[str],
    *,
    base: str | BuildSource | None,
    cand: str | BuildSource | None,
    blocks: int,
    aa: bool,
    reports: Path,
    progress: Progress,
    seed: int = stats.DEFAULT_SEED,
    host: Host | None = None,
    until_decided: bool = False,
    budget: float = 0.0,
    mode_pair: tuple[str, str] | None = None,
) -> AbOutcome:
    """Build both sides on one host and interleave them in paired blocks; a verdict per mode.

    Long for the same reason as ``run_baseline``: one ``try`` around the whole run records
    whatever ends it, so the checks, the sides, the blocks and the verdict stay in one place.
    """
    settings, notes_lines = bl.embedded_defaults(settings, explicit)
    if mode_pair is not None:
        settings = replace(settings, modes=ab_blocks.check_mode_pair(mode_pair, aa=aa, refs=(base, cand)))
    single = aa or mode_pair is not None  # one build: A against itself, or in two modes
    modes, cannot = bl.plan_modes(settings)
    repo = Path(settings.repo).expanduser() if settings.repo else None
    ab_blocks.check_design_flags(blocks=blocks, until_decided=until_decided, budget=budget)
    check_noise_file(compare.noise_path(reports))
    measure.check_clock(settings.clock, settings.bench, settings.metric)
    if settings.quiet_wait and settings.metric == "instructions":
        raise UsageError("--quiet-wait applies to time: instruction counts do not depend on the host's load")
    base_src, cand_src = ab_sides.resolve_sources(settings, repo, base, cand, aa=single)
    host, settings = bl.open_run_host(settings, host)
    root = f"{settings.remote_workdir.rstrip('/')}-ab"
    labels_used = ("a",) if single else ("a", "b")
    bl.guard_host_dirs(
        host,
        settings,
        workdirs=[f"{root}/{label}" for label in labels_used] if repo is not None else [],
        venvs=[ab_sides.side_settings(settings, root, label, None).driver_venv for label in labels_used],
    )
    for line in [*notes_lines, *([cannot] if cannot else [])]:
        progress.message(line)
    store = RunStore(reports / "runs")
    kind = "aa" if aa else "ab"
    run, record = store.new_run(kind, dt.datetime.now(dt.UTC), kind, bl.host_label(host))
    remote_run = f"{settings.remote_incoming.rstrip('/')}/armjit-runs/{run.run_id}"
    record.settings = settings.public_dict()
    record.host = HostFacts(host.name, host.is_local)
    record.modes = {}
    record.remote = RemotePaths(run_dir=remote_run)
    record.details |= _design(base_src, cand_src, blocks, seed)
    design = ab_blocks.Design(
        blocks=blocks,
        metric=settings.metric,
        clock=settings.clock,
        cpu_share_gap=settings.cpu_share_gap / 100,
        until_decided=until_decided,
        budget=budget,
        mode_pair=mode_pair,
        check_drift=not aa and settings.metric == "time",
        quiet_wait=float(settings.quiet_wait),
    )
    try:
        work = HostWork.begin(host, settings, run.run_id, remote_run, f"invoke {kind}", progress, attachable=False)
    except BaseException:
        host.close()
        run.discard()  # nothing was measured into it yet
        raise
    pipeline = Pipeline(run, record, progress, step_timeout=settings.step_timeout)
    # Builds, venvs and every measured process run under the host's supervisor: a dropped
    # connection costs a reconnect, and the process is followed again, never measured twice.
    pipeline.follower = work.follower
    pipeline.fence = work.lease.check
    pipeline.save()
    progress.message(f"run {run.run_id} on {host.name}: {blocks} blocks x {len(modes)} modes")
    try:
        sides = []
        labels = (("a", base_src),) if single else (("a", base_src), ("b", cand_src))
        for label, source in labels:
            config = ab_sides.side_settings(settings, root, label, source)
            target = steps.Target(config, host, run, f"{remote_run}/{label}", "pyperf", tuple(modes))
            sides.append(ab_sides.Side(label, source, target))
            _prepare_side(pipeline, sides[-1], repo)
        side_b = sides[1] if len(sides) > 1 else replace(sides[0], label="b", attempts={}, successes={})
        sides = [sides[0], side_b]
        loops = ab_blocks.pair_loops(_fix_loops(pipeline, sides[0], store), mode_pair)
        design = _complete_design(pipeline, sides[0], design, loops, reports)
        measured = ab_blocks.run_blocks(pipeline, sides, loops, design, seed)
        report, noise = _judge(pipeline, sides, measured, design, reports, aa=aa)
    except BaseException as exc:
        # A failed step, a lost connection or Ctrl-C: the record says which and where, never "running".
        status = pipeline.finish(exc)
        work.end(exc, progress)
        if status == "interrupted":
            host.close()
        raise
    record.details["verdict"] = report.overall
    record.details["report"] = compare.report_json(report)
    pipeline.finish()
    work.end(None, progress)
    host.close()
    return AbOutcome(run, record, report, noise)


def _design(base: BuildSource | None, cand: BuildSource | None, blocks: int, seed: int) -> dict[str, Any]:
    """What an ab record says about its sides and its sampling design before the first step."""
    return {
        "refs": {"base": base.label() if base else None, "cand": cand.label() if cand else None},
        "sources": {"a": base.as_dict() if base else None, "b": cand.as_dict() if cand else None},
        "design": {"blocks": blocks, "seed": seed, "paired": True, "order": "random within each block"},
    }


def _prepare_side(pipeline: Pipeline, side: ab_sides.Side, repo: Path | None) -> None:
    """Deploy, build and install one side; the record keeps the paths of the side built last."""
    target, host, label = side.target, side.target.host, side.label
    record = pipeline.record

    def wheel(found: steps.Wheel) -> None:
        side.wheel = found.path
        record.remote = replace(record.remote or RemotePaths(), wheel=found.path)

    def driver(found: steps.Venv) -> None:
        side.driver_python = found.python
        record.remote = replace(record.remote or RemotePaths(), driver_venv=found.path)

    def bench(found: steps.BenchVenv) -> None:
        side.bench = found
        record.remote = replace(record.remote or RemotePaths(), bench_python=found.python)

    if repo is not None and side.source is not None:
        source = side.source

        def deployed(found: steps.Deployed) -> None:
            # Which commit (and uncommitted changes) each side measured: handoff checks its evidence by it.
            record.details.setdefault("deployed", {})[label] = found.marker

        pipeline.result(f"{label}-deploy", host, lambda ctx: steps.deploy(ctx, target, repo, source), deployed)
    pipeline.step(f"{label}-prepare", host, lambda ctx: ab_sides.prepare(ctx, target))
    if target.settings.build == "source":
        pipeline.result(f"{label}-build-wheel", host, lambda ctx: steps.build_wheel(ctx, target), wheel)
    pipeline.result(f"{label}-driver-venv", host, lambda ctx: steps.driver_venv(ctx, target, side.wheel), driver)
    venv = lambda ctx: steps.bench_venv(ctx, target, side.driver_python, side.wheel)  # noqa: E731
    pipeline.result(f"{label}-bench-venv", host, venv, bench)

    def pinned(found: steps.Pins) -> None:  # each side's build checked as a baseline's is (pins.a, pins.b)
        record.details["pins"] = {**(record.details.get("pins") or {}), label: found.data}

    pins = lambda ctx: steps.pin_run(ctx, target, side.driver_python, side.bench.python, side.wheel)  # noqa: E731
    pipeline.result(f"{label}-pins", host, pins, pinned)


def _fix_loops(pipeline: Pipeline, a: ab_sides.Side, store: RunStore) -> dict[tuple[str, str], int]:
    """Loops per (bench, mode): the baseline's, else one calibration process on A."""
    loops: dict[tuple[str, str], int] = {}

    def body(ctx: StepContext) -> str:
        s = a.target.settings
        found = []
        for bench in s.bench:
            for mode in a.target.modes:
                value, source = (s.loops, "--loops") if s.loops else _baseline_loops(store, bench, mode)
                if not value:
                    value = _calibrate(ctx, a, bench, mode)
                    source = "calibration on A"
                loops[(bench, mode)] = value
                found.append(f"{bench}/{mode}={value} ({source})")
        pipeline.record.details["design"]["loops"] = {f"{b}/{m}": v for (b, m), v in loops.items()}
        return ", ".join(found)

    pipeline.step("loops", a.target.host, body)
    return loops


def _calibrate(ctx: StepContext, a: ab_sides.Side, bench: str, mode: str) -> int:
    output = f"{a.target.remote_run}/calibrate-{bench}-{mode}.json"
    ab_sides.process(ctx, a, bench, mode, output, loops=0, values=1, warmups=0)
    local = a.target.run.file("calibration", f"{bench}-{mode}.json")
    ctx.host.get(output, local)
    value = pyperf_data.first_loops(local)
    if not value:
        raise StepFailed(f"calibration of {bench}/{mode} wrote no loops")
    return value


def noise_key(bench: str, metric: str) -> str:
    """The benchmark's name in the noise store: instruction counts have their own δ."""
    return bench if metric == "time" else f"{bench}[{metric}]"


def _complete_design(
    pipeline: Pipeline, a: ab_sides.Side, design: ab_blocks.Design, loops: dict[tuple[str, str], int], reports: Path
) -> ab_blocks.Design:
    """δ per (benchmark, mode) from the noise store, and the instruction counter of the host."""
    host_name = pipeline.record.host.name if pipeline.record.host else ""
    noise_file = compare.noise_path(reports)
    minimum = stats.MIN_DELTA if design.metric == "time" else MIN_DELTA_INSTRUCTIONS
    deltas = {
        (bench, mode): stats.effective_delta(
            compare.lookup_noise_floor(
                noise_file, host=host_name, benchmark=noise_key(bench, design.metric), mode=mode
            ),
            minimum,
        )
        for bench, mode in loops
    }
    counter = None
    if design.metric == "instructions":

        def probe(ctx: StepContext) -> str:
            nonlocal counter
            counter, why = counters.pick_source(ctx.run(counters.counter_probe_command(), check=False).stdout)
            pipeline.record.details["design"]["counter_source"] = why
            pipeline.record.details["design"]["instructions_counted"] = (
                f"per measured value: a worker with {ab_blocks.EXTRA_VALUES} values more, less one without them"
            )
            if counter is None:
                raise StepFailed(f"--metric instructions: {why} (install perf on bare metal, or valgrind)")
            return why

        pipeline.step("instruction-counter", a.target.host, probe)
    done = replace(design, deltas=deltas, counter=counter)
    pipeline.record.details["design"] |= done.as_json()
    pipeline.save()
    return done


def _with_bench_proof(kept: ModeRecord | None, bench: str, proof: dict[str, Any], blocks: list[Any]) -> ModeRecord:
    """The mode's record with one more benchmark's JIT proof: each benchmark keeps its own
    (``results``); the mode-level ``jit_proof`` and ``blocks`` are that of its only benchmark."""
    results = {**((kept.results if kept else None) or {}), bench: {"jit_proof": proof, "blocks": len(blocks)}}
    if len(results) == 1:
        return ModeRecord(jit_proof=proof, blocks=len(blocks), results=results)
    return ModeRecord(results=results)


def _judge(
    pipeline: Pipeline,
    sides: list[ab_sides.Side],
    measured: ab_blocks.Outcome,
    design: ab_blocks.Design,
    reports: Path,
    *,
    aa: bool,
) -> tuple[compare.Report, dict[str, float]]:
    samples = measured.samples
    comparisons: list[compare.Comparison] = []
    noise: dict[str, float] = {}
    missing: list[str] = []
    host_name = pipeline.record.host.name if pipeline.record.host else ""
    noise_file = compare.noise_path(reports)

    def body(ctx: StepContext) -> str:
        for (bench, mode), blocks in samples.items():
            key = f"{bench}/{mode}"
            if design.mode_pair:
                proof, gates = ab_sides.pair_proof(ctx, sides, bench, design.mode_pair)
            else:
                proof, gates = ab_sides.jit_proof(ctx, sides, bench, mode, aa=aa)
            pipeline.record.set_mode(
                mode, _with_bench_proof((pipeline.record.modes or {}).get(mode), bench, proof, blocks)
            )
            if len(blocks) < 2:
                missing.append(key)
                continue
            delta = design.deltas[(bench, mode)]
            gates += ab_blocks.starved_gates(measured.starved[(bench, mode)], len(blocks))
            # Blocks are in run order, so the halves are the first and second half of the run.
            drift = design.check_drift
            if design.until_decided:
                stopped = measured.stopped.get((bench, mode), "")
                judgement = stats.judge_sequential(blocks, delta=delta, gates=gates, check_drift=drift, stopped=stopped)
            else:
                judgement = stats.judge_paired(blocks, delta=delta, gates=gates, check_drift=drift)
            unit = "second" if design.metric == "time" else "instructions"
            comparisons.append(compare.Comparison(bench, mode, judgement, unit=unit))
            if aa:
                minimum = stats.MIN_DELTA if design.metric == "time" else MIN_DELTA_INSTRUCTIONS
                floor = stats.noise_floor_from_blocks(blocks, minimum=minimum)
                noise[key] = floor
                compare.record_noise_floor(
                    noise_file,
                    host=host_name,
                    benchmark=noise_key(bench, design.metric),
                    mode=mode,
                    delta=floor,
                    blocks=len(blocks),
                    source=pipeline.run_dir.run_id,
                )
        return ", ".join(f"{c.mode}: {c.verdict}" for c in comparisons)

    pipeline.step("verdict", sides[0].target.host, body)
    a_src, b_src = sides[0].source, sides[1].source
    labels = (a_src.label() if a_src else "A", b_src.label() if b_src else "A" if aa else "B")
    tags = ("A", "A again" if aa else "B")
    if design.mode_pair:
        labels = (labels[0], labels[0])
        tags = (f"A in mode {design.mode_pair[0]}", f"A in mode {design.mode_pair[1]}")
    report = compare.Report(
        from_label=f"{labels[0]} ({tags[0]})",
        to_label=f"{labels[1]} ({tags[1]})",
        comparisons=tuple(comparisons),
        notes=_notes(design),
        missing=tuple(missing),
    )
    if aa:
        pipeline.record.details["noise_floor"] = noise
    return report, noise
