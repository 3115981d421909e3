"""Records -> tables. The same rows go to the console ("simple") and to notes ("github")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from tabulate import tabulate

__all__ = ["TableFormat", "fmt_seconds", "table"]

TableFormat = Literal["simple", "github"]


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str], fmt: TableFormat = "simple") -> str:
    """Render rows as a table; ``None`` cells print as an empty string."""
    clean = [["" if cell is None else cell for cell in row] for row in rows]
    return tabulate(clean, headers=list(headers), tablefmt=fmt, disable_numparse=False)


def fmt_seconds(value: float | None) -> str:
    """Seconds for a table cell: 3 significant decimals, blank when unknown."""
    if value is None:
        return ""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"
