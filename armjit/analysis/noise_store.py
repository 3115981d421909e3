"""The per-host noise store (``reports/noise.json``): the paired A/A δ that ``invoke ab --aa``
writes, and beside it the between-run noise that armjit.analysis.between_runs measures from
repeated baselines of the same code (``invoke compare --record-noise``). Also ``--delta``'s parser.

Entries are keyed host -> benchmark -> mode ("*" is the benchmark's default for any mode).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from armjit.analysis import stats
from armjit.errors import UsageError
from armjit.seams.store import atomic_write_text

__all__ = [
    "NOISE_FILE",
    "check_noise_file",
    "lookup_between_run_noise",
    "lookup_noise_floor",
    "noise_path",
    "parse_delta",
    "record_between_run_noise",
    "record_noise_floor",
]

NOISE_FILE = "noise.json"


def noise_path(reports: Path) -> Path:
    return reports / NOISE_FILE


def _read_noise(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"schema_version": 1, "hosts": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read the noise floors in {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("hosts"), dict):
        raise UsageError(f"{path} is not an armjit noise-floor file (no 'hosts' object)")
    _check_numbers(path, data["hosts"])
    return data


def _stored_delta(value: Any) -> bool:
    """A δ as it may be stored: a positive, finite number (not a boolean: ``true`` is not 100%)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _check_numbers(path: Path, hosts: dict[str, Any]) -> None:
    """Every δ in the file is a number a verdict can use, else one line naming the entry: a NaN
    read as the 1% floor, or ``true`` as ±100%, would judge against a δ nobody measured."""
    for host, benches in hosts.items():
        for bench, modes in benches.items() if isinstance(benches, dict) else ():
            for mode, entry in modes.items() if isinstance(modes, dict) else ():
                if not isinstance(entry, dict):
                    continue
                between = entry.get("between_runs")
                found = [("delta", entry["delta"])] if "delta" in entry else []
                if isinstance(between, dict) and "delta" in between:
                    found.append(("between_runs.delta", between["delta"]))
                for key, value in found:
                    if not _stored_delta(value):
                        raise UsageError(
                            f"{path}: {host}/{bench}/{mode} {key} is {json.dumps(value)}, not a positive "
                            "number; fix or delete that entry and measure it again "
                            "(`invoke ab --aa`, `invoke compare --record-noise`)"
                        )


def check_noise_file(path: Path) -> None:
    """Refuse a damaged noise store before a run starts that would judge with it (one line)."""
    _read_noise(path)


def record_noise_floor(
    path: Path,
    *,
    host: str,
    benchmark: str,
    mode: str | None,
    delta: float,
    blocks: int,
    measured_at: str | None = None,
    source: str = "",
) -> None:
    """Store δ for (host, benchmark, mode); ``mode=None`` stores the host+benchmark default ("*")."""
    if not (math.isfinite(delta) and delta > 0):
        raise UsageError(f"noise floor {delta!r} must be a positive fraction (0.02 = 2%)")
    data = _read_noise(path)
    entry = data["hosts"].setdefault(host, {}).setdefault(benchmark, {}).setdefault(mode or "*", {})
    # update in place: the between-run noise stored beside δ survives a new A/A run
    entry.update(
        delta=delta,
        blocks=blocks,
        measured_at=measured_at or _now(),
        source=source,
    )
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_between_run_noise(
    path: Path,
    *,
    host: str,
    benchmark: str,
    mode: str | None,
    delta: float,
    runs: Sequence[str],
    measured_at: str | None = None,
) -> None:
    """Store the between-run δ for (host, benchmark, mode) beside the A/A δ of that entry."""
    if not (math.isfinite(delta) and delta > 0):
        raise UsageError(f"between-run noise {delta!r} must be a positive fraction (0.02 = 2%)")
    if len(runs) < 2:
        raise UsageError("the between-run noise needs at least two runs of the same code")
    data = _read_noise(path)
    entry = data["hosts"].setdefault(host, {}).setdefault(benchmark, {}).setdefault(mode or "*", {})
    entry["between_runs"] = {"delta": delta, "runs": list(runs), "measured_at": measured_at or _now()}
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def lookup_between_run_noise(
    path: Path, *, host: str | None, benchmark: str, mode: str | None
) -> tuple[float, int] | None:
    """The stored between-run δ and how many runs it came from (mode, else "*"), or None."""
    if host is None:
        return None
    per_bench = _read_noise(path)["hosts"].get(host, {}).get(benchmark, {})
    for key in (mode or "*", "*"):
        entry = per_bench.get(key)
        between = entry.get("between_runs") if isinstance(entry, dict) else None
        if isinstance(between, dict) and isinstance(between.get("delta"), int | float):
            runs = between.get("runs")
            return float(between["delta"]), len(runs) if isinstance(runs, list) else 0
    return None


def lookup_noise_floor(path: Path, *, host: str | None, benchmark: str, mode: str | None) -> float | None:
    """The stored δ for this host, benchmark and mode (else the benchmark's "*" entry), or None."""
    if host is None:
        return None
    per_bench = _read_noise(path)["hosts"].get(host, {}).get(benchmark, {})
    for key in (mode or "*", "*"):
        entry = per_bench.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("delta"), int | float):
            return float(entry["delta"])
    return None


def parse_delta(text: str | float) -> float:
    """``--delta``: a fraction (0.02) or a percentage ("2%"); at least the 1% floor, below 50%."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(f"--delta {raw!r}: expected a fraction like 0.02 or a percentage like 2%") from None
    if math.isnan(value) or value >= 0.5:
        raise UsageError(f"--delta {raw}: expected a fraction like 0.02 (2%), below 0.5")
    if value < stats.MIN_DELTA:
        raise UsageError(f"--delta {raw}: the practical threshold is at least {stats.MIN_DELTA:.0%} (0.01)")
    return value
