"""What a paired run's findings show beyond the from -> to table: the design actually measured
(metric, clock, counter, blocks, time), the noise (CV of the process values, CPU share, starved
processes) and, with --until-decided, how the interval narrowed block by block (a table and a PNG)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from armjit.analysis import compare
from armjit.analysis.stats.sequential import MIN_SEQUENTIAL_BLOCKS
from armjit.render.tables import TableFormat, table

__all__ = ["noise_table", "quiet_wait_line", "save_narrowing_plot", "sequence_table"]


def _shares(blocks: list[dict[str, Any]]) -> list[float]:
    return [s for blk in blocks for s in (blk.get("cpu_share") or []) if isinstance(s, (int, float))]


def _starved(counts: dict[str, int]) -> str:
    return f"{counts.get('processes', 0)} ({counts.get('reruns', 0)} re-run, {counts.get('dropped', 0)} dropped)"


def noise_table(manifest: dict[str, Any], report: compare.Report, fmt: TableFormat = "simple") -> str:
    """Per benchmark/mode: blocks, time, verdict, interval, CV, CPU share and starved processes."""
    design = manifest.get("design") or {}
    seconds = manifest.get("blocks_seconds")
    sequential = manifest.get("sequential") or {}
    rows = []
    for c in report.comparisons:
        key = f"{c.benchmark}/{c.mode}"
        e = c.estimate
        blocks = (manifest.get("samples") or {}).get(key) or []
        shares = _shares(blocks)
        starved = (manifest.get("starved") or {}).get(key) or {}
        rows.append(
            [
                key,
                design.get("metric", "time")
                + ("" if design.get("metric") == "instructions" else f" ({design.get('clock', 'wall')} clock)"),
                e.n,
                f"{seconds / 60:.1f} min" if isinstance(seconds, (int, float)) else "",
                c.verdict,
                f"{e.ratio:.4f} [{e.ci_lo:.4f}, {e.ci_hi:.4f}]",
                f"{e.cv_from:.1%} / {e.cv_to:.1%}",
                f"{statistics.median(shares):.0%} (min {min(shares):.0%})" if shares else "not recorded",
                _starved(starved),
                (sequential.get(key) or {}).get("stopped") or "fixed block count",
            ]
        )
    headers = [
        "bench/mode",
        "metric",
        "blocks",
        "time",
        "verdict",
        "ratio [interval]",
        "CV from / to",
        "CPU share median",
        "starved processes",
        "stopped",
    ]
    return table(rows, headers, fmt)


def quiet_wait_line(manifest: dict[str, Any]) -> str | None:
    """What ``--quiet-wait`` did, in one sentence; None when it was off."""
    waits = manifest.get("quiet_wait")
    if not isinstance(waits, dict):
        return None
    text = f"Waiting for a quiet host (--quiet-wait {waits.get('limit_seconds', 0):g} s): "
    blocks = waits.get("blocks_waited", 0)
    if blocks:
        text += f"{blocks} block{'s' if blocks != 1 else ''} waited, {waits.get('seconds', 0.0):.1f} s in all"
        busy = waits.get("started_busy", 0)
        text += f"; {busy} started with the host still busy." if busy else "; every one started on a quiet host."
    else:
        text += "the host was quiet before every block."
    if waits.get("off"):
        text += f" Turned off during the run: {waits['off']}."
    return text


def sequence_table(manifest: dict[str, Any], fmt: TableFormat = "simple") -> str:
    """Each look of --until-decided: blocks, minutes, ratio and the confidence sequence."""
    rows = []
    for key, data in (manifest.get("sequential") or {}).items():
        for lk in data.get("looks") or []:
            lo, hi = lk["ci"]
            rows.append(
                [
                    key,
                    lk["blocks"],
                    f"{lk['seconds'] / 60:.1f}",
                    f"{lk['ratio']:.4f}",
                    f"[{lo:.4f}, {hi:.4f}]",
                    lk["outcome"] or "",
                ]
            )
    return table(rows, ["bench/mode", "blocks", "minutes", "ratio", "confidence sequence", "settled"], fmt)


def save_narrowing_plot(manifest: dict[str, Any], path: Path, delta: dict[str, float]) -> Path | None:
    """The interval against the blocks, one panel per benchmark/mode, with the ±δ band; None
    without matplotlib or without looks."""
    from armjit.render import plot

    looks = {k: v.get("looks") or [] for k, v in (manifest.get("sequential") or {}).items()}
    looks = {k: v for k, v in looks.items() if v}
    if not looks or not plot.available():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(looks), 1, figsize=(8, 2.8 * len(looks)), squeeze=False)
    for ax, (key, items) in zip(axes[:, 0], looks.items(), strict=True):
        n = [lk["blocks"] for lk in items]
        ax.fill_between(n, [lk["ci"][0] for lk in items], [lk["ci"][1] for lk in items], alpha=0.3, label="interval")
        ax.plot(n, [lk["ratio"] for lk in items], "k.-", label="ratio to/from")
        d = delta.get(key, 0.01)
        ax.axhspan(1 / (1 + d), 1 + d, color="0.85", zorder=0, label=f"±δ ({d:.1%})")
        ax.axhline(1.0, color="0.5", linewidth=0.8)
        # Log scale, framed on the looks that could decide: the first two or three blocks' intervals
        # are orders of magnitude wide and would flatten the rest.
        ax.set_yscale("log")
        framed = [lk for lk in items if lk["blocks"] >= MIN_SEQUENTIAL_BLOCKS] or items
        low = min([lk["ci"][0] for lk in framed] + [1 / (1 + d)])
        high = max([lk["ci"][1] for lk in framed] + [1 + d])
        ax.set_ylim(low / 1.02, high * 1.02)
        ax.set_title(key)
        ax.set_xlabel("blocks")
        ax.set_ylabel("ratio to/from (lower is better)")
        ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=100)
        tmp.replace(path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path
