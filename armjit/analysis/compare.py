"""``invoke compare``: two inputs (runs or pyperf files) -> per mode and benchmark, ratio to/from and a verdict.

Two separate runs are not interleaved, so the comparison is unpaired (hierarchical bootstrap over
processes, armjit.analysis.stats) and says so; what such a comparison may claim is
armjit.analysis.crossrun's rule (comparable settings, stable sides, δ from the between-run noise,
different code). ``invoke ab`` gives the paired verdict. The same ``Comparison``/``Report`` records
serve paired results.

Beside this module: loading the inputs (armjit.analysis.run_inputs), the per-host noise store
(armjit.analysis.noise_store), and rendering the report (armjit.render.compare_report).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from armjit.analysis import control, crossrun, stats
from armjit.analysis.control import Controlled, ControlScope
from armjit.analysis.crossrun import Reason
from armjit.analysis.noise_store import (
    NOISE_FILE,
    lookup_between_run_noise,
    lookup_noise_floor,
    noise_path,
    parse_delta,
    record_between_run_noise,
    record_noise_floor,
)
from armjit.analysis.pyperf_data import BenchmarkData
from armjit.analysis.run_inputs import Input, ModeData, load_input
from armjit.cinderx import modes as jit_modes
from armjit.errors import UsageError

# The inputs and noise-store names are part of this module's interface too: the flows that
# compare (ab, verify) load inputs and look up δ through it.
__all__ = [
    "NOISE_FILE",
    "NOT_INTERLEAVED",
    "Comparison",
    "ControlScope",
    "Controlled",
    "Input",
    "ModeData",
    "Report",
    "compare_inputs",
    "load_input",
    "lookup_between_run_noise",
    "lookup_noise_floor",
    "noise_path",
    "parse_delta",
    "record_between_run_noise",
    "record_noise_floor",
    "report_json",
    "side_measurement",
]

NOT_INTERLEAVED = (
    "unpaired: from and to were measured in separate runs, not interleaved, so drift of the machine "
    "between the runs is part of the difference (use `invoke ab` for a paired, interleaved verdict)"
)


@dataclass(frozen=True)
class Comparison:
    """One mode and benchmark: the estimate, the verdict and any extra warnings."""

    benchmark: str
    mode: str | None
    judgement: stats.Judgement
    unit: str = "second"
    notes: tuple[str, ...] = ()
    # Unpaired comparisons: every reason behind the verdict as data, whether the two sides were
    # measured alike (None: not checked), and where δ came from (explicit | between_runs | unknown).
    reasons: tuple[Reason, ...] = ()
    comparable: bool | None = None
    delta_source: str | None = None
    # Unpaired JIT-mode rows: the same mode judged against the control mode (nojit) of each run.
    controlled: Controlled | None = None
    # The control mode's own row when the control is valid: why its move is the machine's drift.
    control_note: str | None = None

    @property
    def same_code(self) -> bool:
        return any(r.kind == "same_code" for r in self.reasons)

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
    def claim_from(self) -> str:
        """Which verdict is this row's claim: ``controlled``, ``control`` (the control mode's own
        row, whose code did not change) or ``raw``."""
        if self.controlled is not None and self.controlled.carries:
            return "controlled"
        return "control" if self.control_note else "raw"

    @property
    def claim(self) -> stats.Verdict:
        """The verdict this row claims: the drift-cancelled one when the control is valid."""
        if self.controlled is not None and self.controlled.carries:
            return self.controlled.verdict
        if self.control_note and self.verdict in ("real improvement", "regression"):
            return "no clear improvement"  # the interpreter did not change: its move is the machine
        return self.verdict

    @property
    def reason(self) -> str:
        parts: list[str] = []
        for text in (self.control_note, self.decision.reason, self.decision.warning, *self.notes):
            for part in (text or "").split("; "):
                if part and part not in parts:
                    parts.append(part)
        return "; ".join(parts)


@dataclass(frozen=True)
class Report:
    from_label: str
    to_label: str
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # modes/benchmarks one side could not provide (never an improvement)
    control_scope: ControlScope | None = None  # set when both runs measured the control mode

    @property
    def paired(self) -> bool:
        return bool(self.comparisons) and all(c.estimate.paired for c in self.comparisons)

    @property
    def controlled(self) -> tuple[Controlled, ...]:
        return tuple(c.controlled for c in self.comparisons if c.controlled is not None)

    @property
    def overall(self) -> stats.Verdict:
        verdicts: list[stats.Verdict] = [c.claim for c in self.comparisons]
        verdicts += ["inconclusive"] * len(self.missing)
        return stats.overall_verdict(verdicts)

    @property
    def overall_text(self) -> str:
        """The overall verdict as a sentence, with why when it claims nothing: the same code on
        both sides, else the reasons of the rows (and missing results) that make it so."""
        overall = self.overall
        if self.comparisons and all(c.same_code for c in self.comparisons):
            return f"{overall} (same code on both sides)"
        if overall in ("real improvement", "regression"):
            return overall
        why = self.overall_reasons()
        return f"{overall}: {why}" if why else overall

    def overall_reasons(self, limit: int = 3) -> str:
        """The reasons behind a "no clear improvement" or "inconclusive", from the rows that carry
        the overall verdict (each row once, named when there are several), then what is missing."""
        overall = self.overall
        rows = [c for c in self.comparisons if c.claim == overall]
        parts = []
        for c in rows:
            reason = c.reason.removeprefix("inconclusive: ")
            where = "/".join(x for x in (c.benchmark, c.mode) if x)
            parts.append(f"{where}: {reason}" if len(self.comparisons) > 1 else reason)
        parts += [f"{m}: no results to compare" for m in self.missing]
        if not parts:
            return "nothing was compared" if not self.comparisons else ""
        shown = list(dict.fromkeys(parts))[:limit]
        more = len(dict.fromkeys(parts)) - len(shown)
        return "; ".join(shown) + (f" (and {more} more in the table)" if more else "")


def _pair_modes(a: Input, b: Input, mode: str | None) -> tuple[list[tuple[str | None, ModeData, ModeData]], list[str]]:
    """Which mode of ``a`` is compared with which of ``b``; plus notes on modes left out."""
    notes: list[str] = []
    if mode is not None:
        picked = []
        for side in (a, b):
            if side.is_run:
                if mode not in side.modes:
                    have = ", ".join(str(m) for m in side.modes)
                    raise UsageError(f"--mode {mode}: run {side.label} has no such mode (it has {have})")
                picked.append(side.modes[mode])
            else:
                picked.append(ModeData(mode, side.modes[None].data))
        return [(mode, picked[0], picked[1])], notes
    if a.is_run and b.is_run:
        common = [m for m in a.modes if m in b.modes]
        only_a = [str(m) for m in a.modes if m not in b.modes]
        only_b = [str(m) for m in b.modes if m not in a.modes]
        if not common:
            raise UsageError(
                f"runs {a.label} and {b.label} share no JIT mode ({', '.join(only_a)} vs {', '.join(only_b)})"
            )
        if only_a:
            notes.append(f"modes only in from ({a.label}), not compared: {', '.join(only_a)}")
        if only_b:
            notes.append(f"modes only in to ({b.label}), not compared: {', '.join(only_b)}")
        return [(m, a.modes[m], b.modes[m]) for m in common], notes
    if not a.is_run and not b.is_run:
        return [(None, a.modes[None], b.modes[None])], notes
    run, plain = (a, b) if a.is_run else (b, a)
    if len(run.modes) != 1:
        have = ", ".join(str(m) for m in run.modes)
        raise UsageError(
            f"run {run.label} has several modes ({have}) and {plain.label} is one pyperf file: choose one with --mode"
        )
    (only,) = run.modes
    file_side = ModeData(only, plain.modes[None].data)
    notes.append(f"{plain.label} is taken as mode {only} (a pyperf file does not record its JIT mode)")
    pair = (run.modes[only], file_side) if a.is_run else (file_side, run.modes[only])
    return [(only, pair[0], pair[1])], notes


def _jit_inactive(mode: str | None, side: ModeData, label: str, bench: str) -> list[str]:
    # In a mode that expects compiles, 0 __main__ compiles means the interpreter was measured.
    main = side.main_compiles(bench)
    if not jit_modes.expects_compiles(mode) or main is None:
        return []
    if main == 0:
        return [f"{label} (0 __main__ compiles of {bench} in mode {mode})"]
    return []


def _cross_run_delta(
    explicit: float | None, noise_file: Path | None, hosts: Sequence[str | None], bench: str, mode: str | None
) -> tuple[float | None, str]:
    """δ for an unpaired comparison and where it came from.

    The paired A/A δ alone is not enough: it is measured inside one run and never sees the load
    change between two runs. It still raises δ when both are stored.
    """
    if explicit is not None:
        return explicit, "explicit"
    if noise_file is None:
        return None, "unknown"
    between = [
        found[0]
        for host in dict.fromkeys(hosts)
        if (found := lookup_between_run_noise(noise_file, host=host, benchmark=bench, mode=mode)) is not None
    ]
    if not between:
        return None, "unknown"
    aa = [
        d
        for host in dict.fromkeys(hosts)
        if (d := lookup_noise_floor(noise_file, host=host, benchmark=bench, mode=mode)) is not None
    ]
    return stats.effective_delta(max(between + aa)), "between_runs"


def side_measurement(side: Input, mode: ModeData, bench: BenchmarkData, *, run_hosts: bool) -> crossrun.Measurement:
    # Two runs name their host as armjit reached it; a plain file only knows the machine's
    # hostname, so a run meeting a file is compared by hostname on both sides.
    host = side.host if run_hosts else None
    return crossrun.measurement(
        bench,
        runner=mode.runner,
        host=host,
        python=side.python,
        metric=side.metric,
        clock=side.clock,
        loops_fixed=side.loops_fixed,
    )


def _compare_benchmark(
    sides: tuple[tuple[Input, ModeData, BenchmarkData], tuple[Input, ModeData, BenchmarkData]],
    mode: str | None,
    gates: list[str],
    delta_and_source: tuple[float | None, str],
    resamples: int,
    seed: int,
) -> Comparison:
    """One benchmark of one mode: the unpaired estimate, judged by armjit.analysis.crossrun's rule."""
    (a, ma, fa), (b, mb, fb) = sides
    est = stats.unpaired_estimate(fa.processes, fb.processes, resamples=resamples, seed=seed)
    bench_gates = [*gates, *stats.health_gates(paired=False, n_from=est.n_from, n_to=est.n_to)]
    both = a.is_run and b.is_run
    mismatch = crossrun.comparability(
        side_measurement(a, ma, fa, run_hosts=both), side_measurement(b, mb, fb, run_hosts=both)
    )
    d, source = delta_and_source
    decision, reasons = crossrun.decide_cross_run(
        est,
        delta=d,
        gates=bench_gates,
        reasons=(*mismatch, *crossrun.stability(est)),
        unknown=crossrun.delta_unknown(a.host or b.host, fa.name),
        same=crossrun.same_code(a.code, b.code),
    )
    judgement = stats.Judgement(est, decision)
    # Different settings are comparability reasons (armjit.analysis.crossrun); different units
    # are refused before (compare_inputs).
    notes: tuple[str, ...] = ()
    return Comparison(
        fa.name, mode, judgement, fa.unit, notes, reasons=reasons, comparable=not mismatch, delta_source=source
    )


