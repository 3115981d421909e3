"""PNG trend charts: one per host and JIT mode, a line per benchmark over its runs, the 95%
interval of each run as a band, commits as the x labels and regressions marked.

matplotlib is the optional extra ``plot``; without it ``save_trend`` returns None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from armjit.analysis.history import Series
from armjit.render.plot import available

__all__ = ["MAX_LABELS", "chart_name", "save_trend"]

MAX_LABELS = 30


def chart_name(host: str, mode: str) -> str:
    """The chart's file name: letters, digits, dots and dashes only."""
    clean = re.sub(r"[^A-Za-z0-9.-]+", "-", f"{host}_{mode}").strip("-")
    return f"trend-{clean}.png"


def save_trend(series: Sequence[Series], path: Path, *, title: str) -> Path | None:
    """One chart for ``series`` (same host and mode); written atomically (temp name + rename)."""
    if not series or not available():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One x position per run of this host and mode, in time order, shared by every benchmark.
    runs = sorted({(r.point.started, r.point.run_id, r.point.label) for s in series for r in s.rows})
    position = {run_id: i for i, (_, run_id, _) in enumerate(runs)}
    fig, ax = plt.subplots(figsize=(min(16.0, max(6.0, 0.6 * len(runs) + 3)), 4.5))
    for s in series:
        xs = [position[r.point.run_id] for r in s.rows]
        ys = [r.point.median for r in s.rows]
        line = ax.plot(xs, ys, marker="o", label=s.benchmark)[0]
        banded = [(x, r.interval) for x, r in zip(xs, s.rows, strict=True) if r.interval is not None]
        if banded:
            ax.fill_between(
                [x for x, _ in banded],
                [i[0] for _, i in banded if i],
                [i[1] for _, i in banded if i],
                color=line.get_color(),
                alpha=0.2,
            )
        bad = [(x, r.point.median) for x, r in zip(xs, s.rows, strict=True) if r.regression]
        if bad:
            ax.scatter([x for x, _ in bad], [y for _, y in bad], s=90, facecolors="none", edgecolors="red", zorder=3)
    # At most MAX_LABELS commit labels: a long history would print them on top of each other.
    step = max(1, -(-len(runs) // MAX_LABELS))
    ticks = list(range(0, len(runs), step))
    ax.set_xticks(ticks, [runs[i][2] for i in ticks], rotation=45, ha="right", fontsize="small")
    ax.set_ylabel("median of process medians, seconds (lower is better)")
    ax.set_title(title + ("  (red ring: regression)" if any(r.regression for s in series for r in s.rows) else ""))
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=90)
        tmp.replace(path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path
