"""From -> to statistics: per-process medians, paired blocks, bootstrap intervals, verdicts.

Pure and seeded (no I/O, no clock): the same inputs and seed give the same interval.
Method (reference/benchmark-statistics.md §2):

- the unit is one fresh process, summarised by the median of its measured values, because values
  inside one process share ASLR, hash seed and JIT decisions and are not independent;
- paired design: blocks of one A ("from") and one B ("to") process run back to back in random
  order; the statistic is the geometric mean of the paired B/A ratios with an expanded percentile
  bootstrap interval over blocks;
- unpaired fallback (two separate runs): hierarchical bootstrap (resample processes, then values
  inside each) of the ratio of the medians of process medians;
- one sign convention: ratio = to/from, %Δ = (ratio - 1)·100, lower is better;
- a practical threshold δ (at least 1%, raised by the A/A noise floor) turns the interval into one
  of "real improvement", "regression" or "no clear improvement" (always with its reason), and any
  failed health gate (mode mismatch, crashes, too few processes) into "inconclusive".
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "CONFIDENCE",
    "DEFAULT_BLOCKS",
    "DEFAULT_SEED",
    "MIN_BLOCKS",
    "MIN_DELTA",
    "MIN_PROCESSES",
    "RATIO_HEADER",
    "RESAMPLES",
    "Block",
    "Decision",
    "Drift",
    "Estimate",
    "Judgement",
    "Verdict",
    "block_order",
    "blocks_needed",
    "cv",
    "decide",
    "drift_bias_bound",
    "drift_gate",
    "effective_delta",
    "expanded_tail",
    "from_arm_drift",
    "health_gates",
    "judge_paired",
    "judge_unpaired",
    "noise_floor",
    "noise_floor_from_blocks",
    "overall_verdict",
    "paired_estimate",
    "pairing_unstable",
    "pct_change",
    "process_median",
    "quantile",
    "survives_drift",
    "t_quantile",
    "unpaired_estimate",
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


def _percentile_ci(stats_: list[float], confidence: float) -> tuple[float, float]:
    stats_.sort()
    tail = (1.0 - confidence) / 2.0
    return quantile(stats_, tail), quantile(stats_, 1.0 - tail)


def t_quantile(p: float, df: int) -> float:
    """Student's t quantile: exact for 1 and 2 degrees of freedom, else the Cornish-Fisher
    expansion around the normal quantile (0.02 short of the tables at 3 df, within 0.004 from 5 df on)."""
    if df < 1:
        raise ValueError("t quantile needs at least one degree of freedom")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) * math.sqrt(2 / (4 * p * (1 - p)))
    z = statistics.NormalDist().inv_cdf(p)
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def expanded_tail(n: int, confidence: float) -> float:
    """The bootstrap tail probability that gives a mean's percentile interval its nominal coverage.

    A percentile bootstrap of a mean over n blocks is too narrow for small n: it spreads like
    the plug-in standard deviation (short by √((n-1)/n)) and has normal rather than t tails. On
    a busy 2-core machine that let 10-12% of A/A runs of 8-10 blocks end in a false verdict.
    Hesterberg's expanded percentile interval reads the bootstrap distribution at the normal
    tail beyond √(n/(n-1))·t(n-1) instead (at 95%: 0.86% for 10 blocks, 1.9% for 30).
    """
    tail = (1.0 - confidence) / 2.0
    if n < 2:
        return tail
    return statistics.NormalDist().cdf(-math.sqrt(n / (n - 1)) * t_quantile(1.0 - tail, n - 1))


def _p_less(to: Sequence[float], frm: Sequence[float]) -> float:
    """P(a random ``to`` value < a random ``from`` value), ties counting half."""
    wins = 0.0
    for t in to:
        for f in frm:
            wins += 1.0 if t < f else 0.5 if t == f else 0.0
    return wins / (len(to) * len(frm))


def paired_estimate(
    blocks: Sequence[Block],
    *,
    resamples: int = RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Geometric mean of the paired B/A ratios, with an expanded percentile bootstrap interval over blocks."""
    if len(blocks) < 2:
        raise ValueError("a paired estimate needs at least two blocks")
    d = [blk.log_ratio for blk in blocks]
    n = len(d)
    rng = random.Random(seed)
    choices = rng.choices
    fsum = math.fsum
    # Bootstrapping the mean of d_i: one choices() call per resample keeps this at ~50 ms for
    # 10,000 x 30 blocks in plain Python.
    means = sorted(fsum(choices(d, k=n)) / n for _ in range(resamples))
    tail = expanded_tail(n, confidence)
    lo, hi = quantile(means, tail), quantile(means, 1.0 - tail)
    a = [blk.a for blk in blocks]
    b = [blk.b for blk in blocks]
    return Estimate(
        paired=True,
        ratio=math.exp(math.fsum(d) / n),
        ci_lo=math.exp(lo),
        ci_hi=math.exp(hi),
        from_median=statistics.median(a),
        to_median=statistics.median(b),
        n_from=n,
        n_to=n,
        p_to_faster=(sum(1.0 if x < 0 else 0.5 if x == 0 else 0.0 for x in d)) / n,
        cv_from=cv(a),
        cv_to=cv(b),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        from_processes=tuple(a),
        to_processes=tuple(b),
    )


