"""Free space on a host's filesystems: the probe command and its reading (pure)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

__all__ = ["FULL_BYTES", "free_space_command", "parse_free_space"]

# Below this much free space a filesystem is full for any practical write (df's "available"
# already leaves out the blocks reserved for root).
FULL_BYTES = 1024 * 1024


def free_space_command(paths: Sequence[str]) -> str:
    """For each path: ``<free KiB> <nearest existing directory>`` on one line (pure)."""
    quoted = " ".join(shlex.quote(p) for p in paths)
    return (
        f'for p in {quoted}; do d=$p; while [ ! -d "$d" ]; do d=$(dirname "$d"); done; '
        'echo "$(df -Pk "$d" | awk \'NR==2{print $4}\') $d"; done'
    )


def parse_free_space(stdout: str) -> list[tuple[int, str] | None]:
    """(free bytes, directory) per line of :func:`free_space_command`; None where df said nothing."""
    found: list[tuple[int, str] | None] = []
    for line in stdout.splitlines():
        kib, _, folder = line.partition(" ")
        found.append((int(kib) * 1024, folder) if kib.isdigit() else None)
    return found