def _controlled(
    sides: tuple[tuple[Input, ModeData, ModeData], tuple[Input, ModeData, ModeData]],
    raw: Comparison,
    scope: ControlScope,
    delta: float | None,
    resamples: int,
    seed: int,
) -> Controlled | None:
    """One JIT mode and benchmark judged against each run's control mode (None: a side lacks it)."""
    (a, ma, ca), (b, mb, cb) = sides
    if ca.data is None or cb.data is None or ma.data is None or mb.data is None:
        return None
    name = raw.benchmark
    if name not in ca.data.names or name not in cb.data.names:
        return None
    fa, fb, ka, kb = ma.data.get(name), mb.data.get(name), ca.data.get(name), cb.data.get(name)
    est = stats.controlled_estimate(
        fa.processes, ka.processes, fb.processes, kb.processes, resamples=resamples, seed=seed
    )
    gates = [r.text for r in raw.reasons if r.kind == "gate"]
    n_control = (len(ka.processes), len(kb.processes))
    gates += [f"control {g}" for g in stats.health_gates(paired=False, n_from=n_control[0], n_to=n_control[1])]
    mismatch = [r for r in raw.reasons if r.kind == "not_comparable"]
    mismatch += [
        Reason("not_comparable", f"control {r.text}", r.data)
        for r in crossrun.comparability(
            side_measurement(a, ca, ka, run_hosts=True), side_measurement(b, cb, kb, run_hosts=True)
        )
    ]
    same = next((r for r in raw.reasons if r.kind == "same_code"), None)
    used = max(control.CONTROL_MIN_DELTA, delta or 0.0)
    moved = _run_median(kb) / _run_median(ka)
    decision, reasons = control.decide_controlled(
        est,
        delta=used,
        scope=scope,
        control_moved=moved,
        step_margins=(
            control.step_load_margin(fa.runnable_per_cpu, ka.runnable_per_cpu),
            control.step_load_margin(fb.runnable_per_cpu, kb.runnable_per_cpu),
        ),
        control=str(ca.mode),
        gates=gates,
        reasons=mismatch,
        same=same,
    )
    return Controlled(name, str(raw.mode), str(ca.mode), stats.Judgement(est, decision), moved, scope, reasons)


