"""The second pass: names of compile starts, read only when starts and finishes do not pair up.

The fast path only counts plain ``Compiling X`` lines. When a file's starts minus finishes minus
failures is not zero, the unfinished functions can only be named by reading the starts again.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable

from armjit.jitlog import limits
from armjit.jitlog.patterns import BATCH, START_NAMES
from armjit.jitlog.tallies import Tallies

__all__ = ["add_start_names", "needs_names", "start_names"]


def needs_names(st: Tallies) -> bool:
    return st.anon_starts > 0 and st.unexplained_starts != 0


def start_names(blocks: Iterable[bytes]) -> Counter[bytes]:
    """Every started name in the blocks of one file (a line may span two blocks)."""
    names: Counter[bytes] = Counter()
    carry = b""
    for block in blocks:
        data = carry + block if carry else block
        cut = data.rfind(b"\n") + 1
        names.update(START_NAMES.findall(data, 0, cut))
        carry = data[cut:] if len(data) - cut <= limits.MAX_LINE else b""
        _fold(names)
    names.update(START_NAMES.findall(carry))
    return names


def _fold(table: Counter[bytes]) -> None:
    """Fold names beyond MAX_NAMES into one bucket, so memory stays bounded."""
    if len(table) > limits.MAX_NAMES:
        for key in [k for k in itertools.islice(table, limits.MAX_NAMES, None) if k != limits.OVERFLOW]:
            table[limits.OVERFLOW] += table.pop(key)


def add_start_names(st: Tallies, names: Counter[bytes]) -> None:
    """Replace the counted-only starts with named ones (batch headers are not starts)."""
    starts: Counter[bytes] = Counter()
    for raw, n in names.items():
        if not BATCH.match(b"Compiling " + raw):
            starts[raw.rstrip()] += n
    st.starts = starts
    st.anon_starts = 0
