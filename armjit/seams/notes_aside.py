"""armjit's own notes set aside around an upstream sync, and put back byte for byte.

A CinderX checkout may track ``findings.md`` (the seed team's does). armjit writes its blocks
into that file, which makes the tree dirty, and the next upstream sync would refuse to run. The
notes are armjit's own, so the sync sets them aside instead: their bytes are copied under the
git directory first (a crash in the middle of the sync leaves them there, never nowhere), the
files go back to HEAD's version, the sync runs, and the saved bytes come back. When upstream
changed the same file meanwhile, the two are merged with ``git merge-file``; if they conflict,
armjit's bytes win in the working tree and upstream's version stays in the commit.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from armjit.errors import UsageError
from armjit.seams.gitops import NOTES_FILES, git, git_bytes
from armjit.seams.store import atomic_write_bytes

__all__ = ["OWN_UNTRACKED", "Aside", "is_set_aside", "set_aside"]

# Files armjit writes at the notes root: untracked ones never block a sync (they are in no commit).
OWN_UNTRACKED = NOTES_FILES | {".armjit-state.json"}
_ASIDE_DIR = "armjit/notes-aside"


@dataclass(frozen=True)
class Aside:
    """One tracked notes file taken out of the way: its bytes and HEAD's blob at that moment."""

    path: str
    data: bytes
    base_blob: str


def is_set_aside(code: str, path: str) -> bool:
    """Whether ``git status`` entry (``code``, ``path``) is a notes file the sync may set aside:
    a tracked file at the repo root that is only modified (not added, deleted or in conflict)."""
    return path in NOTES_FILES and set(code) <= {"M", " "} and "M" in code


def _aside_dir(repo: Path) -> Path:
    git_dir = git(repo, "rev-parse", "--absolute-git-dir").stdout.strip()
    return Path(git_dir) / _ASIDE_DIR


def _blob(repo: Path, path: str) -> str | None:
    found = git(repo, "rev-parse", "--verify", "--quiet", f"HEAD:{path}", check=False)
    return found.stdout.strip() if found.ok else None


@contextlib.contextmanager
def set_aside(repo: Path, paths: list[str], report: Callable[[str], None]) -> Iterator[list[Aside]]:
    """Set ``paths`` (tracked, modified notes files) aside for the body, then put them back.

    A copy left by an earlier sync that never finished is refused before anything moves: it may
    hold the only copy of those notes.
    """
    keep = _aside_dir(repo)
    leftover = sorted(p.name for p in keep.glob("*")) if keep.is_dir() else []
    if leftover:
        raise UsageError(
            f"an earlier upstream sync left armjit's notes in {keep} ({', '.join(leftover)}): "
            "copy what you need back into the checkout, then delete that directory"
        )
    saved: list[Aside] = []
    for path in paths:
        blob = _blob(repo, path)
        if blob is None:
            continue
        data = (repo / path).read_bytes()
        atomic_write_bytes(keep / path, data)
        saved.append(Aside(path, data, blob))
    if saved:
        try:
            git(repo, "checkout", "--quiet", "HEAD", "--", *(a.path for a in saved))
        except BaseException:
            for aside in saved:  # nothing moved: the notes are still in the tree, the copies go
                atomic_write_bytes(repo / aside.path, aside.data)
                (keep / aside.path).unlink()
            raise
    try:
        yield saved
    finally:
        for aside in saved:
            report(_put_back(repo, aside))
            (keep / aside.path).unlink()
        with contextlib.suppress(OSError):
            keep.rmdir()
            keep.parent.rmdir()


def _put_back(repo: Path, aside: Aside) -> str:
    """Write ``aside`` back over whatever HEAD now has; say what was done."""
    target = repo / aside.path
    now = _blob(repo, aside.path)
    if now == aside.base_blob:
        atomic_write_bytes(target, aside.data)
        return f"{aside.path}: armjit's notes set aside for the sync and put back"
    if now is None:
        atomic_write_bytes(target, aside.data)
        return f"{aside.path}: upstream removed it; armjit's copy was put back as an untracked file"
    base = git_bytes(repo, "cat-file", "blob", aside.base_blob)
    theirs = git_bytes(repo, "cat-file", "blob", now)
    with tempfile.TemporaryDirectory(prefix="armjit-merge-") as tmp:
        files = []
        for name, data in (("ours", aside.data), ("base", base), ("theirs", theirs)):
            file = Path(tmp) / name
            file.write_bytes(data)
            files.append(str(file))
        # Without -p, merge-file writes the result into the first file: bytes, whatever the encoding.
        merged = git(repo, "merge-file", "--quiet", *files, check=False)
        result = Path(files[0]).read_bytes()
    if merged.exit_code == 0:
        atomic_write_bytes(target, result)
        return f"{aside.path}: upstream changed it too; armjit's notes were merged into the new version"
    atomic_write_bytes(target, aside.data)
    return (
        f"{aside.path}: upstream changed the same lines; armjit's copy was kept in the working tree "
        "(upstream's version is in HEAD: git diff shows the difference)"
    )
