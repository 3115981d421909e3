"""What the python transport sends and deletes, from plain data: a manifest of (kind, size,
sha256) per local file, a listing of the host's files, and the hashes the host is known to hold.

Pure apart from hashing local files, so every case is testable without a host.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import stat
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armjit.seams import workdir
from armjit.seams.sync.marker import MARKER_NAME

__all__ = [
    "KEEP_DIRS",
    "LISTING_FORMAT",
    "MANIFEST_NAME",
    "SYNC_DIR",
    "TAR_NAME",
    "WRITTEN_NAME",
    "FileEntry",
    "RemoteFile",
    "SyncPlan",
    "local_manifest",
    "parse_hashes",
    "parse_listing",
    "parse_written",
    "plan_sync",
    "prune_expr",
]

KEEP_DIRS = ("scratch", "dist", "build", "venv")  # never deleted on the host: builds and venvs live there
MANIFEST_NAME = ".armjit-manifest.json"
# What armjit wrote into the work dir (NUL-separated paths): the only files a later deploy may
# delete. Before a transfer it holds the old and the new files, after it exactly the new ones.
WRITTEN_NAME = ".armjit-written"
SYNC_DIR = ".armjit-sync"
TAR_NAME = ".armjit-sync.tar"
_RESERVED = frozenset(
    {
        MARKER_NAME,
        MANIFEST_NAME,
        WRITTEN_NAME,
        f"{WRITTEN_NAME}.tmp",
        workdir.OWNER_NAME,
        SYNC_DIR,
        TAR_NAME,
        f"{MARKER_NAME}.tmp",
    }
)


@dataclass(frozen=True)
class FileEntry:
    """One shipped file: kind ``f`` (regular), ``x`` (executable) or ``l`` (symlink)."""

    kind: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RemoteFile:
    kind: str
    size: int
    link: str = ""  # a symlink's target (symlinks are checked by target, never by the manifest)


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def local_manifest(root: Path, files: Mapping[str, str], cache_path: Path | None = None) -> dict[str, FileEntry]:
    """(kind, size, sha256) of each file, reusing cached hashes of files whose (size, mtime,
    ctime, inode) did not change. Like git's racy-clean rule, an entry is only trusted if the
    file was last changed clearly before the hashing that produced it."""
    started = time.time_ns()
    cache: dict[str, list[Any]] = {}
    cache_time = 0
    if cache_path is not None:
        with contextlib.suppress(OSError, ValueError, TypeError):
            loaded = json.loads(cache_path.read_text(encoding="utf-8"))
            cache, cache_time = dict(loaded["entries"]), int(loaded["time_ns"])
    manifest: dict[str, FileEntry] = {}
    fresh: dict[str, list[Any]] = {}
    for rel, git_mode in files.items():
        path = root / rel
        try:
            st = path.lstat()
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            target = os.fsencode(str(path.readlink()))
            manifest[rel] = FileEntry("l", len(target), hashlib.sha256(target).hexdigest())
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        if git_mode == "120000":  # a symlink checked out as a file (core.symlinks=false on Windows)
            target = path.read_bytes()
            manifest[rel] = FileEntry("l", len(target), hashlib.sha256(target).hexdigest())
            continue
        executable = git_mode == "100755" if os.name == "nt" else bool(st.st_mode & stat.S_IXUSR)
        key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        cached = cache.get(rel)
        changed_ns = max(st.st_mtime_ns, st.st_ctime_ns)
        # Whole-second timestamps (FAT, some network filesystems) need a wider margin.
        margin = 2_000_000_000 if st.st_mtime_ns % 1_000_000_000 == 0 else 50_000_000
        if cached is not None and cached[:4] == key and changed_ns + margin < cache_time:
            digest = str(cached[4])
        else:
            digest = _file_hash(path)
        fresh[rel] = [*key, digest]
        manifest[rel] = FileEntry("x" if executable else "f", st.st_size, digest)
    if cache_path is not None:
        with contextlib.suppress(OSError):
            tmp = cache_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"time_ns": started, "entries": fresh}), encoding="utf-8")
            tmp.replace(cache_path)
    return manifest


LISTING_FORMAT = "%y %m %s %P\\0%l\\0"


def parse_listing(text: str) -> dict[str, RemoteFile]:
    """``find -printf '%y %m %s %P\\0%l\\0'`` -> {path: RemoteFile}; armjit's own files left out."""
    found: dict[str, RemoteFile] = {}
    fields = text.split("\0")
    for record, link in zip(fields[0::2], fields[1::2], strict=False):
        parts = record.split(" ", 3)
        if len(parts) != 4 or parts[3] in _RESERVED or parts[3].startswith(f"{SYNC_DIR}/"):
            continue
        kind_char, perms, size, path = parts
        executable = int(perms, 8) & stat.S_IXUSR
        kind = "l" if kind_char == "l" else ("x" if executable else "f")
        found[path] = RemoteFile(kind, int(size), link if kind == "l" else "")
    return found


