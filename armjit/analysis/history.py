"""A benchmark's history across runs: one series per host, benchmark and JIT mode, in time order.

Every consecutive pair in a series is judged by the cross-run rules of armjit.analysis.crossrun
(comparable settings, stable sides, δ from the host's between-run noise, different code), the
rules ``invoke compare`` applies to two runs. Only the interval differs: history judges every
pair of every series (thousands for a lab's reports), and the hierarchical bootstrap costs about
0.3 s per pair, so the interval here is Welch's t on the log process medians (microseconds). A
pair that this screen calls a regression is confirmed with the bootstrap (``confirm``), so a
listed regression is one ``invoke compare`` would call a regression too.

Pure: points in, rows out. Loading them from run records is armjit.analysis.history_load.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from armjit.analysis import crossrun, stats
from armjit.analysis.crossrun import CodeIdentity, Measurement

__all__ = [
    "DeltaLookup",
    "HistoryPoint",
    "HistoryRow",
    "PairedVerdict",
    "Series",
    "build_rows",
    "confirm",
    "estimate_from_json",
    "estimate_to_json",
    "median_interval",
    "recheck_key",
    "select",
    "series_of",
    "welch_estimate",
]

# (host, benchmark, mode) -> the between-run δ to judge a pair with, or None when none is stored.
DeltaLookup = Callable[[str, str, str], float | None]


@dataclass(frozen=True)
class HistoryPoint:
    """One benchmark of one mode in one finished run."""

    run_id: str
    started: str  # ISO time the run started (UTC)
    host: str
    benchmark: str
    mode: str
    commit: str  # "" when the run measured no commit (a released or plain build)
    processes: tuple[tuple[float, ...], ...]  # measured values per worker process
    measurement: Measurement
    code: CodeIdentity | None = None
    kind: str = "baseline"
    fleet: str = ""  # the fleet record the run belongs to, if any

    @cached_property
    def process_medians(self) -> tuple[float, ...]:
        return tuple(stats.process_median(p) for p in self.processes if p)

    @cached_property
    def median(self) -> float:
        return statistics.median(self.process_medians)

    @property
    def label(self) -> str:
        """The point's name on a chart's axis: the commit, else the day and time it ran."""
        return self.commit[:8] if self.commit else self.started[5:19].replace("T", " ")


@dataclass(frozen=True)
class PairedVerdict:
    """What a paired ``ab`` run on the same host said about one commit against another."""

    run_id: str
    host: str
    base: str  # the ref the ab run built as A (a commit or its prefix)
    cand: str
    verdicts: Mapping[tuple[str, str], str]  # (benchmark, mode) -> verdict


@dataclass(frozen=True)
class HistoryRow:
    point: HistoryPoint
    interval: tuple[float, float] | None  # the run's median, 95% interval (None: under 2 processes)
    previous: HistoryPoint | None = None
    ratio: float | None = None  # median / the previous run's median (lower is faster)
    estimate: stats.Estimate | None = None
    verdict: str = ""  # the cross-run verdict against the previous run ("" for the first run)
    reason: str = ""
    paired: str = ""  # "<verdict> (ab RUN)" when a paired run compared the two commits
    confirmed: bool | None = None  # a regression rechecked with the bootstrap: True / False; None: not checked

    @property
    def regression(self) -> bool:
        return self.verdict == "regression" and self.confirmed is not False


@dataclass(frozen=True)
class Series:
    host: str
    benchmark: str
    mode: str
    rows: tuple[HistoryRow, ...]


def select(
    points: Iterable[HistoryPoint],
    *,
    bench: Sequence[str] = (),
    mode: Sequence[str] = (),
    host: Sequence[str] = (),
    since: str = "",
) -> list[HistoryPoint]:
    """The points a filter keeps; ``since`` is an ISO date or time compared with the start time."""
    return [
        p
        for p in points
        if (not bench or p.benchmark in bench)
        and (not mode or p.mode in mode)
        and (not host or p.host in host)
        and (not since or p.started >= since)
    ]


def series_of(points: Iterable[HistoryPoint]) -> dict[tuple[str, str, str], list[HistoryPoint]]:
    """Points grouped by (host, benchmark, mode), each group in time order."""
    groups: dict[tuple[str, str, str], list[HistoryPoint]] = {}
    for p in points:
        groups.setdefault((p.host, p.benchmark, p.mode), []).append(p)
    for group in groups.values():
        group.sort(key=lambda p: (p.started, p.run_id))
    return dict(sorted(groups.items()))


def _variance(xs: Sequence[float]) -> float:
    """Sample variance in floats (``statistics.variance`` is exact, in fractions, and ~50x slower:
    history computes thousands)."""
    mean = math.fsum(xs) / len(xs)
    return math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1)


def _cv(xs: Sequence[float]) -> float:
    mean = math.fsum(xs) / len(xs)
    return math.sqrt(_variance(xs)) / mean if len(xs) > 1 and mean else 0.0


def _t_half(logs: Sequence[float]) -> float:
    n = len(logs)
    return stats.t_quantile(1 - (1 - stats.CONFIDENCE) / 2, n - 1) * math.sqrt(_variance(logs) / n)


def median_interval(medians: Sequence[float]) -> tuple[float, float] | None:
    """A 95% interval for a run's typical process: Student's t on the log process medians."""
    if len(medians) < 2:
        return None
    logs = [math.log(m) for m in medians]
    centre, half = math.fsum(logs) / len(logs), _t_half(logs)
    return math.exp(centre - half), math.exp(centre + half)


def welch_estimate(a: Sequence[float], b: Sequence[float]) -> stats.Estimate | None:
    """to/from = median(b)/median(a) of process medians, with Welch's t interval on their logs."""
    if len(a) < 2 or len(b) < 2:
        return None
    la, lb = [math.log(x) for x in a], [math.log(x) for x in b]
    va, vb = _variance(la) / len(la), _variance(lb) / len(lb)
    se = math.sqrt(va + vb)
    ratio = statistics.median(b) / statistics.median(a)
    if se == 0:
        lo = hi = ratio
    else:
        # Welch–Satterthwaite degrees of freedom, at least 1.
        df = (va + vb) ** 2 / ((va**2 / (len(la) - 1)) + (vb**2 / (len(lb) - 1)))
        half = stats.t_quantile(1 - (1 - stats.CONFIDENCE) / 2, max(1, math.floor(df))) * se
        lo, hi = ratio * math.exp(-half), ratio * math.exp(half)
    return stats.Estimate(
        paired=False,
        ratio=ratio,
        ci_lo=lo,
        ci_hi=hi,
        from_median=statistics.median(a),
        to_median=statistics.median(b),
        n_from=len(a),
        n_to=len(b),
        p_to_faster=0.5,
        cv_from=_cv(a),
        cv_to=_cv(b),
        confidence=stats.CONFIDENCE,
        resamples=0,
        seed=0,
        from_processes=tuple(a),
        to_processes=tuple(b),
    )


