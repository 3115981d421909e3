"""Bounds of the scanner: chunk size, longest line, tracked names, when to scan in parallel.

Modules read these as ``limits.NAME`` at call time (not ``from limits import NAME``), so lowering
one here is seen by every reader; the tests shrink ``MAX_NAMES`` and ``PARALLEL_MIN`` that way.
"""

from __future__ import annotations

__all__ = ["CHUNK_SIZE", "MAX_LINE", "MAX_NAMES", "MAX_STATS_TEXT", "OVERFLOW", "OVERFLOW_NAME", "PARALLEL_MIN"]

CHUNK_SIZE = 4 << 20
MAX_LINE = 1 << 20
MAX_NAMES = 100_000
# Files at least this big are split between worker processes when more than one CPU is free.
PARALLEL_MIN = 64 << 20
# Per-name tables fold the names beyond MAX_NAMES into this one bucket.
OVERFLOW_NAME = "<more functions than tracked>"
OVERFLOW = OVERFLOW_NAME.encode()
# A runtime-stats literal (PYTHONJITDUMPSTATS) bigger than this is skipped, not evaluated.
MAX_STATS_TEXT = 8 << 20
