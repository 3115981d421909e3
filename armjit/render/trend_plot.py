"""PNG trend charts: one per host and JIT mode, a line per benchmark over its runs, the 95%
interval of each run as a band, commits as the x labels and regressions marked.

matplotlib is the optional extra ``plot``; without it ``save_trend`` returns None.

Drawing is most of what ``invoke history`` costs (matplotlib's import alone takes about a second
on a small host), and most calls change few charts: beside each PNG a ``.sha256`` file holds the
digest of everything the chart shows, and a chart whose digest matches is not drawn again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from armjit.analysis.history import Series
from armjit.render.plot import available

__all__ = ["MAX_LABELS", "Chart", "chart_digest", "chart_name", "save_trend"]

MAX_LABELS = 30
# Part of every digest: bump it when the drawing below changes, so old PNGs are drawn anew.
DRAWING_VERSION = 1


@dataclass(frozen=True)
class Chart:
    path: Path
    drawn: bool  # False: the PNG on disk already showed exactly this data


def _matplotlib_version() -> str:
    try:
        return importlib.metadata.version("matplotlib")
    except importlib.metadata.PackageNotFoundError:
        return ""


def chart_digest(series: Sequence[Series], *, title: str) -> str:
    """The sha256 of what the chart of ``series`` shows: every run's position, label, median,
    interval and regression mark, the benchmarks, the title and the drawing code's version."""
    shown = [
        [s.benchmark, [[r.point.started, r.point.run_id, r.point.label, r.point.median, r.interval, r.regression]
                       for r in s.rows]]
        for s in series
    ]  # fmt: skip
    payload = {"v": DRAWING_VERSION, "matplotlib": _matplotlib_version(), "title": title, "series": shown}
    return hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def chart_name(host: str, mode: str) -> str:
    """The chart's file name: letters, digits, dots and dashes only."""
    clean = re.sub(r"[^A-Za-z0-9.-]+", "-", f"{host}_{mode}").strip("-")
    return f"trend-{clean}.png"


def save_trend(series: Sequence[Series], path: Path, *, title: str) -> Chart | None:
    """One chart for ``series`` (same host and mode), or the one on disk when it shows the same
    data; None without matplotlib and no current chart. Written atomically (temp name + rename),
    the digest after the PNG, so a digest never vouches for a half-written chart."""
    if not series:
        return None
    digest = chart_digest(series, title=title)
    stamp = _digest_path(path)
    try:
        if path.is_file() and stamp.read_text().strip() == digest:
            return Chart(path, drawn=False)
    except OSError:
        pass  # no digest yet (or unreadable): draw
    if not available():
        return None
    _draw(series, path, title=title)
    stamp.write_text(digest + "\n")
    return Chart(path, drawn=True)


def _draw(series: Sequence[Series], path: Path, *, title: str) -> None:
    stamp = _digest_path(path)
    stamp.unlink(missing_ok=True)  # the old digest must not outlive the PNG it described
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
