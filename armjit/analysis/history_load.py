"""Loading a reports directory's history: every finished run with benchmark results, the fleet
records that group runs, the paired ``ab`` verdicts, and the stored between-run δ per host.

A run whose files cannot be read is left out and named (``History.skipped``): one damaged run
must not hide the history of the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from armjit.analysis import crossrun
from armjit.analysis.history import HistoryPoint, PairedVerdict
from armjit.analysis.noise_store import lookup_between_run_noise, lookup_noise_floor, noise_path
from armjit.analysis.pyperf_data import load as load_pyperf
from armjit.analysis.stats import effective_delta
from armjit.errors import UsageError
from armjit.seams.store import RunStore, run_status

__all__ = ["FLEETS", "History", "load_history"]

FLEETS = "fleets"  # REPORTS/fleets/<fleet-id>/fleet.json: the fleet records


@dataclass
class History:
    points: list[HistoryPoint] = field(default_factory=list)
    paired: list[PairedVerdict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "<run id>: why"
    runs: int = 0  # run records read
    noise_file: Path | None = None
    _deltas: dict[tuple[str, str, str], float | None] = field(default_factory=dict)

    def delta(self, host: str, bench: str, mode: str) -> float | None:
        """The between-run δ stored for this host, benchmark and mode (raised by a stored A/A δ)."""
        key = (host, bench, mode)
        if key not in self._deltas:
            found = None
            if self.noise_file is not None and self.noise_file.is_file():
                between = lookup_between_run_noise(self.noise_file, host=host, benchmark=bench, mode=mode)
                if between is not None:
                    aa = lookup_noise_floor(self.noise_file, host=host, benchmark=bench, mode=mode)
                    found = effective_delta(max(between[0], aa or 0.0))
            self._deltas[key] = found
        return self._deltas[key]


def _fleet_of(reports: Path) -> dict[str, str]:
    """run id -> the fleet id that lists it."""
    found: dict[str, str] = {}
    root = reports / FLEETS
    if not root.is_dir():
        return found
    for path in sorted(root.glob("*/fleet.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        hosts = data.get("hosts") if isinstance(data, dict) else None
        for entry in (hosts or {}).values() if isinstance(hosts, dict) else ():
            if isinstance(entry, dict) and isinstance(entry.get("run_id"), str):
                found[entry["run_id"]] = str(data.get("fleet_id") or path.parent.name)
    return found


def _host_name(manifest: Mapping[str, Any]) -> str:
    host = manifest.get("host")
    return str(host.get("name") or "") if isinstance(host, Mapping) else ""


def _paired(run_id: str, manifest: Mapping[str, Any]) -> PairedVerdict | None:
    sources, report = manifest.get("sources"), manifest.get("report")
    if not isinstance(sources, Mapping) or not isinstance(report, Mapping):
        return None
    refs = [s.get("ref") if isinstance(s, Mapping) else None for s in (sources.get("a"), sources.get("b"))]
    if not all(isinstance(r, str) and r for r in refs):
        return None
    verdicts = {
        (str(c.get("benchmark")), str(c.get("mode"))): str(c.get("verdict"))
        for c in report.get("comparisons") or []
        if isinstance(c, Mapping)
    }
    return PairedVerdict(run_id, _host_name(manifest), str(refs[0]), str(refs[1]), verdicts)


def _points(run_path: Path, run_id: str, manifest: Mapping[str, Any], fleet: str) -> list[HistoryPoint]:
    modes = manifest.get("modes")
    if not isinstance(modes, Mapping):
        return []
    host = _host_name(manifest)
    facts = manifest.get("host")
    python = facts.get("python") if isinstance(facts, Mapping) and isinstance(facts.get("python"), str) else None
    commits = manifest.get("commits")
    commit = commits.get("commit") if isinstance(commits, Mapping) else None
    code = crossrun.code_identity(manifest)
    found = []
    for mode, info in modes.items():
        rel = info.get("pyperf_json") if isinstance(info, Mapping) else None
        if not isinstance(rel, str) or not rel:
            continue
        data = load_pyperf(run_path / rel, for_comparison=False)
        runner = info.get("runner") if isinstance(info.get("runner"), str) else None
        for bench in data.benchmarks:
            if not bench.processes:
                continue
            found.append(
                HistoryPoint(
                    run_id=run_id,
                    started=str(manifest.get("started") or ""),
                    host=host,
                    benchmark=bench.name,
                    mode=str(mode),
                    commit=commit if isinstance(commit, str) else "",
                    processes=bench.processes,
                    measurement=crossrun.measurement(bench, runner=runner, host=host, python=python),
                    code=code,
                    kind=str(manifest.get("kind") or ""),
                    fleet=fleet,
                )
            )
    return found


def load_history(reports: Path) -> History:
    """Every finished run under ``reports/runs`` as history points (running, abandoned and
    interrupted runs are left out: their numbers may be half of a run)."""
    history = History(noise_file=noise_path(reports))
    fleets = _fleet_of(reports)
    for run in RunStore(reports / "runs").runs():
        history.runs += 1
        try:
            manifest = run.manifest()
        except UsageError as exc:
            history.skipped.append(f"{run.run_id}: {exc}")
            continue
        if run_status(manifest) != "ok":
            continue
        kind = manifest.get("kind")
        if kind in ("ab", "aa"):
            paired = _paired(run.run_id, manifest)
            if paired is not None:
                history.paired.append(paired)
            continue
        try:
            history.points.extend(_points(run.path, run.run_id, manifest, fleets.get(run.run_id, "")))
        except (UsageError, OSError) as exc:
            history.skipped.append(f"{run.run_id}: {exc}")
    return history
