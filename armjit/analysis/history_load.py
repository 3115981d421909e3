"""Loading a reports directory's history: every finished run with benchmark results, the fleet
records that group runs, the paired ``ab`` verdicts, and the stored between-run δ per host.

A run whose files cannot be read is left out and named (``History.skipped``): one damaged run
must not hide the history of the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from armjit.analysis import crossrun
from armjit.analysis.crossrun import CodeIdentity, Measurement
from armjit.analysis.history import HistoryPoint, PairedVerdict
from armjit.analysis.noise_store import lookup_between_run_noise, lookup_noise_floor, noise_path
from armjit.analysis.pyperf_data import load as load_pyperf
from armjit.analysis.run_inputs import run_measurement
from armjit.analysis.stats import effective_delta
from armjit.errors import UsageError
from armjit.seams.store import MANIFEST, atomic_write_text, load_manifest, run_status

__all__ = ["FLEETS", "INDEX", "History", "load_history"]

FLEETS = "fleets"  # REPORTS/fleets/<fleet-id>/fleet.json: the fleet records
INDEX = "history-index.json"
INDEX_SCHEMA = 2  # 2: code identities with every field that pins the code


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


def _entry(run_path: Path, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What history needs from one finished run, as JSON for the index."""
    host = _host_name(manifest)
    facts = manifest.get("host")
    python = facts.get("python") if isinstance(facts, Mapping) and isinstance(facts.get("python"), str) else None
    commits = manifest.get("commits")
    commit = commits.get("commit") if isinstance(commits, Mapping) else None
    code = crossrun.code_identity(manifest)
    entry: dict[str, Any] = {
        "status": run_status(manifest),
        "kind": str(manifest.get("kind") or ""),
        "started": str(manifest.get("started") or ""),
        "host": host,
        "commit": commit if isinstance(commit, str) else "",
        "code": code.to_json() if code else None,
        "results": [],
    }
    if entry["status"] != "ok":
        return entry
    if entry["kind"] in ("ab", "aa"):
        paired = _paired(run_path.name, manifest)
        if paired is not None:
            entry["paired"] = [paired.base, paired.cand, [[b, m, v] for (b, m), v in paired.verdicts.items()]]
        return entry
    modes = manifest.get("modes")
    for mode, info in (modes or {}).items() if isinstance(modes, Mapping) else ():
        rel = info.get("pyperf_json") if isinstance(info, Mapping) else None
        if not isinstance(rel, str) or not rel:
            continue
        data = load_pyperf(run_path / rel, for_comparison=False)
        runner = info.get("runner") if isinstance(info.get("runner"), str) else None
        for bench in data.benchmarks:
            if bench.processes:
                m = crossrun.measurement(bench, runner=runner, host=host, python=python, **run_measurement(manifest))
                entry["results"].append(
                    {"benchmark": bench.name, "mode": str(mode), "processes": bench.processes, "measurement": asdict(m)}
                )
    return entry


def _add(history: History, run_id: str, entry: Mapping[str, Any], fleet: str) -> None:
    if entry.get("status") != "ok":
        return
    if entry.get("paired"):
        base, cand, verdicts = entry["paired"]
        history.paired.append(PairedVerdict(run_id, entry["host"], base, cand, {(b, m): v for b, m, v in verdicts}))
        return
    raw = entry.get("code")
    code = CodeIdentity.from_json(raw) if isinstance(raw, Mapping) else None
    for r in entry.get("results") or ():
        history.points.append(
            HistoryPoint(
                run_id=run_id,
                started=entry["started"],
                host=entry["host"],
                benchmark=r["benchmark"],
                mode=r["mode"],
                commit=entry["commit"],
                processes=tuple(tuple(p) for p in r["processes"]),
                measurement=Measurement(**r["measurement"]),
                code=code,
                kind=entry["kind"],
                fleet=fleet,
            )
        )


def _read_index(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict) or data.get("schema") != INDEX_SCHEMA or not isinstance(data.get("runs"), dict):
        return {}
    return dict(data["runs"])


def load_history(reports: Path) -> History:
    """Every finished run under ``reports/runs`` as history points (running, abandoned and
    interrupted runs are left out: their numbers may be half of a run).

    What each run holds is kept in ``reports/history-index.json``, keyed by the run and its
    run.json's size and modification time: a finished run does not change, so a later call
    reads one file instead of every run.json and pyperf file again. A run whose record changed
    is read again; the index is only a copy and can be deleted at any time.
    """
    history = History(noise_file=noise_path(reports))
    fleets = _fleet_of(reports)
    index_path = reports / INDEX
    old = _read_index(index_path)
    new: dict[str, Any] = {}
    root = reports / "runs"
    for run_path in sorted(root.iterdir()) if root.is_dir() else ():
        try:
            st = (run_path / MANIFEST).stat()
        except OSError:
            continue
        history.runs += 1
        stamp = [st.st_mtime_ns, st.st_size]
        cached = old.get(run_path.name)
        if isinstance(cached, dict) and cached.get("stamp") == stamp:
            entry = cached
        else:
            try:
                entry = {"stamp": stamp, **_entry(run_path, load_manifest(run_path))}
            except (UsageError, OSError) as exc:
                history.skipped.append(f"{run_path.name}: {exc}")
                continue
        # A running run is asked again next time: its owner may be gone (abandoned) or done.
        if entry.get("status") not in ("running", "abandoned"):
            new[run_path.name] = entry
        _add(history, run_path.name, entry, fleets.get(run_path.name, ""))
    if new != old:
        atomic_write_text(index_path, json.dumps({"schema": INDEX_SCHEMA, "runs": new}, separators=(",", ":")))
    return history
