"""Between-run noise: the spread of repeated baselines of the same code on one host.

Two separate runs differ by what happened on the machine between them; only repeated runs of
unchanged code show how much. ``invoke compare --from RUN1 --to RUN2 --record-noise`` measures it
here and stores it beside the A/A δ (armjit.analysis.compare's noise store), and every later unpaired
comparison on that host uses it as δ (armjit.analysis.crossrun).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from armjit.analysis import crossrun, stats
from armjit.analysis.compare import Input, load_input, record_between_run_noise, side_measurement
from armjit.analysis.pyperf_data import BenchmarkData
from armjit.errors import UsageError
from armjit.seams.store import RunStore

__all__ = ["NoiseRecord", "measure_between_run_noise", "run_median", "store_between_run_noise"]


@dataclass(frozen=True)
class NoiseRecord:
    """The between-run δ measured for one host, benchmark and mode, and the runs behind it."""

    host: str
    benchmark: str
    mode: str | None
    delta: float
    runs: tuple[str, ...]
    medians: tuple[float, ...]
    left_out: tuple[str, ...] = ()  # runs of the same code measured differently, with why


def _same_code_runs(store: RunStore, a: Input) -> list[Input]:
    """Other finished runs in the store of the same code on the same host as ``a``."""
    found = []
    for run in store.runs():
        if a.path is not None and run.path.samefile(a.path):
            continue
        try:
            manifest = run.manifest()
        except UsageError:
            continue
        if manifest.get("status", "ok") != "ok" or not manifest.get("modes"):
            continue
        if crossrun.same_code(crossrun.code_identity(manifest), a.code) is None:
            continue
        try:
            other = load_input(run.path, store)
        except UsageError:
            continue  # a run whose files are gone cannot contribute
        if other.host == a.host:
            found.append(other)
    return found


def measure_between_run_noise(a: Input, b: Input, store: RunStore) -> list[NoiseRecord]:
    """The spread of repeated baselines of one code on one host, per mode and benchmark.

    ``a`` and ``b`` must be finished runs of the same code, measured alike; every other finished
    run in ``store`` of that code on that host and measured like ``a`` joins them.
    """
    for side in (a, b):
        if not side.is_run:
            raise UsageError(f"--record-noise needs two runs; {side.label} is a plain pyperf file")
        if side.status not in (None, "ok"):
            raise UsageError(f"--record-noise: run {side.label} is {side.status}, not ok")
    if a.path is not None and b.path is not None and a.path.samefile(b.path):
        raise UsageError(f"--record-noise needs two different runs (both are {a.label})")
    if crossrun.same_code(a.code, b.code) is None:
        what = f"{a.code.label if a.code else 'not pinned'} vs {b.code.label if b.code else 'not pinned'}"
        raise UsageError(
            f"--record-noise needs two runs of the same code ({what}); the same commit and build, "
            "wheel or pinned --build pypi==VERSION"
        )
    if not a.host or a.host != b.host:
        raise UsageError(f"--record-noise needs two runs on one host ({a.host} vs {b.host})")
    others = [x for x in _same_code_runs(store, a) if x.path is None or b.path is None or not x.path.samefile(b.path)]
    records = []
    for mode_name, ma in a.modes.items():
        if ma.data is None:
            continue
        for bench in ma.data.benchmarks:
            want = side_measurement(a, ma, bench, run_hosts=True)
            runs, medians, left_out = [a.label], [run_median(bench)], []
            for side in (b, *others):
                md = side.modes.get(mode_name)
                if md is None or md.data is None or bench.name not in md.data.names:
                    continue
                other = md.data.get(bench.name)
                mismatch = crossrun.comparability(want, side_measurement(side, md, other, run_hosts=True))
                if mismatch:
                    if side is b:
                        raise UsageError(f"--record-noise: {a.label} and {b.label} {mismatch[0].text}")
                    left_out.append(f"{side.label} ({mismatch[0].text})")
                    continue
                runs.append(side.label)
                medians.append(run_median(other))
            if len(runs) < 2:
                continue
            records.append(
                NoiseRecord(
                    a.host,
                    bench.name,
                    mode_name,
                    crossrun.between_run_delta(medians),
                    tuple(runs),
                    tuple(medians),
                    tuple(left_out),
                )
            )
    if not records:
        raise UsageError(f"--record-noise: runs {a.label} and {b.label} share no measured mode and benchmark")
    return records


def run_median(bench: BenchmarkData) -> float:
    return statistics.median(stats.process_median(p) for p in bench.processes)


def store_between_run_noise(path: Path, records: Sequence[NoiseRecord]) -> list[str]:
    """Write the records to the noise file; one line per record saying what was stored."""
    lines = []
    for r in records:
        record_between_run_noise(path, host=r.host, benchmark=r.benchmark, mode=r.mode, delta=r.delta, runs=r.runs)
        spread = max(r.medians) / min(r.medians) - 1
        line = (
            f"stored between-run δ {r.delta:.1%} for {r.host}/{r.benchmark}/{r.mode or '*'} "
            f"from {len(r.runs)} runs of the same code (medians {spread:.1%} apart): {', '.join(r.runs)}"
        )
        if r.left_out:
            line += f"; left out: {', '.join(r.left_out)}"
        lines.append(line)
    return lines