def _run_median(bench: BenchmarkData) -> float:
    """The median of a benchmark's process medians."""
    return statistics.median(stats.process_median(p) for p in bench.processes)


def _with_controls(
    a: Input,
    b: Input,
    comparisons: list[Comparison],
    scope: ControlScope | None,
    delta: float | None,
    resamples: int,
    seed: int,
) -> tuple[list[Comparison], ControlScope | None]:
    """Each unpaired JIT-mode row with its controlled view, when both runs measured the control mode."""
    name = jit_modes.control_mode()
    if name is None or not (a.is_run and b.is_run) or name not in a.modes or name not in b.modes:
        return comparisons, None
    ca, cb = a.modes[name], b.modes[name]
    if ca.data is None or cb.data is None:
        return comparisons, None
    scope = scope or control.unknown_scope("no repository was given to list the changed files")
    out = []
    for index, raw in enumerate(comparisons):
        row = raw
        if raw.mode == name and scope.valid:
            moved = _run_median(cb.data.get(raw.benchmark)) / _run_median(ca.data.get(raw.benchmark))
            note = (
                f"{name} is the control: it moved {stats.pct_change(moved):+.1f}% on unchanged interpreter "
                "code, which is the machine, not the change"
            )
            row = replace(raw, control_note=note)
        elif raw.mode is not None and raw.mode != name and raw.mode in a.modes and raw.mode in b.modes:
            sides = ((a, a.modes[raw.mode], ca), (b, b.modes[raw.mode], cb))
            found = _controlled(sides, raw, scope, delta, resamples, seed + 7919 + index)
            row = replace(raw, controlled=found) if found is not None else raw
        out.append(row)
    used = any(c.controlled is not None or c.control_note for c in out)
    return out, scope if used else None


