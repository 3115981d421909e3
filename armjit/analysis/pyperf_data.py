"""pyperf / pyperformance JSON (``.json`` or ``.json.gz``) -> measured values per benchmark and process.

pyperf stores, per benchmark, one "run" per worker process: ``values`` are the measured values
(already divided by loops, so seconds per iteration) and ``warmups`` are ``[loops, value]`` pairs.
A calibration run has warmups only and is skipped. Parsing is done here on the plain JSON (not
through pyperf's loader) so that every bad input gives one clear line instead of a traceback.
"""

from __future__ import annotations

import gzip
import json
import math
import statistics
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from armjit.errors import UsageError

__all__ = [
    "BenchmarkData",
    "PyperfFile",
    "all_values",
    "bench_summary",
    "benchmark_names",
    "first_loops",
    "load",
    "parse",
    "summary",
]


@dataclass(frozen=True)
class BenchmarkData:
    """One benchmark: the measured values of each worker process, in file order."""

    name: str
    processes: tuple[tuple[float, ...], ...]
    unit: str = "second"
    loops: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # Warmup values each measured process ran before its values: part of what makes two files
    # comparable (a JIT mode measured after 3 warmups is not the one measured after 10).
    warmups: tuple[int, ...] = ()
    # Per measured process, the machine's runnable threads per CPU as pyperf recorded them at its end
    # (pyperf's ``runnable_threads`` / ``cpu_count``); empty when the file does not say.
    runnable_per_cpu: tuple[float, ...] = ()
    # pyperf chose the loops itself (the file holds its calibration runs): with ``--loops 0``, the
    # default, a faster benchmark always gets other loops, so different loops then say nothing.
    calibrated: bool = False

    @property
    def n_values(self) -> int:
        return sum(len(p) for p in self.processes)

    @property
    def inner_loops(self) -> int | None:
        value = self.metadata.get("inner_loops")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class PyperfFile:
    path: Path
    benchmarks: tuple[BenchmarkData, ...]
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.benchmarks)

    def get(self, name: str) -> BenchmarkData:
        for bench in self.benchmarks:
            if bench.name == name:
                return bench
        raise KeyError(name)


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.name.endswith(".gz") or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise UsageError(f"{path}: not a readable gzip file ({exc})") from None
    if not raw.strip():
        raise UsageError(f"{path}: empty file, expected pyperf JSON")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text, expected pyperf JSON") from None


# Bounds of a plausible value (seconds or bytes): 1e308 or inf would overflow the ratios and
# their logarithms into inf and nan, and no timer or counter measures beyond these.
_SMALLEST, _LARGEST = 1e-15, 1e15


def _plausible(value: float) -> bool:
    return math.isfinite(value) and _SMALLEST <= value <= _LARGEST


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_comparable(path: Path, name: str, total: int) -> None:
    if total == 0:
        raise UsageError(f"{path}: benchmark {name} has no measured values (only calibration/warmups)")
    if total == 1:
        raise UsageError(
            f"{path}: benchmark {name} has a single value (--debug-single-value?); "
            "a comparison needs several processes with several values"
        )


