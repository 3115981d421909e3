"""Thresholds and verdicts: δ from the noise floor, the decision rule, health gates, judging."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import replace

from armjit.analysis.stats.core import (
    CONFIDENCE,
    CV_WARN,
    DEFAULT_SEED,
    MIN_BLOCKS,
    MIN_DELTA,
    MIN_PROCESSES,
    RESAMPLES,
    Block,
    Decision,
    Estimate,
    Judgement,
    Verdict,
    quantile,
)
from armjit.analysis.stats.drift import from_arm_drift, survives_drift
from armjit.analysis.stats.estimates import paired_estimate, unpaired_estimate

__all__ = [
    "blocks_needed",
    "decide",
    "effective_delta",
    "health_gates",
    "judge_paired",
    "judge_unpaired",
    "noise_floor",
    "noise_floor_from_blocks",
    "overall_verdict",
    "pairing_unstable",
]


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
        # the verdict is "no clear improvement": its reason must not read "inconclusive"
        f"interval too wide: {ci} is too wide for the {band} band; "
        f"about {needed} {unit} needed for a half-width of δ/2 (have {estimate.n})"
    )
    return Decision("no clear improvement", reason, delta, blocks_needed=needed, warning=warning)


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
    """The one sentence over several modes, agreeing with the rows: any regression wins; then any
    inconclusive mode makes the whole inconclusive (a crashed mode is never reported as an
    improvement, nor as "no clear improvement" when it could not be judged); an improvement
    needs every other mode judged; else, including nothing to judge, "no clear improvement"."""
    if "regression" in verdicts:
        return "regression"
    if "inconclusive" in verdicts:
        return "inconclusive"
    if "real improvement" in verdicts:
        return "real improvement"
    return "no clear improvement"
