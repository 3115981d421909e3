"""``invoke compare``: two runs (or pyperf files) -> per mode and benchmark, ratio to/from and a verdict.

Two separate runs are not interleaved, so the comparison is unpaired (hierarchical bootstrap over
processes, armjit.analysis.stats) and says so; what such a comparison may claim is armjit.analysis.crossrun's rule
(comparable settings, stable sides, δ from the between-run noise, different code). ``invoke ab``
gives the paired verdict. The same ``Comparison``/``Report`` records and renderers serve paired
results.

Also here: the per-host noise store (``reports/noise.json``): the paired A/A δ that ``invoke ab
--aa`` writes, and beside it the between-run noise that armjit.analysis.between_runs measures from
repeated baselines of the same code (``invoke compare --record-noise``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from armjit.analysis import crossrun, stats
from armjit.analysis.crossrun import CodeIdentity, Reason
from armjit.analysis.pyperf_data import BenchmarkData, PyperfFile
from armjit.analysis.pyperf_data import load as load_pyperf
from armjit.cinderx import modes as jit_modes
from armjit.errors import UsageError
from armjit.render import TableFormat, table
from armjit.seams.store import RunStore, atomic_write_text

__all__ = [
    "NOISE_FILE",
    "Comparison",
    "Input",
    "ModeData",
    "Report",
    "compare_inputs",
    "findings_block",
    "load_input",
    "lookup_between_run_noise",
    "lookup_noise_floor",
    "noise_path",
    "parse_delta",
    "record_between_run_noise",
    "record_noise_floor",
    "render_table",
    "render_text",
    "report_json",
    "side_measurement",
]

NOISE_FILE = "noise.json"
NOT_INTERLEAVED = (
    "unpaired: from and to were measured in separate runs, not interleaved, so drift of the machine "
    "between the runs is part of the difference (use `invoke ab` for a paired, interleaved verdict)"
)
HEADERS = (
    "mode",
    "benchmark",
    "from (s/iter)",
    "to (s/iter)",
    stats.RATIO_HEADER,
    "95% CI",
    "%Δ (lower is better)",
    "verdict",
    "reason",
)


# ---------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True)
class ModeData:
    """One JIT mode of one input: its pyperf results and what the run recorded about the JIT."""

    mode: str | None
    data: PyperfFile | None  # None: the run has no benchmark results for this mode
    threshold: int | None = None
    compiles_main: int | None = None
    runner: str | None = None  # pyperf | pyperformance, as the run recorded it


@dataclass(frozen=True)
class Input:
    """A run (``modes`` keyed by mode name) or a plain pyperf file (one entry keyed ``None``)."""

    label: str
    is_run: bool
    host: str | None
    modes: dict[str | None, ModeData]
    code: CodeIdentity | None = None  # what the run measured, when its record pins it down
    python: str | None = None
    status: str | None = None
    path: Path | None = None


def _host_name(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict):
        for key in ("name", "host", "hostname"):
            if isinstance(value.get(key), str) and value[key]:
                return str(value[key])
    return None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _load_run(run_path: Path, manifest: dict[str, Any], label: str) -> Input:
    modes_raw = manifest.get("modes")
    if not isinstance(modes_raw, dict) or not modes_raw:
        raise UsageError(f"run {label} has no benchmark modes in its run.json")
    modes: dict[str | None, ModeData] = {}
    for name, raw in modes_raw.items():
        info: dict[str, Any] = raw if isinstance(raw, dict) else {}
        rel = info.get("pyperf_json")
        data = None
        if isinstance(rel, str) and rel:
            target = run_path / rel
            if not target.is_file():
                raise UsageError(f"run {label}: mode {name}'s pyperf JSON {rel} is missing from the run directory")
            data = load_pyperf(target)
        compiles = info.get("compiles")
        main = _int_or_none(compiles.get("main")) if isinstance(compiles, dict) else None
        runner = info.get("runner") if isinstance(info.get("runner"), str) else None
        modes[str(name)] = ModeData(str(name), data, _int_or_none(info.get("threshold")), main, runner)
    host = manifest.get("host")
    python = host.get("python") if isinstance(host, dict) and isinstance(host.get("python"), str) else None
    status = manifest.get("status") if isinstance(manifest.get("status"), str) else None
    code = crossrun.code_identity(manifest)
    return Input(label, True, _host_name(host), modes, code, python, status, run_path)


def load_input(ref: str | Path, store: RunStore) -> Input:
    """A pyperf JSON(.gz) file, or a run id / run directory / ``latest`` resolved through ``store``."""
    path = Path(ref)
    if path.is_file():
        data = load_pyperf(path)
        return Input(path.name, False, _host_name(data.metadata.get("hostname")), {None: ModeData(None, data)})
    if path.suffix in (".json", ".gz") and not path.exists():
        raise UsageError(f"{ref}: no such pyperf file")
    try:
        run = store.resolve(ref)
    except UsageError:
        raise UsageError(f"{ref!r} is neither a pyperf JSON file nor a run (id, directory or 'latest')") from None
    return _load_run(run.path, run.manifest(), run.label())


# ---------------------------------------------------------------------------------------------
# noise floor store


def noise_path(reports: Path) -> Path:
    return reports / NOISE_FILE


def _read_noise(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"schema_version": 1, "hosts": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read the noise floors in {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("hosts"), dict):
        raise UsageError(f"{path} is not an armjit noise-floor file (no 'hosts' object)")
    return data


def record_noise_floor(
    path: Path,
    *,
    host: str,
    benchmark: str,
    mode: str | None,
    delta: float,
    blocks: int,
    measured_at: str | None = None,
    source: str = "",
) -> None:
    """Store δ for (host, benchmark, mode); ``mode=None`` stores the host+benchmark default ("*")."""
    if not (math.isfinite(delta) and delta > 0):
        raise UsageError(f"noise floor {delta!r} must be a positive fraction (0.02 = 2%)")
    data = _read_noise(path)
    entry = data["hosts"].setdefault(host, {}).setdefault(benchmark, {}).setdefault(mode or "*", {})
    # update in place: the between-run noise stored beside δ survives a new A/A run
    entry.update(
        delta=delta,
        blocks=blocks,
        measured_at=measured_at or _now(),
        source=source,
    )
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_between_run_noise(
    path: Path,
    *,
    host: str,
    benchmark: str,
    mode: str | None,
    delta: float,
    runs: Sequence[str],
    measured_at: str | None = None,
) -> None:
    """Store the between-run δ for (host, benchmark, mode) beside the A/A δ of that entry."""
    if not (math.isfinite(delta) and delta > 0):
        raise UsageError(f"between-run noise {delta!r} must be a positive fraction (0.02 = 2%)")
    if len(runs) < 2:
        raise UsageError("the between-run noise needs at least two runs of the same code")
    data = _read_noise(path)
    entry = data["hosts"].setdefault(host, {}).setdefault(benchmark, {}).setdefault(mode or "*", {})
    entry["between_runs"] = {"delta": delta, "runs": list(runs), "measured_at": measured_at or _now()}
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def lookup_between_run_noise(
    path: Path, *, host: str | None, benchmark: str, mode: str | None
) -> tuple[float, int] | None:
    """The stored between-run δ and how many runs it came from (mode, else "*"), or None."""
    if host is None:
        return None
    per_bench = _read_noise(path)["hosts"].get(host, {}).get(benchmark, {})
    for key in (mode or "*", "*"):
        entry = per_bench.get(key)
        between = entry.get("between_runs") if isinstance(entry, dict) else None
        if isinstance(between, dict) and isinstance(between.get("delta"), int | float):
            runs = between.get("runs")
            return float(between["delta"]), len(runs) if isinstance(runs, list) else 0
    return None


def lookup_noise_floor(path: Path, *, host: str | None, benchmark: str, mode: str | None) -> float | None:
    """The stored δ for this host, benchmark and mode (else the benchmark's "*" entry), or None."""
    if host is None:
        return None
    per_bench = _read_noise(path)["hosts"].get(host, {}).get(benchmark, {})
    for key in (mode or "*", "*"):
        entry = per_bench.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("delta"), int | float):
            return float(entry["delta"])
    return None


