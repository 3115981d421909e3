"""Shared vocabulary of the statistics: constants, per-process summaries, blocks, estimates, decisions."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CONFIDENCE",
    "CV_WARN",
    "DEFAULT_BLOCKS",
    "DEFAULT_SEED",
    "MIN_BLOCKS",
    "MIN_DELTA",
    "MIN_PROCESSES",
    "RATIO_HEADER",
    "RESAMPLES",
    "Block",
    "Decision",
    "Estimate",
    "Judgement",
    "Verdict",
    "block_order",
    "cv",
    "pct_change",
    "process_median",
    "quantile",
]


Verdict = Literal["real improvement", "no clear improvement", "regression", "inconclusive"]

RESAMPLES = 10_000
CONFIDENCE = 0.95
DEFAULT_SEED = 20261124
MIN_DELTA = 0.01
# Chosen with bench/validate_verdicts.py (richards + injected busy loop, 2-core shared machine,
# process CPU clock, process-median CV ~3.5%): 20 blocks already detect an injected 5% slowdown
# in 95% of trials with A/A false verdicts at 1%; 30 blocks reach 100% / 0%, a margin for hosts
# noisier than that. By pyperf's wall clock under load from other jobs (CV 47%, README
# "Statistics"), 30 blocks kept A/A false verdicts at 1% and called a 1.65x slowdown a regression
# in every trial, but a +10% stays out of reach: the interval is about ±18% wide.
DEFAULT_BLOCKS = 30
MIN_BLOCKS = 5
MIN_PROCESSES = 3
CV_WARN = 0.10
RATIO_HEADER = "ratio to/from (lower is better)"


def process_median(values: Sequence[float]) -> float:
    """The one number a process contributes: the median of its measured (non-warmup) values."""
    if not values:
        raise ValueError("a process without measured values")
    return statistics.median(values)


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (type 7) of an already sorted sequence."""
    if not sorted_values:
        raise ValueError("quantile of nothing")
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def cv(values: Sequence[float]) -> float:
    """Coefficient of variation (sample stdev / mean); 0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    mean = statistics.fmean(values)
    return statistics.stdev(values) / mean if mean else 0.0


def pct_change(ratio: float) -> float:
    """%Δ of a to/from ratio: negative is faster."""
    return (ratio - 1.0) * 100.0


def block_order(n_blocks: int, seed: int) -> tuple[str, ...]:
    """Which process runs first in each block: "AB" or "BA", seeded.

    Balanced (as many AB as BA, the odd one random) and shuffled, so a first-runs-slower effect
    cancels out instead of landing on one arm by chance.
    """
    if n_blocks < 0:
        raise ValueError("negative block count")
    rng = random.Random(seed)
    half = n_blocks // 2
    orders = ["AB"] * half + ["BA"] * half
    if n_blocks % 2:
        orders.append(rng.choice(("AB", "BA")))
    rng.shuffle(orders)
    return tuple(orders)


@dataclass(frozen=True)
class Block:
    """One block: the process medians of its A (from) and B (to) process."""

    a: float
    b: float
    order: str = "AB"

    @property
    def log_ratio(self) -> float:
        return math.log(self.b / self.a)


@dataclass(frozen=True)
class Estimate:
    """A to/from ratio with its bootstrap interval and the descriptive numbers around it."""

    paired: bool
    ratio: float
    ci_lo: float
    ci_hi: float
    from_median: float  # median of the from-side process medians (seconds per iteration)
    to_median: float
    n_from: int  # processes (== blocks when paired)
    n_to: int
    p_to_faster: float  # paired: share of blocks B won; unpaired: P(random to process < random from process)
    cv_from: float  # CV of process medians
    cv_to: float
    confidence: float
    resamples: int
    seed: int
    from_processes: tuple[float, ...] = ()  # process medians, kept for plots and reports
    to_processes: tuple[float, ...] = ()

    @property
    def n(self) -> int:
        """Replication units: blocks when paired, the smaller arm when not."""
        return min(self.n_from, self.n_to)

    @property
    def half_width_log(self) -> float:
        return (math.log(self.ci_hi) - math.log(self.ci_lo)) / 2.0

    @property
    def block_ratios(self) -> tuple[float, ...]:
        if not self.paired:
            return ()
        return tuple(b / a for a, b in zip(self.from_processes, self.to_processes, strict=True))


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    delta: float
    blocks_needed: int | None = None  # set when the interval was too wide to decide
    warning: str | None = None  # "possible small regression", high CV, ...


@dataclass(frozen=True)
class Judgement:
    estimate: Estimate
    decision: Decision
