"""Sequential verdicts (armjit.analysis.stats.sequential): looking after every block must keep the
false-verdict rate at its nominal level, where a fixed-n interval looked at as often does not."""

from __future__ import annotations

import math
import random
from statistics import stdev

import pytest

from armjit.analysis import stats
from armjit.analysis.stats import sequential


def _normal_blocks(rng: random.Random, n: int, effect: float, sd: float) -> list[stats.Block]:
    return [stats.Block(1.0, math.exp(effect + rng.gauss(0.0, sd))) for _ in range(n)]


def _t_interval(d: list[float]) -> tuple[float, float]:
    """The fixed-n 95% t interval of the mean, for comparison with the sequence."""
    n = len(d)
    mean = math.fsum(d) / n
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (n - 1))
    half = stats.t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    return mean - half, mean + half


def _false_rate(interval: object, trials: int, max_blocks: int, sd: float, seed: int) -> float:
    """A/A runs that look after every block from MIN_SEQUENTIAL_BLOCKS on and stop at the first
    settled look: the share that stopped on a regression or an improvement."""
    rng = random.Random(seed)
    false = 0
    for _ in range(trials):
        d: list[float] = []
        for _ in range(max_blocks):
            d.append(rng.gauss(0.0, sd))
            if len(d) < sequential.MIN_SEQUENTIAL_BLOCKS:
                continue
            lo, hi = interval(d)  # type: ignore[operator]
            outcome = sequential.settled(lo, hi, 0.01)
            if outcome:
                false += outcome != "equivalent"
                break
    return false / trials


@pytest.mark.parametrize("sd", [0.08, 0.15])
def test_repeated_looks_keep_false_verdicts_nominal_where_a_fixed_interval_does_not(sd: float) -> None:
    # Block log-ratios with an 8-15% spread: this machine's wall clock (README "Statistics").
    seq = _false_rate(sequential.confidence_sequence, 250, 40, sd, seed=7)
    fixed = _false_rate(_t_interval, 250, 40, sd, seed=7)
    assert seq <= 0.05
    # The same looks with a fixed-n interval cry wolf several times as often: the reason for the sequence.
    assert fixed > 2 * max(seq, 0.02)


def test_heavy_tailed_aa_stays_nominal() -> None:
    rng = random.Random(3)
    false = 0
    trials = 250
    for _ in range(trials):
        d: list[float] = []
        for _ in range(40):
            # Student t with 3 degrees of freedom: the outliers a starved process makes.
            chi = sum(rng.gauss(0, 1) ** 2 for _ in range(3)) / 3
            d.append(0.05 * rng.gauss(0, 1) / math.sqrt(chi))
            if len(d) >= sequential.MIN_SEQUENTIAL_BLOCKS:
                outcome = sequential.settled(*sequential.confidence_sequence(d), 0.01)
                if outcome:
                    false += outcome != "equivalent"
                    break
    assert false / trials <= 0.05


def test_the_sequence_is_wider_than_the_fixed_interval_and_narrows() -> None:
    rng = random.Random(1)
    d = [rng.gauss(0.0, 0.05) for _ in range(40)]
    widths = []
    for n in (6, 10, 20, 40):
        lo, hi = sequential.confidence_sequence(d[:n])
        flo, fhi = _t_interval(d[:n])
        assert lo < flo and hi > fhi
        widths.append(hi - lo)
    assert widths == sorted(widths, reverse=True)


def test_a_clear_regression_settles_early_and_an_equivalence_settles_too() -> None:
    rng = random.Random(2)
    slow = _normal_blocks(rng, 8, math.log(1.10), 0.01)
    look = sequential.look(slow, 0.01, 30.0)
    assert look.outcome == "regression" and look.blocks == 8
    same = _normal_blocks(rng, 10, 0.0, 0.001)
    assert sequential.look(same, 0.01, 30.0).outcome == "equivalent"
    # Never before the minimum, however clear.
    assert sequential.look(slow[:3], 0.01, 5.0).outcome is None


def test_judge_sequential_judges_the_sequence_not_the_bootstrap() -> None:
    rng = random.Random(5)
    blocks = _normal_blocks(rng, 12, math.log(1.03), 0.02)
    fixed = stats.judge_paired(blocks, delta=0.01)
    seq = stats.judge_sequential(blocks, delta=0.01, stopped="budget of 10 min spent after 12 blocks")
    lo, hi = sequential.confidence_sequence([b.log_ratio for b in blocks])
    assert seq.estimate.ci_lo == pytest.approx(math.exp(lo)) and seq.estimate.ci_hi == pytest.approx(math.exp(hi))
    assert seq.estimate.ci_hi - seq.estimate.ci_lo > fixed.estimate.ci_hi - fixed.estimate.ci_lo
    assert seq.decision.reason.endswith("budget of 10 min spent after 12 blocks")
    if seq.decision.verdict == "no clear improvement" and "too wide" in seq.decision.reason:
        assert "more blocks needed" in seq.decision.reason


