"""Sequential verdicts: add blocks until the interval decides, with a confidence sequence.

A fixed-n 95% interval looked at after every block is wrong far more than 5% of the time: the
run would stop at the first lucky look. ``--until-decided`` therefore uses an interval that is
valid at every block count at once, an asymptotic confidence sequence (Waudby-Smith, Arbour,
Sinha, Kennedy and Ramdas, "Time-uniform central limit theory and asymptotic confidence
sequences", Annals of Statistics 2024, arXiv:2103.06476), built on Robbins' normal-mixture
boundary (Robbins 1970; Howard, Ramdas, McAuliffe and Sekhon, "Time-uniform, nonparametric,
nonasymptotic confidence sequences", Annals of Statistics 2021). For the typical block
log-ratio, estimated from d_1..d_t with standard deviation s_t:

    m_t ± s_t · sqrt( 2(tρ²+1)/(t²ρ²) · ln(sqrt(tρ²+1)/α) )

m_t is the one-step Huber estimate of location (Huber, "Robust estimation of a location
parameter", Annals of Mathematical Statistics 1964): the median plus the mean of the deviations
clipped at ``HUBER_K`` robust standard deviations (1.4826 MAD), over the share of blocks inside
the clip; s_t is the sandwich standard deviation of that estimate, sd(clipped) / share inside.
The estimate is an average of i.i.d. terms up to a vanishing remainder, which is what the
time-uniform central limit theorem needs. On a shared host one block in ten or twenty meets a
neighbour's burst and is off by 30-50%: with the plain mean, those blocks set s_t (10.9% on the
quiet pool of README "Statistics", where the MAD gives 3.6%) and a 2% change cannot settle in
ten minutes. Confidence sequences robust to such outliers are studied by Wang and Ramdas,
"Huber-robust confidence sequences" (AISTATS 2023). With no spread (MAD 0, e.g. instruction
counts that repeat exactly) the plain mean and sd are used.

ρ sets the block count where the sequence is tightest (``TIGHTEST_AT``), fixed before any data.
Because s_t is estimated from few blocks, it is scaled by t(t-1)/z, the small-sample correction
of the fixed-n t interval; ``MIN_SEQUENTIAL_BLOCKS`` blocks come before the first look.
tests/test_sequential.py measures the false-verdict rate of looking after every block.

The stop rule is the fixed design's decision rule applied to this interval: the whole interval
beyond +δ (regression) or below -δ (improvement), or inside ±δ (equivalent), stops the run,
unless the verdict would not stand on it (drift that could explain it, most blocks starved):
then blocks go on being added (``withheld``), since the sequence stays valid at every look. A
spent budget ends the run undecided.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from armjit.analysis.stats.core import CONFIDENCE, DEFAULT_SEED, RESAMPLES, Block, Judgement
from armjit.analysis.stats.drift import from_arm_drift, survives_drift
from armjit.analysis.stats.estimates import paired_estimate, t_quantile
from armjit.analysis.stats.verdicts import decide, health_gates

__all__ = [
    "METHOD",
    "MIN_SEQUENTIAL_BLOCKS",
    "TIGHTEST_AT",
    "Look",
    "confidence_sequence",
    "huber_location",
    "judge_sequential",
    "look",
    "settled",
    "withheld",
]

METHOD = (
    "asymptotic confidence sequence (Waudby-Smith et al. 2024, normal mixture) on the one-step Huber "
    "estimate of the block log-ratios, valid at every block"
)
MIN_SEQUENTIAL_BLOCKS = 6
TIGHTEST_AT = 20
# Huber's ψ clips a block's log-ratio at k robust standard deviations from the median: a block
# that met a neighbour's burst (a 30-50% outlier on a shared host) counts as a 2-sd block, not as
# ten ordinary ones. At k = 2 the estimate keeps 99% of the mean's efficiency under normal noise
# (Huber 1964; 1.345 is the usual 95% choice).
HUBER_K = 2.0
MAD_TO_SD = 1.4826


def huber_location(log_ratios: Sequence[float], *, k: float = HUBER_K) -> tuple[float, float, float]:
    """The one-step Huber estimate of the blocks' typical log-ratio, its standard deviation per
    block (the sandwich ``sd(ψ) / P(inside)``) and the share of blocks inside the clip; the
    plain mean and sd (and a share of 1) when the MAD is 0."""
    t = len(log_ratios)
    centre = statistics.median(log_ratios)
    scale = MAD_TO_SD * statistics.median([abs(x - centre) for x in log_ratios])
    if scale <= 0.0:
        return math.fsum(log_ratios) / t, statistics.stdev(log_ratios), 1.0
    c = k * scale
    psi = [min(max(x - centre, -c), c) for x in log_ratios]
    inside = sum(abs(x - centre) < c for x in log_ratios) / t
    return centre + math.fsum(psi) / t / inside, statistics.stdev(psi) / inside, inside


def confidence_sequence(
    log_ratios: Sequence[float], *, confidence: float = CONFIDENCE, tightest_at: int = TIGHTEST_AT
) -> tuple[float, float]:
    """The time-uniform interval (in ln of the ratio) for the blocks' typical log-ratio so far:
    symmetric about ``huber_location``, so its midpoint is the estimate."""
    lo, hi, _ = _sequence(log_ratios, confidence, tightest_at)
    return lo, hi


def _sequence(log_ratios: Sequence[float], confidence: float, tightest_at: int) -> tuple[float, float, float]:
    """``confidence_sequence`` and the share of blocks inside the Huber clip (1 with no clip)."""
    t = len(log_ratios)
    if t < 2:
        raise ValueError("a confidence sequence needs at least two blocks")
    alpha = 1.0 - confidence
    # ρ that minimises the boundary's width at ``tightest_at`` blocks (Waudby-Smith et al., §3).
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tightest_at
    if t < MIN_SEQUENTIAL_BLOCKS:
        # too few for a median and a MAD
        mean, sd, inside = math.fsum(log_ratios) / t, statistics.stdev(log_ratios), 1.0
    else:
        mean, sd, inside = huber_location(log_ratios)
    z = statistics.NormalDist().inv_cdf(1 - alpha / 2)
    sd *= t_quantile(1 - alpha / 2, t - 1) / z
    half = sd * math.sqrt(2 * (t * rho2 + 1) / (t * t * rho2) * math.log(math.sqrt(t * rho2 + 1) / alpha))
    return mean - half, mean + half, inside


def settled(lo: float, hi: float, delta: float) -> str | None:
    """Which side of the ±δ band the interval (ln) has settled on, or None while it straddles a bound."""
    up = math.log1p(delta)
    if lo > up:
        return "regression"
    if hi < -up:
        return "real improvement"
    if -up < lo and hi < up:
        return "equivalent"
    return None


@dataclass(frozen=True)
class Look:
    """The state after one more block: what progress shows and the narrowing plot draws."""

    blocks: int
    seconds: float
    ratio: float
    ci_lo: float
    ci_hi: float
    outcome: str | None  # regression | real improvement | equivalent | None (go on)

    def line(self, delta: float, budget: float | None = None) -> str:
        spent = f"{self.seconds / 60:.1f} min" + (f" of {budget / 60:.0f}" if budget else "")
        state = self.outcome or "undecided"
        return (
            f"block {self.blocks}: ratio {self.ratio:.4f}, confidence sequence [{self.ci_lo:.4f}, {self.ci_hi:.4f}] "
            f"vs ±{delta:.1%}: {state} ({spent})"
        )

    def as_json(self) -> dict[str, object]:
        return {
            "blocks": self.blocks,
            "seconds": round(self.seconds, 3),
            "ratio": self.ratio,
            "ci": [self.ci_lo, self.ci_hi],
            "outcome": self.outcome,
        }


def look(blocks: Sequence[Block], delta: float, seconds: float, *, confidence: float = CONFIDENCE) -> Look:
    """The confidence sequence after ``blocks`` and whether it has settled (never before
    ``MIN_SEQUENTIAL_BLOCKS``)."""
    d = [b.log_ratio for b in blocks]
    lo, hi = confidence_sequence(d, confidence=confidence)
    outcome = settled(lo, hi, delta) if len(d) >= MIN_SEQUENTIAL_BLOCKS else None
    return Look(len(d), seconds, math.exp((lo + hi) / 2), math.exp(lo), math.exp(hi), outcome)


def withheld(
    blocks: Sequence[Block], delta: float, *, gates: Sequence[str] = (), check_drift: bool = False
) -> str | None:
    """Why a settled interval must not stop the run yet (the verdict on it would be
    inconclusive), or None when it may stop."""
    # The verdict reads the confidence sequence, not the bootstrap: few resamples suffice here.
    judgement = judge_sequential(blocks, delta=delta, gates=gates, check_drift=check_drift, resamples=200)
    if judgement.decision.verdict != "inconclusive":
        return None
    return judgement.decision.reason.removeprefix("inconclusive: ")


def judge_sequential(
    blocks: Sequence[Block],
    *,
    delta: float,
    gates: Sequence[str] = (),
    check_drift: bool = False,
    stopped: str = "",
    resamples: int = RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> Judgement:
    """The verdict of a sequential run: ``judge_paired``'s rule (health gates, drift, δ band)
    applied to the confidence sequence instead of the fixed-n bootstrap interval, because the
    interval that decided when to stop is the one that must be judged.

    ``stopped`` says why the run ended (settled, budget spent); it joins the reason.
    """
    est = paired_estimate(blocks, resamples=resamples, seed=seed, confidence=confidence)
    lo, hi, inside = _sequence([b.log_ratio for b in blocks], confidence, TIGHTEST_AT)
    # The ratio is the sequence's own estimate (its midpoint), so it always lies inside it.
    est = replace(est, ratio=math.exp((lo + hi) / 2), ci_lo=math.exp(lo), ci_hi=math.exp(hi))
    all_gates = [*gates, *health_gates(paired=True, n_from=est.n_from, n_to=est.n_to)]
    drift = from_arm_drift(blocks, delta) if check_drift else None
    note = None
    if drift is not None:
        # A shift of the blocks inside the clip moves the Huber estimate by 1/share as much as
        # the mean: the drift's bound grows by that factor.
        if survives_drift(est, delta, drift, sensitivity=1 / inside):
            note = f"{drift.reason()}, too little to explain the result"
        else:
            all_gates.append(drift.reason())
    decision = decide(est, delta, all_gates)
    reason = decision.reason
    if decision.blocks_needed is not None:
        # decide() sizes a fixed-n interval; a sequence needs more than that, so no number here.
        reason = reason.split("; about")[0] + "; more blocks needed"
    if stopped:
        reason = f"{reason}; {stopped}"
    warning = "; ".join(w for w in (decision.warning, note) if w) or None
    return Judgement(est, replace(decision, reason=reason, warning=warning))
