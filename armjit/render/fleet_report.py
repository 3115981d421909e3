"""A fleet's tables: per host how it ended, benchmark x mode across hosts, and the hosts' facts."""

from __future__ import annotations

from collections.abc import Sequence

from armjit.analysis.crosshost import CrossHostRow, HostFactsRow
from armjit.render.tables import TableFormat, fmt_seconds, table

__all__ = ["cross_host_table", "fleet_findings", "host_facts_table", "hosts_table"]


def hosts_table(rows: Sequence[tuple[str, str, str | None, str, float]], fmt: TableFormat = "simple") -> str:
    """(host, status, run id, cause, seconds) per host."""
    cells = [(h, status, run_id or "-", f"{seconds:.1f}", cause) for h, status, run_id, cause, seconds in rows]
    return table(cells, ["host", "status", "run", "seconds", "why it failed"], fmt)


def _cell(row: CrossHostRow, host: str, reference: str) -> str:
    cell = row.cells.get(host)
    if cell is None:
        return "-"
    text = f"{fmt_seconds(cell.median)} s"
    if host == reference:
        return f"{text} (reference)"
    if cell.estimate is None:
        return text
    e = cell.estimate
    return f"{text}, x{e.ratio:.3f} [{e.ci_lo:.3f}, {e.ci_hi:.3f}]"


def cross_host_table(
    rows: Sequence[CrossHostRow], hosts: Sequence[str], reference: str, fmt: TableFormat = "simple"
) -> str:
    """Rows benchmark x mode; per host its median and its ratio to the reference with a 95% interval."""
    cells = [(r.benchmark, r.mode, *(_cell(r, h, reference) for h in hosts)) for r in rows]
    return table(cells, ["benchmark", "mode", *hosts], fmt)


def host_facts_table(rows: Sequence[HostFactsRow], fmt: TableFormat = "simple") -> str:
    cells = [(r.host, r.arch, r.cpu, r.cores, r.kernel, r.python, r.cinderx) for r in rows]
    return table(cells, ["host", "arch", "CPU", "cores", "kernel", "python", "cinderx"], fmt)


def fleet_findings(
    fleet_id: str,
    kind: str,
    hosts: str,
    cross: str,
    facts: str,
    reference: str,
    lines: Sequence[str] = (),
) -> str:
    """The fleet's findings.md block (the tables already rendered as markdown)."""
    out = [f"## Fleet {fleet_id} ({kind})", "", hosts, ""]
    if cross:
        out += [
            f"Median of process medians per host, and its ratio to {reference} (x, lower is faster) with a 95%",
            "interval (unpaired: a difference of machines and their load, not of code):",
            "",
            cross,
            "",
        ]
    if facts:
        out += ["Host facts:", "", facts, ""]
    out += [f"- {line}" for line in lines]
    return "\n".join(out).rstrip() + "\n"