def compare_inputs(
    a: Input,
    b: Input,
    *,
    delta: float | None = None,
    noise_file: Path | None = None,
    mode: str | None = None,
    resamples: int = stats.RESAMPLES,
    seed: int = stats.DEFAULT_SEED,
    control_scope: ControlScope | None = None,
) -> Report:
    """Unpaired from -> to per mode and benchmark, with every input check as a note or a gate.

    When both runs measured the control mode (nojit), each JIT-mode row also carries its
    drift-cancelled view (armjit.analysis.control); ``control_scope`` says whether the change can
    touch what the control measures (None: not known, so that view is advisory)."""
    pairs, notes = _pair_modes(a, b, mode)
    notes.insert(0, NOT_INTERLEAVED)
    if a.host and b.host and a.host != b.host:
        notes.append(f"different hosts ({a.host} -> {b.host}): the difference includes the machines")
    comparisons: list[Comparison] = []
    missing: list[str] = []
    any_common = False
    for mode_name, ma, mb in pairs:
        shown = mode_name or "-"
        if ma.data is None or mb.data is None:
            lacking = a.label if ma.data is None else b.label
            missing.append(f"mode {shown}")
            notes.append(f"mode {shown}: no benchmark results in {lacking} (did the benchmark step fail?)")
            continue
        names_a, names_b = ma.data.names, mb.data.names
        common = [n for n in names_a if n in names_b]
        for side, have, other in ((f"from ({a.label})", names_a, names_b), (f"to ({b.label})", names_b, names_a)):
            only = [n for n in have if n not in other]
            if only:
                notes.append(f"mode {shown}: benchmarks only in {side}: {', '.join(only)}")
        any_common = any_common or bool(common)
        for name in common:
            unit_a, unit_b = ma.data.get(name).unit, mb.data.get(name).unit
            if unit_a != unit_b:
                # A ratio of seconds to bytes is no change at all: refuse rather than judge it.
                raise UsageError(
                    f"{name}: units differ ({unit_a} in {a.label}, {unit_b} in {b.label}); "
                    "compare results measured in the same unit"
                )
        for index, name in enumerate(common):
            # Each benchmark's own JIT evidence: one that compiled nothing does not taint the others.
            gates = list(
                stats.health_gates(
                    paired=False,
                    threshold_from=ma.threshold,
                    threshold_to=mb.threshold,
                    jit_inactive=_jit_inactive(mode_name, ma, a.label, name)
                    + _jit_inactive(mode_name, mb, b.label, name),
                )
            )
            sides = ((a, ma, ma.data.get(name)), (b, mb, mb.data.get(name)))
            delta_and_source = _cross_run_delta(delta, noise_file, (a.host, b.host), name, mode_name)
            comparisons.append(_compare_benchmark(sides, mode_name, gates, delta_and_source, resamples, seed + index))
    if not any_common:
        na = sorted({n for _, m, _ in pairs if m.data for n in m.data.names})
        nb = sorted({n for _, _, m in pairs if m.data for n in m.data.names})
        if na and nb:
            raise UsageError(f"no benchmark in common: from has {', '.join(na)}; to has {', '.join(nb)}")
    comparisons, used_scope = _with_controls(a, b, comparisons, control_scope, delta, resamples, seed)
    return Report(a.label, b.label, tuple(comparisons), tuple(notes), tuple(missing), used_scope)


