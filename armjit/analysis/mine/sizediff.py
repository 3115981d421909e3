"""Compiled code of two log sets, function by function: the data of a compiled-size guard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from armjit.jitlog import Aggregate

__all__ = ["FunctionDiff", "SizeDiff", "diff", "diff_json", "pct_change"]


def _status(agg: Aggregate) -> dict[str, str]:
    compiled = {f.name for f in agg.functions}
    failed = {f.function for f in agg.failures}
    status = {name: "compiled" for name in compiled}
    for name in failed:
        status[name] = "mixed" if name in compiled else "failed"
    return status


def pct_change(a: int, b: int) -> float | None:
    """Percent change from a to b; None when a is 0 (no base to compare with)."""
    return 100.0 * (b - a) / a if a else None


@dataclass(frozen=True)
class FunctionDiff:
    name: str
    size_from: int | None
    size_to: int | None
    status_from: str  # compiled, failed, mixed (compiled in some processes, failed in others), absent
    status_to: str

    @property
    def delta(self) -> int | None:
        if self.size_from is None or self.size_to is None:
            return None
        return self.size_to - self.size_from

    @property
    def pct(self) -> float | None:
        if self.delta is None or not self.size_from:
            return None
        return 100.0 * self.delta / self.size_from

    @property
    def change(self) -> str:
        was, now = self.status_from in ("compiled", "mixed"), self.status_to in ("compiled", "mixed")
        if now and not was:
            return "newly compiled"
        if was and not now:
            return "newly failing" if self.status_to in ("failed",) else "no longer compiled"
        if self.status_to == "failed" and self.status_from == "absent":
            return "newly failing"
        if self.delta:
            return "bigger" if self.delta > 0 else "smaller"
        return "same"


@dataclass(frozen=True)
class SizeDiff:
    """Compiled code from -> to, per function and in total: the data of a compiled-size guard."""

    label_from: str
    label_to: str
    rows: tuple[FunctionDiff, ...]
    total_from: int  # sum of per-function sizes (largest per function), all compiled functions
    total_to: int
    compiled_from: int  # Finished-compiling events
    compiled_to: int
    failed_from: int
    failed_to: int

    @property
    def common(self) -> tuple[FunctionDiff, ...]:
        """Functions compiled in both sets: the fair basis for a size comparison."""
        return tuple(r for r in self.rows if r.delta is not None)

    @property
    def common_from(self) -> int:
        return sum(r.size_from or 0 for r in self.common)

    @property
    def common_to(self) -> int:
        return sum(r.size_to or 0 for r in self.common)

    @property
    def total_pct(self) -> float | None:
        return pct_change(self.total_from, self.total_to)

    @property
    def common_pct(self) -> float | None:
        return pct_change(self.common_from, self.common_to)

    def changed(self, change: str) -> tuple[FunctionDiff, ...]:
        return tuple(r for r in self.rows if r.change == change)

    def violations(self, max_growth_pct: float, *, per_function: bool = False) -> list[str]:
        """What breaks a size guard of ``max_growth_pct`` (common functions' total, or each)."""
        out = []
        pct = self.common_pct
        if pct is not None and pct > max_growth_pct:
            out.append(
                f"compiled size of common functions grew {pct:+.1f}% ({self.common_from} -> {self.common_to} bytes)"
            )
        if per_function:
            for r in self.common:
                if r.pct is not None and r.pct > max_growth_pct:
                    out.append(f"{r.name} grew {r.pct:+.1f}% ({r.size_from} -> {r.size_to} bytes)")
        out += [f"{r.name} now fails to compile" for r in self.changed("newly failing")]
        return out


def diff(a: Aggregate, b: Aggregate) -> SizeDiff:
    """Every function compiled or failed in either set, with its size and status in each."""
    sa, sb = {f.name: f.code_size for f in a.functions}, {f.name: f.code_size for f in b.functions}
    ta, tb = _status(a), _status(b)
    names = sorted(set(ta) | set(tb))
    rows = tuple(FunctionDiff(n, sa.get(n), sb.get(n), ta.get(n, "absent"), tb.get(n, "absent")) for n in names)
    return SizeDiff(
        a.label, b.label, rows, a.total_code_size, b.total_code_size, a.compiled, b.compiled, a.failed, b.failed
    )


def diff_json(d: SizeDiff) -> dict[str, Any]:
    return {
        "from": d.label_from,
        "to": d.label_to,
        "total_code_size": {"from": d.total_from, "to": d.total_to, "pct": d.total_pct},
        "common_code_size": {"from": d.common_from, "to": d.common_to, "pct": d.common_pct},
        "compiled": {"from": d.compiled_from, "to": d.compiled_to},
        "failed": {"from": d.failed_from, "to": d.failed_to},
        "functions": [
            {
                "name": r.name,
                "size_from": r.size_from,
                "size_to": r.size_to,
                "delta": r.delta,
                "pct": r.pct,
                "status_from": r.status_from,
                "status_to": r.status_to,
                "change": r.change,
            }
            for r in d.rows
        ],
    }
