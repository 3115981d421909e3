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

from armjit.analysis.stats import sequential
from armjit.analysis.stats.core import (
    CONFIDENCE,
    CV_WARN,
    DEFAULT_BLOCKS,
    DEFAULT_SEED,
    MIN_BLOCKS,
    MIN_DELTA,
    MIN_PROCESSES,
    RATIO_HEADER,
    RESAMPLES,
    Block,
    Decision,
    Estimate,
    Judgement,
    Verdict,
    block_order,
    cv,
    pct_change,
    process_median,
    quantile,
)
from armjit.analysis.stats.drift import Drift, drift_bias_bound, drift_gate, from_arm_drift, survives_drift
from armjit.analysis.stats.estimates import (
    controlled_estimate,
    expanded_tail,
    paired_estimate,
    t_quantile,
    unpaired_estimate,
)
from armjit.analysis.stats.sequential import judge_sequential
from armjit.analysis.stats.verdicts import (
    blocks_needed,
    decide,
    effective_delta,
    health_gates,
    judge_paired,
    judge_unpaired,
    noise_floor,
    noise_floor_from_blocks,
    overall_verdict,
    pairing_unstable,
)

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
    "Drift",
    "Estimate",
    "Judgement",
    "Verdict",
    "block_order",
    "blocks_needed",
    "controlled_estimate",
    "cv",
    "decide",
    "drift_bias_bound",
    "drift_gate",
    "effective_delta",
    "expanded_tail",
    "from_arm_drift",
    "health_gates",
    "judge_paired",
    "judge_sequential",
    "judge_unpaired",
    "noise_floor",
    "noise_floor_from_blocks",
    "overall_verdict",
    "paired_estimate",
    "pairing_unstable",
    "pct_change",
    "process_median",
    "quantile",
    "sequential",
    "survives_drift",
    "t_quantile",
    "unpaired_estimate",
]
