"""Drift of the from arm between the halves of a paired run, and how far it could bias the estimate."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from armjit.analysis.stats.core import Block, Estimate, cv, pct_change

__all__ = ["Drift", "drift_bias_bound", "drift_gate", "from_arm_drift", "survives_drift"]


@dataclass(frozen=True)
class Drift:
    """How far the from arm moved between the first and the second half of the blocks."""

    moved: float  # median of the second half's A medians / the first half's
    limit: float  # the movement that counts as drift (beyond δ and beyond chance)

    @property
    def log_size(self) -> float:
        return abs(math.log(self.moved))

    def reason(self) -> str:
        return (
            f"drift: the from arm moved {pct_change(self.moved):+.1f}% between the first and second half of the blocks"
        )


def from_arm_drift(blocks: Sequence[Block], delta: float) -> Drift | None:
    """The from arm's drift between the halves of the blocks (in run order), or None when it moved
    no more than δ and no more than two halves of a noisy arm differ by chance
    (benchmark-statistics.md §2.4)."""
    half = len(blocks) // 2
    if half < 2:
        return None
    first = statistics.median(b.a for b in blocks[:half])
    second = statistics.median(b.a for b in blocks[half:])
    moved = second / first
    # Two halves of a noisy arm differ by chance: the limit is also at least twice the standard
    # error of a difference of two medians of ``half`` values (1.253·σ/√n each).
    chance = 2 * 1.253 * cv([b.a for b in blocks]) * math.sqrt(2 / half)
    limit = max(delta, chance)
    if 1 / (1 + limit) <= moved <= 1 + limit:
        return None
    return Drift(moved, limit)


def drift_bias_bound(drift: Drift, n_blocks: int) -> float:
    """The most (in ln of the ratio) that the from arm's drift can move a paired estimate.

    Each block's ratio sees only the drift between its own A and B process; drift common to
    both cancels. Those A-to-B spans of different blocks do not overlap, so together they cover
    at most the machine's whole movement over the run, and the mean of the block log-ratios is
    moved by at most that total divided by the blocks. The halves' medians sit about a quarter
    and three quarters into the run, so a steady trend moves the machine about twice their
    difference over the whole run (a single step, once): hence 2·|ln moved| / n. Randomised
    A/B order makes the real bias smaller still (its sign flips with the order), and the
    wobble of a non-steady load shows up as spread between blocks, which the interval carries.
    """
    return 2 * drift.log_size / max(n_blocks, 1)


def survives_drift(estimate: Estimate, delta: float, drift: Drift, *, sensitivity: float = 1.0) -> bool:
    """Whether the verdict stands even if the drift had biased the estimate as far as it can.

    The interval is moved by ``drift_bias_bound`` towards the other side of the band. A
    regression or improvement stands when it still clears the δ band, an equivalence when it
    still lies inside it: then the drift cannot explain the result. Anything else (a drift
    comparable to the effect, or no decisive result to begin with) is left to the drift gate.
    ``sensitivity``: how much more than the mean the estimate moves with the blocks (a Huber
    estimate: 1 / the share of blocks inside its clip).
    """
    bound = drift_bias_bound(drift, estimate.n) * sensitivity
    up = math.log1p(delta)
    lo, hi = math.log(estimate.ci_lo), math.log(estimate.ci_hi)
    if lo > up or hi < -up:
        return lo - bound > up or hi + bound < -up
    return -up < lo - bound and hi + bound < up


def drift_gate(blocks: Sequence[Block], delta: float, estimate: Estimate | None = None) -> str | None:
    """The drift reason that makes a paired verdict inconclusive, or None.

    Without ``estimate`` any drift counts; with it, only a drift that could explain the
    estimate's effect (see ``survives_drift``)."""
    drift = from_arm_drift(blocks, delta)
    if drift is None or (estimate is not None and survives_drift(estimate, delta, drift)):
        return None
    return drift.reason()