def parse_written(text: str) -> frozenset[str]:
    """The ``.armjit-written`` list (NUL-separated relative paths) -> the paths armjit wrote."""
    return frozenset(p for p in text.split("\0") if p and not p.startswith("/") and ".." not in p.split("/"))


def parse_hashes(text: str) -> dict[str, str]:
    """``sha256sum -z`` output -> {path: sha256}."""
    hashes: dict[str, str] = {}
    for record in text.split("\0"):
        digest, sep, path = record.partition("  ")
        if sep and len(digest) == 64:
            hashes[path.removeprefix("./")] = digest
    return hashes


@dataclass(frozen=True)
class SyncPlan:
    send: tuple[str, ...]
    delete: tuple[str, ...]
    rmdirs: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.send or self.delete)


def _under(path: str, dirs: Sequence[str]) -> bool:
    return any(path == d or path.startswith(d + "/") for d in dirs)


def plan_sync(
    local: Mapping[str, FileEntry],
    remote: Mapping[str, RemoteFile],
    known: Mapping[str, str],
    *,
    written: frozenset[str] | set[str] = frozenset(),
    keep: Sequence[str] = KEEP_DIRS,
) -> SyncPlan:
    """What to send and delete so the host matches ``local``. ``remote`` is what is on the host
    now (keep dirs not listed), ``known`` the sha256 per path the host is known to hold,
    ``written`` what armjit wrote there at earlier deploys: only those paths are ever deleted
    (a file someone else put into the work dir stays)."""
    send = []
    for path, entry in sorted(local.items()):
        there = remote.get(path)
        if there is None and _under(path, keep) and known.get(path) == entry.sha256:
            continue  # keep dirs are not listed (they can be huge); trust the manifest there
        if there is None or _differs(there, entry, known.get(path)):
            send.append(path)
    delete = sorted(p for p in remote if p not in local and p in written and not _under(p, keep))
    needed = {str(Path(p).parent.as_posix()) for p in local}
    needed = {parent for p in needed for parent in _parents(p)} | needed
    candidates = {parent for p in delete for parent in _parents(str(Path(p).parent.as_posix()))}
    rmdirs = sorted((d for d in candidates if d not in needed and d != "."), key=lambda d: (-d.count("/"), d))
    return SyncPlan(tuple(send), tuple(delete), tuple(rmdirs))


def _differs(there: RemoteFile, entry: FileEntry, known_sha: str | None) -> bool:
    if there.kind != entry.kind or there.size != entry.size:
        return True
    held = hashlib.sha256(os.fsencode(there.link)).hexdigest() if there.kind == "l" else known_sha
    return held != entry.sha256


def _parents(directory: str) -> list[str]:
    out = []
    while directory not in ("", "."):
        out.append(directory)
        directory = str(Path(directory).parent.as_posix())
    return out


def prune_expr(keep: Sequence[str]) -> str:
    paths = [*(f"./{k}" for k in keep), f"./{SYNC_DIR}", f"./{TAR_NAME}"]
    return "\\( " + " -o ".join(f"-path {shlex.quote(p)}" for p in paths) + " \\) -prune"
