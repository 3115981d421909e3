"""nojit as a control: a drift-cancelled verdict for the JIT modes of two separate runs.

Two runs measured at different times see different machines: a busy hour slows every mode. A run
that benchmarks the interpreter (the control mode, nojit) beside a JIT mode measures that hour's
machine twice, so the within-run ratio JIT/nojit cancels it, and the ratio of those ratios between
the runs, (to_jit/to_nojit) / (from_jit/from_nojit), is a verdict on the JIT alone. On a real
CinderX tree, nojit moved +22% and +52% between two runs of unchanged interpreter code while
jitlist nbody ran 2.49x slower with 55 failed compiles; the raw rule could only say
"inconclusive", while the controlled ratio calls such a regression wherever it is larger than the
drift it cancels (below).

That holds only when the change cannot touch what nojit measures. It is judged from the files
that changed between the two runs' commits (``scope_of_changes``): only ``cinderx/Jit/`` changed
=> the interpreter path is unchanged and the controlled verdict carries the claim; anything else
changed => nojit may measure the change too, the control is not valid and the raw verdict carries
the claim; not known (no repo, a release or wheel, uncommitted changes that cannot be listed) =>
the controlled ratio is shown as advisory only.

What cancels is the part of the drift that scales both modes alike (a share of the CPU taken by
other work). A JIT mode can feel a busy machine more or less than the interpreter (caches, memory
bandwidth, a compile thread), and the modes of a run are measured one after the other, so a load
that changes between a run's nojit and JIT steps is not cancelled either. So a controlled claim
must also clear two margins: the drift it cancelled (``drift_margin``: were the JIT mode's
sensitivity to the drift anywhere from none to twice the control's, the ratio of ratios would be
off by at most the control's own move), and the change of load inside each run between its two
steps (``step_load_margin``, from the runnable threads pyperf records for every process).

Pure: plain data in, decisions out. Validated by bench/control_bench.py (pairs of runs where only
the load changed, and pairs with a JIT-only change).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from armjit.analysis import stats
from armjit.analysis.crossrun import Reason

__all__ = [
    "CONTROL_MIN_DELTA",
    "JIT_ONLY_PATHS",
    "ControlScope",
    "Controlled",
    "decide_controlled",
    "drift_margin",
    "scope_of_changes",
    "step_load_margin",
    "unknown_scope",
]

# A change confined to these paths cannot touch the interpreter that nojit runs: with the JIT
# disabled, CinderX never initialises the JIT and runs none of its code.
JIT_ONLY_PATHS = ("cinderx/Jit/",)
# The smallest controlled change that is claimed, beside the drift margin: the within-run ratio
# of two modes run one after the other moves a little with the load even when the machine as a
# whole did not (bench/control_bench.py, same-code pairs).
CONTROL_MIN_DELTA = 0.05

ScopeState = Literal["valid", "invalid", "unknown"]


@dataclass(frozen=True)
class ControlScope:
    """Whether the control mode measures the same code in both runs, and why."""

    state: ScopeState
    reason: str
    changed: tuple[str, ...] = ()  # the changed files it was judged from (empty when unknown)

    @property
    def valid(self) -> bool:
        return self.state == "valid"

    def as_json(self) -> dict[str, object]:
        return {"state": self.state, "reason": self.reason, "changed_files": list(self.changed)}


def _listed(paths: Sequence[str], most: int = 3) -> str:
    shown = ", ".join(paths[:most])
    return shown + (f" and {len(paths) - most} more" if len(paths) > most else "")


def scope_of_changes(changed: Sequence[str], *, between: str) -> ControlScope:
    """The control's validity from the files that differ between the two runs' code."""
    files = tuple(sorted(set(changed)))
    outside = [p for p in files if not p.startswith(JIT_ONLY_PATHS)]
    where = " or ".join(JIT_ONLY_PATHS)
    if outside:
        return ControlScope(
            "invalid",
            f"the change between {between} touches files outside {where} ({_listed(outside)}): "
            "nojit may measure the change too, so it is no control",
            files,
        )
    what = f"only {where} changed ({len(files)} files)" if files else "no file changed"
    return ControlScope(
        "valid", f"{what} between {between}: the interpreter path that nojit measures is unchanged", files
    )


def unknown_scope(why: str) -> ControlScope:
    return ControlScope("unknown", f"which files changed is not known ({why})")


@dataclass(frozen=True)
class Controlled:
    """One JIT mode and benchmark judged against the control mode of each run."""

    benchmark: str
    mode: str
    control: str
    judgement: stats.Judgement
    control_moved: float  # the control's median to/from: the machine's drift as the control saw it
    scope: ControlScope
    reasons: tuple[Reason, ...] = ()

    @property
    def estimate(self) -> stats.Estimate:
        return self.judgement.estimate

    @property
    def decision(self) -> stats.Decision:
        return self.judgement.decision

    @property
    def verdict(self) -> stats.Verdict:
        return self.decision.verdict

    @property
    def carries(self) -> bool:
        """The controlled verdict is the claim for this row (else the raw verdict is)."""
        return self.scope.valid

    @property
    def standing(self) -> str:
        if self.scope.state == "valid":
            return "carries the claim"
        if self.scope.state == "unknown":
            return "advisory only"
        return "not valid"


def drift_margin(control_moved: float) -> float:
    """How far (in ln) the ratio of ratios can be off when the JIT mode felt the machine's drift
    anywhere from not at all to twice as much as the control: |ln(control moved)|."""
    return abs(math.log(control_moved))


def step_load_margin(target: Sequence[float], control: Sequence[float]) -> float | None:
    """How far (in ln) a run's JIT-mode step and control step saw a different machine.

    A process sharing the CPUs with r runnable threads per CPU gets about 1/max(1, r) of one, so
    its time stretches by that factor; the margin is the ln of the ratio of the two steps' median
    factors. None when pyperf did not record the runnable threads.
    """
    if not target or not control:
        return None
    stretch_target = statistics.median(max(1.0, r) for r in target)
    stretch_control = statistics.median(max(1.0, r) for r in control)
    return abs(math.log(stretch_target / stretch_control))


def _clears(estimate: stats.Estimate, delta: float, margin: float) -> bool:
    """The interval, moved towards 1 by ``margin``, still lies beyond the δ band."""
    up = math.log1p(delta)
    lo, hi = math.log(estimate.ci_lo), math.log(estimate.ci_hi)
    return lo - margin > up or hi + margin < -up


def decide_controlled(
    estimate: stats.Estimate,
    *,
    delta: float,
    scope: ControlScope,
    control_moved: float = 1.0,
    step_margins: Sequence[float | None] = (),
    control: str = "the control",
    gates: Sequence[str] = (),
    reasons: Sequence[Reason] = (),
    same: Reason | None = None,
) -> tuple[stats.Decision, tuple[Reason, ...]]:
    """The controlled verdict and the reasons behind it.

    The interval is read against δ as any verdict is (``stats.decide``). Unlike the raw
    cross-run rule, an unstable side does not block it: the drift that made the side unstable
    between runs is what the control cancels, and each side's process noise is in the interval.
    A failed gate or a setting that differs between the runs blocks it; the same code on both
    sides is no improvement whatever the numbers; an invalid control is no verdict at all.
    """
    all_reasons = (*(Reason("gate", g) for g in gates), *reasons, *((same,) if same else ()))
    texts = [r.text for r in all_reasons if r.kind != "same_code"]
    if same is not None:
        return stats.Decision("no clear improvement", "; ".join([same.text, *texts]), delta), all_reasons
    if any(r.kind in ("gate", "not_comparable") for r in all_reasons):
        return stats.Decision("inconclusive", "inconclusive: " + "; ".join(texts), delta), all_reasons
    if scope.state == "invalid":
        return stats.Decision("inconclusive", f"control not valid: {scope.reason}", delta), all_reasons
    plain = stats.decide(estimate, delta)
    verdict, reason = plain.verdict, plain.reason
    drift = drift_margin(control_moved)
    known = [m for m in step_margins if m is not None]
    inside = math.fsum(known)
    if verdict in ("real improvement", "regression") and not _clears(estimate, delta, drift + inside):
        verdict = "no clear improvement"
        reason += (
            f", but not beyond the margins: {control} moved {stats.pct_change(control_moved):+.1f}% between "
            f"the runs (a JIT mode that felt none or twice that drift would be off by {math.expm1(drift):.0%})"
        )
        if inside:
            reason += f" and the load changed between the steps inside the runs (up to {math.expm1(inside):.0%})"
    warning = plain.warning
    if len(known) < len(step_margins):
        unchecked = "the load of each step is not recorded: a change of load inside a run is not checked"
        warning = "; ".join(w for w in (warning, unchecked) if w)
    if scope.state == "unknown":
        reason += f"; advisory only: {scope.reason}"
    return (
        stats.Decision(verdict, reason, delta, blocks_needed=plain.blocks_needed, warning=warning),
        all_reasons,
    )