def test_look_line_shows_interval_blocks_and_budget() -> None:
    found = sequential.Look(9, 125.0, 1.02, 0.99, 1.05, None)
    line = found.line(0.01, 600.0)
    assert "block 9" in line and "[0.9900, 1.0500]" in line and "2.1 min of 10" in line and "undecided" in line


def test_a_settled_interval_that_drift_could_explain_does_not_stop_the_run() -> None:
    rng = random.Random(11)
    # B is 4% faster in every block, while the machine slows down twofold over the run.
    drifting = [
        stats.Block(a, a * math.exp(math.log(0.96) + rng.gauss(0.0, 0.003))) for a in (1.0 + i / 11 for i in range(12))
    ]
    assert sequential.look(drifting, 0.01, 60.0).outcome == "real improvement"
    held = sequential.withheld(drifting, 0.01, check_drift=True)
    assert held is not None and held.startswith("drift: the from arm moved +")
    # The same blocks on a steady machine stop at once; without the drift check they stop too.
    steady = [stats.Block(1.0, blk.b / blk.a) for blk in drifting]
    assert sequential.withheld(steady, 0.01, check_drift=True) is None
    assert sequential.withheld(drifting, 0.01, check_drift=False) is None
    # A gate (most blocks starved) holds the stop as well, and says why.
    assert sequential.withheld(steady, 0.01, gates=["host too busy: 12 of 24 blocks dropped"]) == (
        "host too busy: 12 of 24 blocks dropped"
    )


def _contaminated(rng: random.Random, effect: float) -> float:
    """A block on a shared host: usually a 3% spread; one in ten met a neighbour's burst and is
    off by ±40% (README "Statistics": a quiet-pool sd of 10.9% against a MAD-sd of 3.6%)."""
    if rng.random() < 0.1:
        return effect + rng.choice((-1, 1)) * abs(rng.gauss(0.0, 0.4))
    return effect + rng.gauss(0.0, 0.03)


def _mean_sequence(d: list[float]) -> tuple[float, float]:
    """The sequence on the plain mean and sd (the estimate before Huber's), for comparison."""
    t = len(d)
    alpha = 0.05
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / sequential.TIGHTEST_AT
    mean = math.fsum(d) / t
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (t - 1)) * stats.t_quantile(0.975, t - 1) / 1.959964
    half = sd * math.sqrt(2 * (t * rho2 + 1) / (t * t * rho2) * math.log(math.sqrt(t * rho2 + 1) / alpha))
    return mean - half, mean + half


def _stop(interval: object, rng: random.Random, effect: float, max_blocks: int) -> tuple[str | None, int]:
    d: list[float] = []
    for _ in range(max_blocks):
        d.append(_contaminated(rng, effect))
        if len(d) >= sequential.MIN_SEQUENTIAL_BLOCKS:
            outcome = sequential.settled(*interval(d), 0.01)  # type: ignore[operator]
            if outcome:
                return outcome, len(d)
    return None, max_blocks


def test_contaminated_aa_stays_nominal_and_settles_as_equivalent() -> None:
    rng = random.Random(13)
    stops = [_stop(sequential.confidence_sequence, rng, 0.0, 300) for _ in range(200)]
    false = sum(outcome in ("regression", "real improvement") for outcome, _ in stops)
    assert false / len(stops) <= 0.05
    # The bursts do not widen the interval past ±1%: most runs settle on "equivalent".
    assert sum(outcome == "equivalent" for outcome, _ in stops) / len(stops) >= 0.8


def test_huber_settles_a_small_change_the_mean_cannot_see_through_bursts() -> None:
    rng = random.Random(17)
    huber = [_stop(sequential.confidence_sequence, rng, math.log(1.03), 300) for _ in range(100)]
    plain = [_stop(_mean_sequence, rng, math.log(1.03), 300) for _ in range(100)]
    assert sum(o == "regression" for o, _ in huber) >= 90
    # The mean pays for every burst in its sd: it settles far fewer, and far later.
    assert sum(o == "regression" for o, _ in plain) < sum(o == "regression" for o, _ in huber) - 20
    assert sorted(n for _, n in huber)[50] * 2 < sorted(n for _, n in plain)[50]


def test_huber_location_ignores_a_burst_and_falls_back_to_the_mean_without_spread() -> None:
    d = [0.02, 0.021, 0.019, 0.02, 0.022, 0.018, 0.02, 0.5]
    centre, sd, inside = sequential.huber_location(d)
    assert centre == pytest.approx(0.02, abs=0.002) and sd < 0.01 and inside == 7 / 8
    assert math.fsum(d) / len(d) > 0.07  # the mean, pulled by the one burst
    # Instruction counts repeat exactly: the MAD is 0, and the plain mean and sd are used.
    same = [0.01] * 7 + [0.012]
    assert sequential.huber_location(same) == pytest.approx((math.fsum(same) / 8, stdev(same), 1.0))