def _resampled_median(rng: random.Random, processes: Sequence[Sequence[float]]) -> float:
    picked = rng.choices(processes, k=len(processes))
    meds = []
    for values in picked:
        s = sorted(rng.choices(values, k=len(values)))
        k = len(s)
        meds.append(s[k // 2] if k % 2 else (s[k // 2 - 1] + s[k // 2]) / 2.0)
    return statistics.median(meds)


def unpaired_estimate(
    from_processes: Sequence[Sequence[float]],
    to_processes: Sequence[Sequence[float]],
    *,
    resamples: int = RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Ratio of medians of process medians (to/from), hierarchical bootstrap interval.

    Each resample draws processes with replacement, then values with replacement inside each
    drawn process (Kalibera & Jones), so both the between-process and the within-process
    variance reach the interval.
    """
    if not from_processes or not to_processes:
        raise ValueError("an unpaired estimate needs processes on both sides")
    if any(not p for p in (*from_processes, *to_processes)):
        raise ValueError("a process without measured values")
    a = [process_median(p) for p in from_processes]
    b = [process_median(p) for p in to_processes]
    rng = random.Random(seed)
    ratios = [_resampled_median(rng, to_processes) / _resampled_median(rng, from_processes) for _ in range(resamples)]
    lo, hi = _percentile_ci(ratios, confidence)
    from_med = statistics.median(a)
    to_med = statistics.median(b)
    return Estimate(
        paired=False,
        ratio=to_med / from_med,
        ci_lo=lo,
        ci_hi=hi,
        from_median=from_med,
        to_median=to_med,
        n_from=len(a),
        n_to=len(b),
        p_to_faster=_p_less(b, a),
        cv_from=cv(a),
        cv_to=cv(b),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        from_processes=tuple(a),
        to_processes=tuple(b),
    )


def effective_delta(noise: float | None = None, minimum: float = MIN_DELTA) -> float:
    """δ = max(1%, noise floor)."""
    return max(minimum, noise or 0.0)


def noise_floor(aa_ratios: Sequence[float], *, q: float = 0.975, minimum: float = MIN_DELTA) -> float:
    """δ from A/A ratio estimates: the q-quantile of |ln r̂|, as a relative change, at least ``minimum``."""
    if not aa_ratios:
        return minimum
    logs = sorted(abs(math.log(r)) for r in aa_ratios)
    return max(minimum, math.expm1(quantile(logs, q)))


def noise_floor_from_blocks(
    blocks: Sequence[Block],
    *,
    relabelings: int = 1000,
    seed: int = DEFAULT_SEED,
    q: float = 0.975,
    minimum: float = MIN_DELTA,
) -> float:
    """δ from one paired A/A run (both arms the same build).

    Under A/A, swapping A and B inside a block changes nothing, so random sign flips of the
    block log-ratios give the distribution of r̂ that pure noise produces with this many blocks.
    The observed A/A |ln r̂| is included too, so a systematic A/A offset (order, layout) also
    raises δ.
    """
    if len(blocks) < 2:
        return minimum
    d = [blk.log_ratio for blk in blocks]
    n = len(d)
    rng = random.Random(seed)
    stats_ = sorted(abs(math.fsum(x if rng.random() < 0.5 else -x for x in d) / n) for _ in range(relabelings))
    observed = abs(math.fsum(d) / n)
    return max(minimum, math.expm1(max(quantile(stats_, q), observed)))


def blocks_needed(estimate: Estimate, delta: float) -> int:
    """Blocks (or processes per side) for a half-width of δ/2: P·(h/(δ/2))², rounded up."""
    target = math.log1p(delta) / 2.0
    return max(estimate.n, math.ceil(estimate.n * (estimate.half_width_log / target) ** 2))


def _fmt_ci(est: Estimate) -> str:
    return f"{round(est.confidence * 100)}% CI [{est.ci_lo:.3f}, {est.ci_hi:.3f}]"


def decide(estimate: Estimate, delta: float, gates: Sequence[str] = ()) -> Decision:
    """The verdict for one estimate and threshold δ; any gate reason makes it "inconclusive"."""
    if delta < 0:
        raise ValueError("negative δ")
    warnings = []
    if max(estimate.cv_from, estimate.cv_to) > CV_WARN:
        warnings.append(
            f"unstable: CV of process medians {estimate.cv_from:.1%} (from) / {estimate.cv_to:.1%} (to) > {CV_WARN:.0%}"
        )
    warning = "; ".join(warnings) or None
    if gates:
        return Decision("inconclusive", "inconclusive: " + "; ".join(gates), delta, warning=warning)
    up = 1.0 + delta
    down = 1.0 / up
    band = f"±{delta:.1%}"
    unit = "blocks" if estimate.paired else "processes per side"
    ci = _fmt_ci(estimate)
    if estimate.ci_hi < down:
        return Decision(
            "real improvement", f"{ci} entirely faster than 1/(1+δ) = {down:.3f}, δ={delta:.1%}", delta, warning=warning
        )
    if estimate.ci_lo > up:
        return Decision(
            "regression", f"{ci} entirely slower than 1+δ = {up:.3f}, δ={delta:.1%}", delta, warning=warning
        )
    if down < estimate.ci_lo and estimate.ci_hi < up:
        return Decision(
            "no clear improvement", f"equivalent within {band}: {ci} inside the band", delta, warning=warning
        )
    if estimate.ci_hi < 1.0 or estimate.ci_lo > 1.0:
        side = "faster" if estimate.ci_hi < 1.0 else "slower"
        reason = (
            f"below the noise floor: {ci} excludes 1 ({side}) but crosses the {band} band, "
            "a change smaller than this setup can certify"
        )
        if side == "slower":
            warnings.insert(0, "possible small regression")
            reason += "; possible small regression"
        return Decision("no clear improvement", reason, delta, warning="; ".join(warnings))
    needed = blocks_needed(estimate, delta)
    reason = (
        f"inconclusive: {ci} is too wide for the {band} band; "
        f"about {needed} {unit} needed for a half-width of δ/2 (have {estimate.n})"
    )
    return Decision("no clear improvement", reason, delta, blocks_needed=needed, warning=warning)


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


def survives_drift(estimate: Estimate, delta: float, drift: Drift) -> bool:
    """Whether the verdict stands even if the drift had biased the estimate as far as it can.

    The interval is moved by ``drift_bias_bound`` towards the other side of the band. A
    regression or improvement stands when it still clears the δ band, an equivalence when it
    still lies inside it: then the drift cannot explain the result. Anything else (a drift
    comparable to the effect, or no decisive result to begin with) is left to the drift gate.
    """
    bound = drift_bias_bound(drift, estimate.n)
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


def health_gates(
    *,
    paired: bool,
    n_from: int | None = None,
    n_to: int | None = None,
    mode_from: str | None = None,
    mode_to: str | None = None,
    threshold_from: int | None = None,
    threshold_to: int | None = None,
    crashes_from: int = 0,
    crashes_to: int = 0,
    jit_inactive: Sequence[str] = (),
) -> tuple[str, ...]:
    """Reasons the comparison cannot be trusted, whatever its interval says (empty when healthy).

    Counts left as None are not checked (the caller checks them per benchmark).
    """
    reasons = []
    if mode_from != mode_to and mode_from is not None and mode_to is not None:
        reasons.append(f"JIT mode mismatch ({mode_from} -> {mode_to})")
    if threshold_from != threshold_to and threshold_from is not None and threshold_to is not None:
        reasons.append(f"JIT threshold mismatch ({threshold_from} -> {threshold_to})")
    reasons.extend(f"JIT not active: {side}" for side in jit_inactive)
    if crashes_from or crashes_to:
        reasons.append(f"crashes: {crashes_from} (from), {crashes_to} (to)")
    minimum = MIN_BLOCKS if paired else MIN_PROCESSES
    if n_from is not None and n_to is not None and min(n_from, n_to) < minimum:
        have = f"{n_from} blocks" if paired else f"{n_from} from, {n_to} to processes"
        reasons.append(f"too few {'blocks' if paired else 'processes'} ({have}; need >= {minimum})")
    return tuple(reasons)


def judge_paired(
    blocks: Sequence[Block],
    *,
    delta: float = MIN_DELTA,
    gates: Sequence[str] = (),
    check_drift: bool = False,
    resamples: int = RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> Judgement:
    """Estimate and verdict for paired blocks; too few blocks is added to ``gates``.

    ``check_drift`` (blocks in run order) adds the from arm's drift as a gate when it could
    explain the effect, and as a warning when it could not (A/A runs leave it off: there the
    drift is part of the noise floor being measured).
    """
    est = paired_estimate(blocks, resamples=resamples, seed=seed, confidence=confidence)
    all_gates = [*gates, *health_gates(paired=True, n_from=est.n_from, n_to=est.n_to)]
    drift = from_arm_drift(blocks, delta) if check_drift else None
    note = None
    if drift is not None:
        if survives_drift(est, delta, drift):
            note = f"{drift.reason()}, too little to explain the result"
        else:
            all_gates.append(drift.reason())
    decision = decide(est, delta, all_gates)
    if note:
        decision = replace(decision, warning="; ".join(w for w in (decision.warning, note) if w))
    return Judgement(est, decision)


def judge_unpaired(
    from_processes: Sequence[Sequence[float]],
    to_processes: Sequence[Sequence[float]],
    *,
    delta: float = MIN_DELTA,
    gates: Sequence[str] = (),
    resamples: int = RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> Judgement:
    """Estimate and verdict for two separate (not interleaved) runs."""
    est = unpaired_estimate(from_processes, to_processes, resamples=resamples, seed=seed, confidence=confidence)
    all_gates = (*gates, *health_gates(paired=False, n_from=est.n_from, n_to=est.n_to))
    return Judgement(est, decide(est, delta, all_gates))


def pairing_unstable(paired: Judgement, unpaired: Judgement) -> bool:
    """Paired and unpaired views contradict each other (opposite verdicts or opposite certain signs).

    A paired "real improvement" next to an unpaired "no clear improvement" is expected (pairing
    has more power) and is not a contradiction.
    """
    verdicts = {paired.decision.verdict, unpaired.decision.verdict}
    if verdicts == {"real improvement", "regression"}:
        return True
    p, u = paired.estimate, unpaired.estimate
    return (p.ci_hi < 1.0 and u.ci_lo > 1.0) or (p.ci_lo > 1.0 and u.ci_hi < 1.0)


def overall_verdict(verdicts: Sequence[Verdict]) -> Verdict:
    """The one sentence over several modes: any regression wins; an improvement needs no
    regression and no inconclusive mode (a crashed mode is never reported as an improvement);
    everything else, including nothing to judge, is "no clear improvement"."""
    if "regression" in verdicts:
        return "regression"
    if "real improvement" in verdicts and "inconclusive" not in verdicts:
        return "real improvement"
    return "no clear improvement"