def parse(data: Any, path: Path, *, for_comparison: bool = True) -> PyperfFile:
    """Turn decoded pyperf JSON into benchmarks; ``path`` only names the file in errors.

    ``for_comparison`` also refuses files that hold too little to compare (a benchmark with no or
    one value, no benchmarks); a run's own summary and a single A/B block read them as they are.
    """
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise UsageError(f"{path}: not a pyperf result file (no 'benchmarks' list)")
    raw_common = data.get("metadata")
    common: dict[str, Any] = raw_common if isinstance(raw_common, dict) else {}
    benches: list[BenchmarkData] = []
    for index, bench in enumerate(data["benchmarks"]):
        if not isinstance(bench, dict) or not isinstance(bench.get("runs"), list):
            raise UsageError(f"{path}: benchmark #{index + 1} has no 'runs' list; not pyperf output")
        raw_meta = bench.get("metadata")
        meta: dict[str, Any] = {**common, **(raw_meta if isinstance(raw_meta, dict) else {})}
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise UsageError(f"{path}: benchmark #{index + 1} has no name in its metadata")
        for key in ("loops", "inner_loops"):
            # a count the ratios rest on: true, NaN or "8" is not one
            count = meta.get(key)
            if key in meta and not (isinstance(count, int) and not isinstance(count, bool) and count > 0):
                raise UsageError(
                    f"{path}: benchmark {name} has {key} {json.dumps(count)} in its metadata, not a positive integer"
                )
        processes = []
        warmups = []
        runnable: list[float] = []
        run_loops = set()
        calibrated = False
        raw_cpus = meta.get("cpu_count")
        cpus = float(raw_cpus) if isinstance(raw_cpus, int) and raw_cpus > 0 else None
        for run in bench["runs"]:
            values = run.get("values") if isinstance(run, dict) else None
            if not values:
                # calibration run: warmups only
                run_meta = run.get("metadata") if isinstance(run, dict) else None
                calibrated = calibrated or (
                    isinstance(run_meta, dict) and bool({"calibrate_loops", "recalibrate_loops"} & set(run_meta))
                )
                continue
            if not isinstance(values, list) or not all(_number(v) and v > 0 for v in values):
                raise UsageError(f"{path}: benchmark {name} has a run whose values are not positive numbers")
            odd = next((v for v in values if not _plausible(v)), None)
            if odd is not None:
                raise UsageError(
                    f"{path}: benchmark {name} has a value of {odd!r}, not a measurement "
                    f"(expected a finite number between {_SMALLEST:g} and {_LARGEST:g})"
                )
            processes.append(tuple(float(v) for v in values))
            raw_warmups = run.get("warmups")
            warmups.append(len(raw_warmups) if isinstance(raw_warmups, list) else 0)
            run_meta = run.get("metadata")
            if isinstance(run_meta, dict) and isinstance(run_meta.get("loops"), int):
                run_loops.add(run_meta["loops"])
            threads = run_meta.get("runnable_threads") if isinstance(run_meta, dict) else None
            if isinstance(threads, int | float) and not isinstance(threads, bool) and cpus is not None:
                runnable.append(float(threads) / cpus)
        if for_comparison:
            _check_comparable(path, name, sum(len(p) for p in processes))
        loops = meta.get("loops")
        if not isinstance(loops, int) and len(run_loops) == 1:
            # pyperf keeps loops per run when it is not common to the whole file
            (loops,) = run_loops
        benches.append(
            BenchmarkData(
                name=name,
                processes=tuple(processes),
                unit=str(meta.get("unit", "second")),
                loops=loops if isinstance(loops, int) else None,
                metadata=meta,
                warmups=tuple(warmups),
                runnable_per_cpu=tuple(runnable) if len(runnable) == len(processes) else (),
                calibrated=calibrated,
            )
        )
    if not benches and for_comparison:
        raise UsageError(f"{path}: no benchmarks in this pyperf file")
    names = [b.name for b in benches]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"{path}: benchmark names appear more than once: {', '.join(dupes)}")
    return PyperfFile(path=path, benchmarks=tuple(benches), metadata=dict(common))


def load(path: Path, *, for_comparison: bool = True) -> PyperfFile:
    """Read a pyperf/pyperformance JSON or JSON.gz file; bad input is a one-line UsageError."""
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}), expected pyperf output") from None
    except RecursionError:
        raise UsageError(f"{path}: not JSON armjit can read (nested too deeply), expected pyperf output") from None
    return parse(data, path, for_comparison=for_comparison)


def all_values(path: Path) -> list[float]:
    """Every measured value in the file, in file order (calibration runs skipped)."""
    return [v for bench in load(path, for_comparison=False).benchmarks for p in bench.processes for v in p]


def first_loops(path: Path) -> int | None:
    """The loops of the first benchmark that records them, or None if the file is unreadable."""
    try:
        found = load(path, for_comparison=False)
    except UsageError:
        return None
    loops = [b.loops for b in found.benchmarks if b.loops and b.loops > 0]
    common = found.metadata.get("loops")
    return loops[0] if loops else common if isinstance(common, int) and not isinstance(common, bool) else None


def summary(path: Path) -> dict[str, dict[str, Any]]:
    """A run's record of one mode's results, per benchmark: the median of that benchmark's
    per-process medians (the unit is a fresh process) and its sample shape. Benchmarks are never
    pooled: a median over two benchmarks' processes is no benchmark's number. Empty when the
    file is unreadable."""
    try:
        found = load(path, for_comparison=False)
    except UsageError:
        return {}
    return {bench.name: bench_summary(bench) for bench in found.benchmarks}


def bench_summary(bench: BenchmarkData) -> dict[str, Any]:
    """One benchmark's median of per-process medians and its sample shape (value None: no values)."""
    medians = [statistics.median(p) for p in bench.processes if p]
    value = statistics.median(medians) if medians else None
    return {"value": value, "processes": len(medians), "values": bench.n_values}


def benchmark_names(path: Path) -> list[str]:
    """The benchmark names in a pyperf file, in file order."""
    return list(load(path).names)
