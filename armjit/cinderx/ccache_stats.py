"""ccache's hit and miss counters, read from its own output (pure).

A build's record says what ccache did for it: the counters before and after, and the
difference. ``ccache --print-stats`` (ccache 4.x) prints one ``counter_id<TAB>value`` per line;
``ccache -s`` is the human summary, whose layout changed between releases (4.7: ``Direct: 2 / 2
(100.0%)``, 4.14: ``Direct: 0``), with ``Hits:`` and ``Misses:`` indented under ``Cacheable
calls:`` and repeated in a ``Local storage:`` block. The probe asks for the first and falls back to
the second (``STATS_COMMAND``). Both parsers are tested with output captured from ccache 4.7.5
(Debian 12) and 4.14.2 (Debian sid), ``tests/data/ccache/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["STATS_COMMAND", "CcacheCounts", "parse_stats"]

# --print-stats first (machine-readable); -s where ccache is too old to have it.
STATS_COMMAND = "ccache --print-stats 2>/dev/null || ccache -s"


@dataclass(frozen=True)
class CcacheCounts:
    """Compilations ccache answered from its cache (hits) and ran the compiler for (misses)."""

    hits: int
    misses: int

    def minus(self, before: CcacheCounts) -> CcacheCounts:
        """What happened between ``before`` and these counters (zeroed in between: these alone)."""
        if self.hits < before.hits or self.misses < before.misses:
            return self
        return CcacheCounts(self.hits - before.hits, self.misses - before.misses)

    def as_dict(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}


_ID_LINE = re.compile(r"^([a-z_]+)\t(\d+)$")
# ccache 4.x -s: the first "Hits:" and "Misses:" at two spaces' indent (the Local storage block repeats them).
_HITS_4 = re.compile(r"^  Hits:\s+(\d+)\b", re.M)
_MISSES_4 = re.compile(r"^  Misses:\s+(\d+)\b", re.M)


def _from_ids(text: str) -> CcacheCounts | None:
    ids = {m.group(1): int(m.group(2)) for m in map(_ID_LINE.match, text.splitlines()) if m}
    if "cache_miss" not in ids:
        return None
    return CcacheCounts(ids.get("direct_cache_hit", 0) + ids.get("preprocessed_cache_hit", 0), ids["cache_miss"])


def parse_stats(text: str) -> CcacheCounts | None:
    """The counters in the output of ``--print-stats`` or ``-s`` (either layout above); None if neither."""
    found = _from_ids(text)
    if found is not None:
        return found
    hits, misses = _HITS_4.search(text), _MISSES_4.search(text)
    if hits and misses:
        return CcacheCounts(int(hits.group(1)), int(misses.group(1)))
    return None