# ---------------------------------------------------------------------------------------------
# the machine-readable report


def _comparison_json(c: Comparison) -> dict[str, Any]:
    e, d = c.estimate, c.decision
    return {
        "benchmark": c.benchmark,
        "mode": c.mode,
        "from": e.from_median,
        "to": e.to_median,
        "ratio": e.ratio,
        "ci": [e.ci_lo, e.ci_hi],
        "pct_change": stats.pct_change(e.ratio),
        "verdict": c.verdict,
        "reason": c.reason,
        "paired": e.paired,
        "delta": None if c.delta_source == "unknown" else d.delta,
        "blocks_needed": d.blocks_needed,
        "warning": d.warning,
        "unit": c.unit,
        "n_from": e.n_from,
        "n_to": e.n_to,
        "p_to_faster": e.p_to_faster,
        "cv_from": e.cv_from,
        "cv_to": e.cv_to,
        "confidence": e.confidence,
        "resamples": e.resamples,
        "seed": e.seed,
        "comparable": c.comparable,
        "delta_source": c.delta_source,
        "same_code": c.same_code,
        "reasons": [r.as_json() for r in c.reasons],
        "claim": c.claim,
        "claim_from": c.claim_from,
        "control_note": c.control_note,
        "controlled": None if c.controlled is None else _controlled_json(c.controlled),
    }


def _controlled_json(c: Controlled) -> dict[str, Any]:
    e, d = c.estimate, c.decision
    return {
        "control": c.control,
        "ratio": e.ratio,
        "ci": [e.ci_lo, e.ci_hi],
        "pct_change": stats.pct_change(e.ratio),
        "from_ratio_to_control": e.from_median,
        "to_ratio_to_control": e.to_median,
        "control_moved": c.control_moved,
        "verdict": c.verdict,
        "reason": d.reason,
        "warning": d.warning,
        "delta": d.delta,
        "carries_claim": c.carries,
        "standing": c.standing,
        "reasons": [r.as_json() for r in c.reasons],
        "confidence": e.confidence,
        "resamples": e.resamples,
        "seed": e.seed,
    }


def report_json(report: Report) -> dict[str, Any]:
    """The machine-readable report (``invoke compare --json``): ratio = to/from, lower is better."""
    return {
        "from": report.from_label,
        "to": report.to_label,
        "paired": report.paired,
        "convention": "ratio = to/from and pct_change = (ratio-1)*100: lower is better",
        "overall": report.overall,
        "overall_text": report.overall_text,
        "notes": list(report.notes),
        "missing": list(report.missing),
        "control_scope": None if report.control_scope is None else report.control_scope.as_json(),
        "comparisons": [_comparison_json(c) for c in report.comparisons],
    }
