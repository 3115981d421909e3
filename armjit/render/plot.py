"""Optional PNG of a from -> to comparison: per-process values of both sides and the ratio interval.

matplotlib is the optional extra ``plot``; without it ``save_plot`` returns None and the caller
says the plot was skipped.
"""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from armjit.analysis import stats

__all__ = ["SKIPPED_NOTE", "PlotItem", "available", "save_plot"]

SKIPPED_NOTE = "plot skipped: matplotlib is not installed (install armjit's optional extra `plot`)"


@dataclass(frozen=True)
class PlotItem:
    label: str  # "mode / benchmark"
    estimate: stats.Estimate
    delta: float


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def save_plot(items: Sequence[PlotItem], path: Path, *, title: str = "") -> Path | None:
    """Write the PNG to ``path`` (atomically via a temp name) or return None without matplotlib."""
    if not items or not available():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(items)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 1.2 + 0.9 * n), squeeze=True)
    jitter = random.Random(0)  # fixed jitter: the same data always gives the same picture
    for row, item in enumerate(items):
        e = item.estimate
        y = n - 1 - row
        base = e.from_median or 1.0
        for side, values, colour, dy in (
            ("from", e.from_processes, "tab:blue", 0.15),
            ("to", e.to_processes, "tab:orange", -0.15),
        ):
            xs = [v / base for v in values]
            ys = [y + dy + jitter.uniform(-0.06, 0.06) for _ in xs]
            left.scatter(xs, ys, s=14, color=colour, alpha=0.7, label=side if row == 0 else None)
        ci = (e.ratio - e.ci_lo, e.ci_hi - e.ratio)
        right.errorbar([e.ratio], [y], xerr=[[ci[0]], [ci[1]]], fmt="o", color="black", capsize=4)
        right.axvspan(1 / (1 + item.delta), 1 + item.delta, ymin=(y + 0.1) / n, ymax=(y + 0.9) / n, color="0.85")
    labels = [it.label for it in items]
    for ax in (left, right):
        ax.set_yticks(range(n - 1, -1, -1), labels)
        ax.axvline(1.0, color="0.5", linewidth=0.8)
    left.set_xlabel("process median / median of from processes (lower is better)")
    left.legend(loc="best", fontsize="small")
    design = "paired blocks" if items[0].estimate.paired else "unpaired"
    right.set_xlabel(f"ratio to/from with {round(items[0].estimate.confidence * 100)}% CI ({design}); grey: ±δ")
    if title:
        fig.suptitle(title)
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
