"""The tree a sync ships: a branch's committed state staged under the git dir, or the working
tree with uncommitted and untracked-unignored files.

The committed state of a branch is staged in a persistent per-repository directory under the
git dir, updated with ``read-tree -u`` through a private index: unchanged files keep their
mtimes, so rsync and the hash cache see only real changes.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from armjit.seams import gitops

__all__ = ["Source", "locked", "source_for", "stage_tree"]

_STAGE_GIT_CONFIG = (
    # Byte-exact blobs (no CRLF on Windows checkouts) and every file, whatever the repo's sparse setup.
    "-c",
    "core.autocrlf=false",
    "-c",
    "core.eol=lf",
    "-c",
    "core.sparseCheckout=false",
)


@dataclass(frozen=True)
class Source:
    root: Path
    files: Mapping[str, str]  # path -> git mode ("100644", "100755", "120000"; "" = untracked)
    cache: Path  # hash cache for the python transport
    worktree: bool
    hidden: tuple[str, ...]  # ignored paths below root that rsync must not send


def _git_dirs(repo: Path) -> tuple[Path, Path]:
    """(this checkout's git dir, armjit's directory in the common git dir, created)."""
    out = gitops.git(repo, "rev-parse", "--absolute-git-dir", "--git-common-dir").stdout.split("\n")
    common = Path(out[1])
    base = (common if common.is_absolute() else repo / common) / "armjit"
    base.mkdir(parents=True, exist_ok=True)
    return Path(out[0]), base


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise two armjit runs staging the same repository, on every OS (filelock uses
    ``fcntl`` on POSIX and ``msvcrt`` on Windows, where the engineers' laptops often are)."""
    with FileLock(str(path)):
        yield


def _index_modes(text: str) -> dict[str, str]:
    """``git ls-files -s -z`` -> {path: mode}; gitlinks (submodules) are left out."""
    modes: dict[str, str] = {}
    for record in text.split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode = meta.split(" ", 1)[0]
        if mode != "160000":
            modes[path] = mode
    return modes


def stage_tree(repo: Path, ref: str) -> tuple[Path, dict[str, str]]:
    """Make ``<git dir>/armjit/stage`` hold exactly ``ref``'s tree; returns it and its files.

    ``read-tree --reset -u`` through a private index rewrites only the files that differ from
    the previous staging, deletes the ones that are gone, and leaves the rest (and their
    mtimes) alone. Files someone changed in the stage are restored and strays are removed.
    """
    commit = gitops.head_commit(repo, ref)
    gitdir, base = _git_dirs(repo)
    stage, index = base / "stage", base / "stage.index"
    env = {"GIT_DIR": str(gitdir), "GIT_WORK_TREE": str(stage), "GIT_INDEX_FILE": str(index)}
    with locked(base / "stage.lock"):
        stage.mkdir(exist_ok=True)
        result = gitops.git(stage, *_STAGE_GIT_CONFIG, "read-tree", "--reset", "-u", commit, env=env, check=False)
        if not result.ok:  # a damaged private index: start the stage again
            shutil.rmtree(stage, ignore_errors=True)
            index.unlink(missing_ok=True)
            stage.mkdir()
            gitops.git(stage, *_STAGE_GIT_CONFIG, "read-tree", "--reset", "-u", commit, env=env)
        gitops.git(stage, "update-index", "-q", "--refresh", env=env, check=False)
        changed = gitops.git(stage, "diff-files", "--name-only", "-z", env=env).stdout
        paths = [p for p in changed.split("\0") if p]
        if paths:
            gitops.git(stage, *_STAGE_GIT_CONFIG, "checkout-index", "-f", "--", *paths, env=env)
        strays = gitops.git(stage, "ls-files", "-z", "--others", env=env).stdout
        for stray in (p for p in strays.split("\0") if p):
            (stage / stray).unlink(missing_ok=True)
        modes = _index_modes(gitops.git(stage, "ls-files", "-s", "-z", env=env).stdout)
    return stage, modes


def source_for(repo: Path, ref: str | None, *, worktree: bool) -> Source:
    base = _git_dirs(repo)[1]
    if not worktree:
        stage, modes = stage_tree(repo, ref or "HEAD")
        return Source(stage, modes, base / "hashes-stage.json", False, ())
    tracked = _index_modes(gitops.git(repo, "ls-files", "-s", "-z").stdout)
    files = {}
    for rel in gitops.worktree_files(repo):
        path = repo / rel
        # Deleted tracked files are not shipped; directories here are submodules or nested repos.
        if (path.is_symlink() or path.is_file()) and (rel in tracked or rel.rstrip("/") == rel):
            files[rel] = tracked.get(rel, "")
    ignored = gitops.git(repo, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory").stdout
    hidden = tuple(p for p in ignored.split("\0") if p)
    return Source(repo, files, base / "hashes-worktree.json", True, hidden)
