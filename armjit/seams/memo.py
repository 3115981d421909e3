"""A JSON file of results keyed by the digest of their inputs: work that is pure and slow (the
bootstrap rechecks of ``invoke history --regressions``) is done once per input.

A memo only saves time. An unreadable file is an empty memo, and a memo that cannot be written
(a read-only reports directory) is skipped, so neither can change or stop a result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from armjit.seams.store import atomic_write_text

__all__ = ["JsonMemo"]

SCHEMA = 1


class JsonMemo:
    def __init__(self, path: Path, *, limit: int = 20_000) -> None:
        self.path = path
        self.limit = limit  # newest entries kept; the memo cannot grow without bound
        self._entries = self._read()
        self._changed = False

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return {}
        if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("entries"), dict):
            return {}
        return dict(data["entries"])

    def get(self, key: str) -> Any:
        return self._entries.get(key)

    def put(self, key: str, value: Any) -> None:
        self._entries.pop(key, None)  # re-inserted last: the newest survive the limit
        self._entries[key] = value
        self._changed = True

    def save(self) -> None:
        if not self._changed:
            return
        kept = dict(list(self._entries.items())[-self.limit :])
        try:
            atomic_write_text(self.path, json.dumps({"schema": SCHEMA, "entries": kept}, separators=(",", ":")))
        except OSError:
            return  # a memo is an optimization: a read-only reports dir still gets its answer
        self._changed = False