def parse_delta(text: str | float) -> float:
    """``--delta``: a fraction (0.02) or a percentage ("2%"); at least the 1% floor, below 50%."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(f"--delta {raw!r}: expected a fraction like 0.02 or a percentage like 2%") from None
    if math.isnan(value) or value >= 0.5:
        raise UsageError(f"--delta {raw}: expected a fraction like 0.02 (2%), below 0.5")
    if value < stats.MIN_DELTA:
        raise UsageError(f"--delta {raw}: the practical threshold is at least {stats.MIN_DELTA:.0%} (0.01)")
    return value


# ---------------------------------------------------------------------------------------------
# comparisons


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
    def reason(self) -> str:
        parts: list[str] = []
        for text in (self.decision.reason, self.decision.warning, *self.notes):
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

    @property
    def paired(self) -> bool:
        return bool(self.comparisons) and all(c.estimate.paired for c in self.comparisons)

    @property
    def overall(self) -> stats.Verdict:
        verdicts: list[stats.Verdict] = [c.verdict for c in self.comparisons]
        verdicts += ["inconclusive"] * len(self.missing)
        return stats.overall_verdict(verdicts)

    @property
    def overall_text(self) -> str:
        """The overall verdict as a sentence, saying why when both sides ran the same code."""
        if self.comparisons and all(c.same_code for c in self.comparisons):
            return f"{self.overall} (same code on both sides)"
        return self.overall


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


def _jit_inactive(mode: str | None, side: ModeData, label: str) -> list[str]:
    # In a mode that expects compiles, 0 __main__ compiles means the interpreter was measured.
    if not jit_modes.expects_compiles(mode) or side.compiles_main is None:
        return []
    if side.compiles_main == 0:
        return [f"{label} (0 __main__ compiles in mode {mode})"]
    return []


def _bench_notes(fa: BenchmarkData, fb: BenchmarkData) -> tuple[str, ...]:
    # Different loops are a comparability reason (armjit.analysis.crossrun), not only a note.
    if fa.unit != fb.unit:
        return (f"units differ ({fa.unit} -> {fb.unit})",)
    return ()


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
    return crossrun.measurement(bench, runner=mode.runner, host=host, python=side.python)


def compare_inputs(
    a: Input,
    b: Input,
    *,
    delta: float | None = None,
    noise_file: Path | None = None,
    mode: str | None = None,
    resamples: int = stats.RESAMPLES,
    seed: int = stats.DEFAULT_SEED,
) -> Report:
    """Unpaired from -> to per mode and benchmark, with every input check as a note or a gate."""
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
        only_a = [n for n in names_a if n not in names_b]
        only_b = [n for n in names_b if n not in names_a]
        if only_a:
            notes.append(f"mode {shown}: benchmarks only in from ({a.label}): {', '.join(only_a)}")
        if only_b:
            notes.append(f"mode {shown}: benchmarks only in to ({b.label}): {', '.join(only_b)}")
        any_common = any_common or bool(common)
        gates = list(
            stats.health_gates(
                paired=False,
                threshold_from=ma.threshold,
                threshold_to=mb.threshold,
                jit_inactive=_jit_inactive(mode_name, ma, a.label) + _jit_inactive(mode_name, mb, b.label),
            )
        )
        for index, name in enumerate(common):
            fa, fb = ma.data.get(name), mb.data.get(name)
            est = stats.unpaired_estimate(fa.processes, fb.processes, resamples=resamples, seed=seed + index)
            bench_gates = [*gates, *stats.health_gates(paired=False, n_from=est.n_from, n_to=est.n_to)]
            both = a.is_run and b.is_run
            mismatch = crossrun.comparability(
                side_measurement(a, ma, fa, run_hosts=both), side_measurement(b, mb, fb, run_hosts=both)
            )
            d, source = _cross_run_delta(delta, noise_file, (a.host, b.host), name, mode_name)
            decision, reasons = crossrun.decide_cross_run(
                est,
                delta=d,
                gates=bench_gates,
                reasons=(*mismatch, *crossrun.stability(est)),
                unknown=crossrun.delta_unknown(a.host or b.host, name),
                same=crossrun.same_code(a.code, b.code),
            )
            comparisons.append(
                Comparison(
                    name,
                    mode_name,
                    stats.Judgement(est, decision),
                    fa.unit,
                    _bench_notes(fa, fb),
                    reasons=reasons,
                    comparable=not mismatch,
                    delta_source=source,
                )
            )
    if not any_common:
        na = sorted({n for _, m, _ in pairs if m.data for n in m.data.names})
        nb = sorted({n for _, _, m in pairs if m.data for n in m.data.names})
        if na and nb:
            raise UsageError(f"no benchmark in common: from has {', '.join(na)}; to has {', '.join(nb)}")
    return Report(a.label, b.label, tuple(comparisons), tuple(notes), tuple(missing))


# ---------------------------------------------------------------------------------------------
# rendering


def _row(c: Comparison) -> list[Any]:
    e = c.estimate
    return [
        c.mode or "-",
        c.benchmark,
        f"{e.from_median:.6g}",
        f"{e.to_median:.6g}",
        f"{e.ratio:.4f}",
        f"[{e.ci_lo:.4f}, {e.ci_hi:.4f}]",
        f"{stats.pct_change(e.ratio):+.2f}%",
        c.verdict,
        c.reason,
    ]


def render_table(report: Report, fmt: TableFormat = "simple") -> str:
    """The from -> to table; the headers carry the sign convention."""
    return table([_row(c) for c in report.comparisons], HEADERS, fmt=fmt)


def render_text(report: Report) -> str:
    """Console output: what was compared, the notes, the table, the overall verdict."""
    lines = [f"from {report.from_label} -> to {report.to_label}"]
    lines += [f"note: {n}" for n in report.notes]
    lines += ["", render_table(report), "", f"Verdict: {report.overall_text}."]
    return "\n".join(lines)


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
        "comparisons": [_comparison_json(c) for c in report.comparisons],
    }


def findings_block(report: Report, *, title: str, plot: str | None = None) -> str:
    """Markdown for one findings.md iteration: the from -> to table and one explicit verdict sentence."""
    design = (
        "paired: interleaved blocks of one from and one to process in random order"
        if report.paired
        else "unpaired: separate runs, not interleaved"
    )
    lines = [
        f"### {title}",
        "",
        f"From `{report.from_label}` -> to `{report.to_label}` ({design}). "
        "Ratio = to/from, %Δ = (ratio-1)·100: lower is better.",
        "",
        render_table(report, fmt="github"),
        "",
    ]
    notes = [n for n in report.notes if n != NOT_INTERLEAVED]
    lines += [f"- {n}" for n in notes]
    if notes:
        lines.append("")
    if plot:
        lines += [f"![from -> to per process]({plot})", ""]
    lines.append(f"Verdict: {report.overall_text}.")
    return "\n".join(lines) + "\n"
