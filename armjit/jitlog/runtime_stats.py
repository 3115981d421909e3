"""Payloads the JIT prints as data: ``Stats for X: {json}`` and the runtime-stats literal.

Both are optional (PYTHONJITDUMPSTATS and friends) and both may be malformed in a crashed
process's log, so every reader here returns nothing rather than raising.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from typing import Any

from armjit.jitlog.tallies import Tallies

__all__ = ["add_runtime_stats", "deopt_rows", "instructions"]


def instructions(text: str) -> int:
    """Size of a ``Stats for X: {json}`` record: its instruction count (summed if per-opcode)."""
    try:
        data = json.loads(text)
    except ValueError:
        return 0
    value = data.get("instructions", data) if isinstance(data, dict) else data
    if isinstance(value, dict):
        return sum(v for v in value.values() if isinstance(v, int))
    if isinstance(value, list):
        return len(value)
    return value if isinstance(value, int) else 0


def deopt_rows(data: Any) -> Iterable[tuple[str, str, str, int]]:
    """Rows of ``{'deopt': [{'normal': {func_qualname, reason, description}, 'int': {count}}]}``."""
    entries = data.get("deopt", []) if isinstance(data, dict) else []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        normal = entry.get("normal", entry)
        ints = entry.get("int", entry)
        if not isinstance(normal, dict) or not isinstance(ints, dict):
            continue
        count = ints.get("count", 1)
        yield (
            str(normal.get("func_qualname", "?")),
            str(normal.get("reason", "?")),
            str(normal.get("description", "")),
            count if isinstance(count, int) else 1,
        )


def add_runtime_stats(st: Tallies, text: str) -> None:
    """Deopt counts from the Python literal after ``JIT runtime stats``; a note if it is unreadable."""
    if not text.strip():
        return
    try:
        data = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        st.notes.append("JIT runtime stats could not be read")
        return
    for name, reason, desc, count in deopt_rows(data):
        st.add_deopt((name, reason, desc), count)
