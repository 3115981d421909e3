"""Trials of ``ab --until-decided`` replayed on a measured pool (bench/validate_verdicts.py).

A trial walks the pool's super-blocks in a random order, one block at a time, and looks at the
confidence sequence after each (armjit.analysis.stats.sequential), exactly as the flow does; it
stops when the interval settles or when the budget (in blocks: minutes / time per block) is spent.
Trials share super-blocks, so they are not independent; with a pool smaller than the budget a
trial can also run out of blocks, which is counted separately.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from armjit.analysis import stats
from armjit.analysis.stats import sequential


@dataclass(frozen=True)
class SequentialRow:
    trials: int
    hits: int  # correct decisions: regression for an injected slowdown; false (any claim) for A/A
    equivalent: int
    undecided: int  # budget spent
    exhausted: int  # pool ran out before the budget
    blocks: list[int]  # blocks at the stop

    def minutes(self, seconds_per_block: float) -> float:
        return statistics.median(self.blocks) * seconds_per_block / 60 if self.blocks else 0.0


def replay(
    pairs: Sequence[tuple[float, float]],
    *,
    aa: bool,
    delta: float,
    budget_blocks: int,
    trials: int,
    seed: int,
) -> SequentialRow:
    """``pairs`` are (A, X) per super-block in run order; each trial permutes them."""
    rng = random.Random(seed)
    hits = equivalent = undecided = exhausted = 0
    stops: list[int] = []
    for _ in range(trials):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        blocks: list[stats.Block] = []
        outcome = None
        for i in order[:budget_blocks]:
            a, x = pairs[i]
            blocks.append(stats.Block(a, x))
            if len(blocks) >= 2:
                outcome = sequential.look(blocks, delta, 0.0).outcome
                if outcome:
                    break
        stops.append(len(blocks))
        if outcome is None:
            if budget_blocks > len(pairs):
                exhausted += 1
            else:
                undecided += 1
        elif outcome == "equivalent":
            equivalent += 1
        if aa:
            hits += outcome in ("regression", "real improvement")
        else:
            hits += outcome == "regression"
    return SequentialRow(trials, hits, equivalent, undecided, exhausted, stops)


def matched_pyperf_power(
    aa: Sequence[tuple[bool, float]], effect: Sequence[tuple[bool, float]], target: float = 0.05
) -> tuple[float, float, float]:
    """pyperf compare_to's power at a chosen false-positive rate: the smallest ``--min-speed``
    (minimum |ratio - 1|) at which its A/A "significant" rate is <= ``target``, and the share of
    effect trials it then calls significantly slower. Items are (significant, ratio to/from).
    Returns (min_speed, A/A false rate, power)."""
    grid = sorted({0.0, *(abs(r - 1.0) for _, r in aa)})
    for threshold in grid:
        false = sum(sig and abs(r - 1.0) > threshold for sig, r in aa) / max(len(aa), 1)
        if false <= target:
            power = sum(sig and r - 1.0 > threshold for sig, r in effect) / max(len(effect), 1)
            return threshold, false, power
    return float("inf"), 0.0, 0.0
