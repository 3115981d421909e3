"""A paired A/B (or A/A) run as console text, a plot and a findings.md iteration block."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from armjit.analysis import compare, stats
from armjit.render import TableFormat, table
from armjit.render.ab_noise import noise_table, quiet_wait_line, save_narrowing_plot, sequence_table
from armjit.render.baseline_report import tidy_paths
from armjit.render.compare_report import comparison_findings_block, render_text
from armjit.seams.store import RunDir

__all__ = ["ab_text", "save_ab_plot", "save_sequence_plot", "write_ab_notes"]


def blocks_table(manifest: dict[str, Any], limit: int = 40) -> str:
    rows = []
    for key, blocks in (manifest.get("samples") or {}).items():
        for index, blk in enumerate(blocks[:limit]):
            ratio = blk["b"] / blk["a"]
            rows.append((key, index + 1, blk["order"], f"{blk['a']:.6g}", f"{blk['b']:.6g}", f"{ratio:.4f}", ratio < 1))
    unit = "instructions" if (manifest.get("design") or {}).get("metric") == "instructions" else "s"
    return table(rows, ["bench/mode", "block", "order", f"A {unit}", f"B {unit}", "B/A (lower is better)", "B won"])


def crash_table(manifest: dict[str, Any], fmt: TableFormat = "simple") -> str:
    rows = []
    for side, data in (manifest.get("crashes") or {}).items():
        for key, attempts in data.get("attempts", {}).items():
            rows.append((side, key, attempts, data.get("successes", {}).get(key, 0)))
    return table(rows, ["side", "bench/mode", "attempts", "successes"], fmt)


def ab_text(manifest: dict[str, Any], report: compare.Report, noise: dict[str, float]) -> str:
    parts = [render_text(report), "", blocks_table(manifest), "", crash_table(manifest)]
    parts += ["", noise_table(manifest, report)]
    quiet = quiet_wait_line(manifest)
    if quiet:
        parts += ["", quiet]
    won = [f"{c.mode}: B won {c.estimate.p_to_faster:.0%} of {c.estimate.n_from} blocks" for c in report.comparisons]
    parts += ["", "; ".join(won)]
    if noise:
        parts += ["", "noise floor δ stored for this host: " + ", ".join(f"{k} {v:.2%}" for k, v in noise.items())]
    return "\n".join(parts)


def save_ab_plot(run: RunDir, report: compare.Report) -> str | None:
    from armjit.render import plot

    if not plot.available() or not report.comparisons:
        return None
    items = [plot.PlotItem(f"{c.mode} / {c.benchmark}", c.estimate, c.decision.delta) for c in report.comparisons]
    written = plot.save_plot(items, run.file("ab.png"), title=f"{report.from_label} -> {report.to_label}")
    return run.relative(written) if written else None


def save_sequence_plot(run: RunDir, manifest: dict[str, Any], report: compare.Report) -> str | None:
    """--until-decided: the interval narrowing as blocks were added (``ab-sequence.png``)."""
    deltas = {f"{c.benchmark}/{c.mode}": c.decision.delta for c in report.comparisons}
    written = save_narrowing_plot(manifest, run.file("ab-sequence.png"), deltas)
    return run.relative(written) if written else None


def _link(run: RunDir, notes_dir: Path, plot: str) -> str:
    try:
        return (run.path / plot).resolve().relative_to(notes_dir.resolve()).as_posix()
    except ValueError:
        return f"reports/runs/{run.run_id}/{plot}"


def write_ab_notes(
    run: RunDir,
    manifest: dict[str, Any],
    report: compare.Report,
    notes_dir: Path,
    plot: str | None,
    sequence_plot: str | None = None,
) -> None:
    from armjit.seams import notes

    link = _link(run, notes_dir, plot) if plot else None
    body = comparison_findings_block(report, title=f"Iteration: {manifest['kind']} `{manifest['run_id']}`", plot=link)
    body += "\nBlocks, time and noise:\n\n" + noise_table(manifest, report, "github") + "\n"
    quiet = quiet_wait_line(manifest)
    if quiet:
        body += f"\n{quiet}\n"
    if manifest.get("sequential"):
        body += "\nThe interval after each block (--until-decided):\n\n" + sequence_table(manifest, "github") + "\n"
        if sequence_plot:
            body += f"\n![interval narrowing per block]({_link(run, notes_dir, sequence_plot)})\n"
    proof = [
        (shown, side, p.get("main"), p.get("total"), p.get("threshold"))
        for mode, m in manifest.get("modes", {}).items()
        for shown, found in _proofs(mode, m).items()
        for side, p in (found or {}).items()
    ]
    body += "\nJIT activity proof (from the workers' logs):\n\n"
    body += table(proof, ["mode", "side", "__main__ compiles", "total", "threshold"], "github") + "\n"
    body += "\nCrash accounting:\n\n" + crash_table(manifest, "github") + "\n"
    body += (
        f"\nDesign: {_design_line(manifest)}, seed {manifest['design']['seed']}, "
        f"{stats.RESAMPLES} bootstrap resamples over blocks.\n"
    )
    notes.upsert_block(notes_dir / "findings.md", f"{manifest['kind']}-{manifest['run_id']}", tidy_paths(body))


def _design_line(manifest: dict[str, Any]) -> str:
    design = manifest["design"]
    if design.get("until_decided"):
        budget = design.get("budget_seconds")
        limit = f"a budget of {budget / 60:g} min" if budget else "no budget"
        return f"blocks added until decided ({limit}; {design.get('sequential_method')})"
    return f"{design['blocks']} blocks"


def _proofs(mode: str, record: dict[str, Any]) -> dict[str, Any]:
    """Each benchmark's JIT proof in a mode ("mode/bench"), or the mode's own from a record of one benchmark."""
    results = record.get("results") or {}
    found = {f"{mode}/{bench}": r.get("jit_proof") for bench, r in results.items() if isinstance(r, dict)}
    return found or {mode: record.get("jit_proof")}
