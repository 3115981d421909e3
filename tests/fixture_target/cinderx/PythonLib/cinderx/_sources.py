"""What the fixture build reads from its "C++" sources; shared by the build backend and the tests."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

SOURCE_DIRS = ("cinderx/Jit", "cinderx/StaticPython")
_FEATURE = re.compile(r"^\s*//\s*FIXTURE-FEATURE\s+(\w+)=(\S+)\s*$")


def source_files(root: str | Path) -> list[str]:
    """Paths (relative, with /) of every file under the source dirs, sorted."""
    base = Path(root)
    found = []
    for top in SOURCE_DIRS:
        for path in (base / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                found.append(path.relative_to(base).as_posix())
    return sorted(found)


def sources_sha256(root: str | Path) -> str:
    """One hash over the names and bytes of the sources: which tree a wheel was built from."""
    digest = hashlib.sha256()
    for rel in source_files(root):
        data = (Path(root) / rel).read_bytes()
        digest.update(rel.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return digest.hexdigest()


def _lines(root: str | Path, rel: str) -> list[str]:
    return (Path(root) / rel).read_text(encoding="utf-8", errors="replace").splitlines()


def features(root: str | Path) -> dict[str, str]:
    """``// FIXTURE-FEATURE name=value`` lines of the sources (the last one wins)."""
    found: dict[str, str] = {}
    for rel in source_files(root):
        for line in _lines(root, rel):
            match = _FEATURE.match(line)
            if match:
                found[match.group(1)] = match.group(2)
    return found


def compile_errors(root: str | Path) -> list[str]:
    """``path:line: error: ...`` for every ``#error`` line, like a compiler would report it."""
    errors = []
    for rel in source_files(root):
        for number, line in enumerate(_lines(root, rel), 1):
            if line.lstrip().startswith("#error"):
                errors.append(f"{rel}:{number}: error: {line.strip()}")
    return errors
