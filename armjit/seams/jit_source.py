"""The C++ sources of a CinderX JIT, from a checkout or an sdist tarball, as ``(path, text)`` pairs.

Only the JIT's own directories are read (``cinderx/Jit`` and ``cinderx/Common``, where the log
macros live); what the formats are is decided by armjit.jitlog.formats, a pure function of the text.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from armjit.jitlog.formats import FormatTable, formats_from_sources, is_source_file

__all__ = ["JIT_DIRS", "has_jit_sources", "sdist_sources", "tree_formats", "tree_sources"]

JIT_DIRS = ("cinderx/Jit", "cinderx/Common")


def has_jit_sources(root: Path) -> bool:
    return (root / JIT_DIRS[0]).is_dir()


def tree_sources(root: Path) -> list[tuple[str, str]]:
    """Every C/C++ source under the JIT's directories of a checkout, path relative to ``root``."""
    out: list[tuple[str, str]] = []
    for sub in JIT_DIRS:
        base = root / sub
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and is_source_file(path.name):
                out.append((path.relative_to(root).as_posix(), path.read_text(encoding="utf-8", errors="replace")))
    return out


def tree_formats(root: Path, label: str) -> FormatTable:
    """The formats of the tree at ``root``, read now (a few hundred files: well under a second)."""
    return FormatTable(label, tuple(formats_from_sources(tree_sources(root))))


def sdist_sources(tarball: Path) -> list[tuple[str, str]]:
    """The same files read from an sdist (``cinderx-V/cinderx/Jit/...``) without unpacking it."""
    out: list[tuple[str, str]] = []
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/", 1)
            rel = parts[1] if len(parts) == 2 else member.name
            if member.isfile() and rel.startswith(JIT_DIRS) and is_source_file(rel):
                handle = tar.extractfile(member)
                if handle is not None:
                    out.append((rel, handle.read().decode("utf-8", errors="replace")))
    return sorted(out)
