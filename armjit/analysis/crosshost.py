"""One table per question for a fleet: each benchmark and mode across hosts, as ratios to a
reference host with intervals; the hosts' facts beside it; and, for ab fleets, where the change
helped and where it hurt.

A ratio between two hosts is a difference of machines (and of their load at the time), not of
code: it is shown with the unpaired interval of ``invoke compare`` and no verdict.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from armjit.analysis import stats
from armjit.analysis.run_inputs import Input

__all__ = ["Cell", "CrossHostRow", "HostFactsRow", "cross_host_rows", "helped_and_hurt", "host_facts_row"]


@dataclass(frozen=True)
class Cell:
    median: float  # median of process medians, seconds
    estimate: stats.Estimate | None = None  # this host / the reference host; None on the reference


@dataclass(frozen=True)
class CrossHostRow:
    benchmark: str
    mode: str
    cells: Mapping[str, Cell | None]  # host -> its cell (None: the host has no result)


@dataclass(frozen=True)
class HostFactsRow:
    host: str
    arch: str
    cpu: str
    cores: str
    kernel: str
    python: str
    cinderx: str


def _processes(side: Input, mode: str | None, bench: str) -> tuple[tuple[float, ...], ...] | None:
    data = side.modes.get(mode)
    if data is None or data.data is None or bench not in data.data.names:
        return None
    processes = data.data.get(bench).processes
    return processes or None


def cross_host_rows(
    inputs: Mapping[str, Input], reference: str, *, resamples: int = stats.RESAMPLES, seed: int = stats.DEFAULT_SEED
) -> list[CrossHostRow]:
    """Rows benchmark x mode (in the order the hosts measured them), one cell per host."""
    keys: dict[tuple[str, str | None], None] = {}
    for side in inputs.values():
        for mode, data in side.modes.items():
            for name in data.data.names if data.data is not None else ():
                keys[(name, mode)] = None
    rows = []
    for index, (bench, mode) in enumerate(keys):
        ref = _processes(inputs[reference], mode, bench) if reference in inputs else None
        cells: dict[str, Cell | None] = {}
        for host, side in inputs.items():
            processes = _processes(side, mode, bench)
            if processes is None:
                cells[host] = None
                continue
            median = statistics.median(stats.process_median(p) for p in processes)
            est = None
            if ref is not None and host != reference:
                est = stats.unpaired_estimate(ref, processes, resamples=resamples, seed=seed + index)
            cells[host] = Cell(median, est)
        rows.append(CrossHostRow(bench, mode or "-", cells))
    return rows


def host_facts_row(host: str, manifest: Mapping[str, Any]) -> HostFactsRow:
    """arch, CPU model, cores, kernel, python and the cinderx that ran, from a run record."""
    facts = manifest.get("host")
    facts = facts if isinstance(facts, Mapping) else {}
    uname = str(facts.get("uname") or "")
    parts = uname.split()
    kernel = parts[2] if len(parts) > 2 else uname
    settings = manifest.get("settings")
    build = str(settings.get("build") or "") if isinstance(settings, Mapping) else ""
    commits = manifest.get("commits")
    commit = str(commits.get("commit") or "") if isinstance(commits, Mapping) else ""
    cinderx = str(facts.get("cinderx") or "")
    if not cinderx:
        cinderx = f"source {commit[:10]}" if build == "source" and commit else build or "?"
    return HostFactsRow(
        host,
        str(facts.get("arch") or "?"),
        str(facts.get("cpu") or "?"),
        str(facts.get("nproc") or "?"),
        kernel or "?",
        str(facts.get("python") or "?"),
        cinderx,
    )


def helped_and_hurt(verdicts: Mapping[str, Sequence[tuple[str, str, str]]]) -> str:
    """One line over an ab fleet: host -> [(benchmark, mode, verdict)]."""
    helped = sorted({h for h, items in verdicts.items() for *_, v in items if v == "real improvement"})
    hurt = sorted({h for h, items in verdicts.items() for *_, v in items if v == "regression"})
    neither = sorted(set(verdicts) - set(helped) - set(hurt))
    parts = [
        f"helped on {', '.join(helped)}" if helped else "helped nowhere",
        f"hurt on {', '.join(hurt)}" if hurt else "hurt nowhere",
    ]
    if neither:
        parts.append(f"no clear change on {', '.join(neither)}")
    return "the change " + "; ".join(parts)
