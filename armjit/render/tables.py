"""Records -> tables. The same rows go to the console ("simple") and to notes ("github")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from tabulate import tabulate

__all__ = ["TableFormat", "fmt_seconds", "markdown_cell", "markdown_header", "markdown_row", "table"]

TableFormat = Literal["simple", "github"]


def markdown_cell(value: object) -> str:
    """One cell of a markdown table: a ``|`` would end the cell and a newline the row (a crash
    signature can hold both), so the pipe is escaped and line breaks become ``<br>``."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    return "<br>".join(line.strip() for line in text.split("\n")).replace("|", "\\|")


def markdown_row(cells: Sequence[object]) -> str:
    """One row of a markdown table, for tables that notes grow a row at a time."""
    return "| " + " | ".join(markdown_cell("" if c is None else c) for c in cells) + " |"


def markdown_header(headers: Sequence[str]) -> tuple[str, str]:
    """The header row and the ``|---|`` line of a table that notes grow a row at a time."""
    return markdown_row(headers), "|" + "---|" * len(headers)


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str], fmt: TableFormat = "simple") -> str:
    """Render rows as a table; ``None`` cells print as an empty string. In the markdown ("github")
    format every text cell is escaped, so each row stays one line with the header's columns."""
    clean = [["" if cell is None else cell for cell in row] for row in rows]
    if fmt == "github":
        clean = [[markdown_cell(c) if isinstance(c, str) else c for c in row] for row in clean]
        headers = [markdown_cell(h) for h in headers]
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
