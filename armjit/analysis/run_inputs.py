"""What ``invoke compare`` compares: a run (its modes, their pyperf results and JIT evidence) or a
plain pyperf file, loaded into ``Input`` records. The pyperf JSON itself is read by
armjit.analysis.pyperf_data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armjit.analysis import crossrun
from armjit.analysis.crossrun import CodeIdentity
from armjit.analysis.pyperf_data import PyperfFile
from armjit.analysis.pyperf_data import load as load_pyperf
from armjit.errors import UsageError
from armjit.seams.store import RunStore

__all__ = ["Input", "ModeData", "load_input", "run_measurement"]


@dataclass(frozen=True)
class ModeData:
    """One JIT mode of one input: its pyperf results and what the run recorded about the JIT."""

    mode: str | None
    data: PyperfFile | None  # None: the run has no benchmark results for this mode
    threshold: int | None = None
    compiles_main: int | None = None
    runner: str | None = None  # pyperf | pyperformance, as the run recorded it
    # __main__ compiles per pyperf benchmark, from the run's per-benchmark JIT gate (older runs
    # recorded only the mode's; then compiles_main stands for every benchmark)
    bench_compiles: dict[str, int] | None = None

    def main_compiles(self, bench: str) -> int | None:
        """The __main__ compiles of one benchmark's processes (the mode's when not recorded per benchmark)."""
        if self.bench_compiles is not None:
            return self.bench_compiles.get(bench)
        return self.compiles_main


@dataclass(frozen=True)
class Input:
    """A run (``modes`` keyed by mode name) or a plain pyperf file (one entry keyed ``None``)."""

    label: str
    is_run: bool
    host: str | None
    modes: dict[str | None, ModeData]
    code: CodeIdentity | None = None  # what the run measured, when its record pins it down
    python: str | None = None
    status: str | None = None
    path: Path | None = None
    metric: str | None = None  # time | instructions, as the run recorded it
    clock: str | None = None  # wall | cpu
    loops_fixed: bool | None = None  # the run was given --loops N (None: the pyperf file says)


def _host_name(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict):
        for key in ("name", "host", "hostname"):
            if isinstance(value.get(key), str) and value[key]:
                return str(value[key])
    return None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _load_run(run_path: Path, manifest: dict[str, Any], label: str) -> Input:
    modes_raw = manifest.get("modes")
    if not isinstance(modes_raw, dict) or not modes_raw:
        raise UsageError(f"run {label} has no benchmark modes in its run.json")
    modes: dict[str | None, ModeData] = {}
    for name, raw in modes_raw.items():
        info: dict[str, Any] = raw if isinstance(raw, dict) else {}
        rel = info.get("pyperf_json")
        data = None
        if isinstance(rel, str) and rel:
            target = run_path / rel
            if not target.is_file():
                raise UsageError(f"run {label}: mode {name}'s pyperf JSON {rel} is missing from the run directory")
            data = load_pyperf(target)
        compiles = info.get("compiles")
        main = _int_or_none(compiles.get("main")) if isinstance(compiles, dict) else None
        runner = info.get("runner") if isinstance(info.get("runner"), str) else None
        per_bench = _bench_compiles(info.get("results"))
        modes[str(name)] = ModeData(str(name), data, _int_or_none(info.get("threshold")), main, runner, per_bench)
    host = manifest.get("host")
    python = host.get("python") if isinstance(host, dict) and isinstance(host.get("python"), str) else None
    status = manifest.get("status") if isinstance(manifest.get("status"), str) else None
    code = crossrun.code_identity(manifest)
    return Input(label, True, _host_name(host), modes, code, python, status, run_path, **run_measurement(manifest))


def run_measurement(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What a run record says of how it measured, beyond its pyperf files: metric, clock, fixed loops."""
    settings = manifest.get("settings")
    settings = settings if isinstance(settings, Mapping) else {}
    metric, clock, loops = settings.get("metric"), settings.get("clock"), settings.get("loops")
    return {
        "metric": metric if isinstance(metric, str) and metric else None,
        "clock": clock if isinstance(clock, str) and clock else None,
        "loops_fixed": True if _int_or_none(loops) else None,
    }


def _bench_compiles(results: Any) -> dict[str, int] | None:
    """pyperf benchmark name -> its __main__ compiles, from a run's per-benchmark results."""
    if not isinstance(results, dict) or not results:
        return None
    found = {}
    for bench, result in results.items():
        compiles = result.get("compiles") if isinstance(result, dict) else None
        main = _int_or_none(compiles.get("main")) if isinstance(compiles, dict) else None
        if main is not None:
            found[str(result.get("pyperf_name") or bench)] = main
    return found or None


def load_input(ref: str | Path, store: RunStore) -> Input:
    """A pyperf JSON(.gz) file, or a run id / run directory / ``latest`` resolved through ``store``."""
    path = Path(ref)
    if path.is_file():
        data = load_pyperf(path)
        return Input(path.name, False, _host_name(data.metadata.get("hostname")), {None: ModeData(None, data)})
    if path.suffix in (".json", ".gz") and not path.exists():
        raise UsageError(f"{ref}: no such pyperf file")
    try:
        run = store.resolve(ref)
    except UsageError:
        raise UsageError(f"{ref!r} is neither a pyperf JSON file nor a run (id, directory or 'latest')") from None
    return _load_run(run.path, run.manifest(), run.label())