def _judge(prev: HistoryPoint, cur: HistoryPoint, est: stats.Estimate, delta: float | None) -> stats.Decision:
    gates = stats.health_gates(paired=False, n_from=est.n_from, n_to=est.n_to)
    decision, _ = crossrun.decide_cross_run(
        est,
        delta=delta,
        gates=gates,
        reasons=(*crossrun.comparability(prev.measurement, cur.measurement), *crossrun.stability(est)),
        unknown=crossrun.delta_unknown(cur.host, cur.benchmark),
        same=crossrun.same_code(prev.code, cur.code),
    )
    return decision


def _paired_for(prev: HistoryPoint, cur: HistoryPoint, paired: Sequence[PairedVerdict]) -> str:
    if not prev.commit or not cur.commit:
        return ""
    for run in reversed(paired):
        if run.host != cur.host or len(run.base) < 7 or len(run.cand) < 7:
            continue
        if prev.commit.startswith(run.base) and cur.commit.startswith(run.cand):
            verdict = run.verdicts.get((cur.benchmark, cur.mode))
            if verdict:
                return f"{verdict} (ab {run.run_id})"
    return ""


def build_rows(
    points: Iterable[HistoryPoint], *, delta: DeltaLookup, paired: Sequence[PairedVerdict] = ()
) -> list[Series]:
    """Every series with each run judged against the run before it in the same series."""
    found = []
    for (host, bench, mode), group in series_of(points).items():
        rows: list[HistoryRow] = []
        prev: HistoryPoint | None = None
        for cur in group:
            meds = cur.process_medians
            if prev is None:
                row = HistoryRow(cur, median_interval(meds))
            else:
                est = welch_estimate(prev.process_medians, meds)
                decision = _judge(prev, cur, est, delta(host, bench, mode)) if est is not None else None
                row = HistoryRow(
                    cur,
                    median_interval(meds),
                    previous=prev,
                    ratio=cur.median / prev.median,
                    estimate=est,
                    verdict=decision.verdict if decision else "",
                    reason=decision.reason if decision else "",
                    paired=_paired_for(prev, cur, paired),
                )
            rows.append(row)
            prev = cur
        found.append(Series(host, bench, mode, tuple(rows)))
    return found


def confirm(
    row: HistoryRow,
    delta: float | None,
    *,
    resamples: int = stats.RESAMPLES,
    estimate: stats.Estimate | None = None,
) -> HistoryRow:
    """Recheck a regression with the hierarchical bootstrap ``invoke compare`` uses.

    ``estimate``: that bootstrap's result from an earlier call on the same values
    (``recheck_key``); it is seeded, so the result is the one this call would compute.
    """
    if row.verdict != "regression" or row.previous is None:
        return row
    est = estimate
    if est is None:
        est = stats.unpaired_estimate(row.previous.processes, row.point.processes, resamples=resamples)
    decision = _judge(row.previous, row.point, est, delta)
    return replace(
        row, estimate=est, verdict=decision.verdict, reason=decision.reason, confirmed=decision.verdict == "regression"
    )


def recheck_key(row: HistoryRow, *, resamples: int = stats.RESAMPLES) -> str:
    """The digest of everything ``confirm``'s bootstrap depends on: both runs' values per
    process, the resamples, the seed and the confidence."""
    previous = row.previous.processes if row.previous is not None else ()
    inputs = [previous, row.point.processes, resamples, stats.DEFAULT_SEED, stats.CONFIDENCE]
    return hashlib.sha256(json.dumps(inputs, separators=(",", ":")).encode()).hexdigest()


def estimate_to_json(estimate: stats.Estimate) -> dict[str, Any]:
    return dataclasses.asdict(estimate)


def estimate_from_json(data: Mapping[str, Any]) -> stats.Estimate | None:
    """The estimate ``estimate_to_json`` wrote, or None when ``data`` is not one (a damaged or
    older cache entry is computed again, never trusted)."""
    try:
        fields = {f.name: data[f.name] for f in dataclasses.fields(stats.Estimate)}
        fields["from_processes"] = tuple(float(v) for v in fields["from_processes"])
        fields["to_processes"] = tuple(float(v) for v in fields["to_processes"])
        return stats.Estimate(**fields)
    except (KeyError, TypeError, ValueError):
        return None
