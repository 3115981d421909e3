"""Ship the work tree to a host, sending only what changed, and mark what was deployed.

Two transports behind :func:`sync_tree`:

- ``rsync`` (:mod:`.rsync_transport`), through the Host's own transport (``Host.rsync_push``:
  OpenSSH with armjit's known_hosts and strict checking for an SSH host, none for this machine);
- ``python`` (:mod:`.python_transport`): for machines without rsync (Windows), a manifest and a
  tar of the changed files through ``Host.run``/``Host.put``.

What is shipped comes from :mod:`.source` (a branch's staged commit, or the working tree).
Remote ``scratch/``, ``dist/``, ``build/`` and ``venv/`` (the pyperformance venv of the remote
flow) are never deleted. A deploy deletes only files that armjit wrote at an earlier deploy to that
dir (``.armjit-written``) and that the source no longer has: a file someone else put there stays.
After a successful sync ``<dest>/.armjit-deploy.json`` records what was shipped (:mod:`.marker`);
it is removed first, so a sync that fails half-way leaves no marker
claiming the old tree.

Nothing is deleted in a directory armjit does not own (:mod:`armjit.seams.workdir`): the first
command of either transport refuses a non-empty unowned ``dest`` before it touches anything,
and ``adopt=True`` takes such a directory over, moving what it holds into a sibling
``<dest>.armjit-adopted-<time>/`` (nothing is deleted).
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from armjit.errors import ArmjitError, UsageError
from armjit.seams import gitops, workdir
from armjit.seams.gitops import SourceState
from armjit.seams.hosts import Host
from armjit.seams.sync.marker import MARKER_NAME, DeployMarker, check_marker, read_marker, verify_deploy, write_marker
from armjit.seams.sync.plan import (
    KEEP_DIRS,
    LISTING_FORMAT,
    MANIFEST_NAME,
    SYNC_DIR,
    WRITTEN_NAME,
    FileEntry,
    RemoteFile,
    SyncPlan,
    local_manifest,
    parse_listing,
    parse_written,
    plan_sync,
    prune_expr,
)
from armjit.seams.sync.python_transport import sync_python
from armjit.seams.sync.rsync_transport import parse_rsync_stats, rsync_options, rsync_version, sync_rsync
from armjit.seams.sync.source import Source, source_for, stage_tree

__all__ = [
    "KEEP_DIRS",
    "MANIFEST_NAME",
    "MARKER_NAME",
    "METHODS",
    "WRITTEN_NAME",
    "DeployMarker",
    "FileEntry",
    "RemoteFile",
    "SyncPlan",
    "SyncResult",
    "check_marker",
    "local_manifest",
    "parse_listing",
    "parse_rsync_stats",
    "plan_sync",
    "read_marker",
    "rsync_options",
    "stage_tree",
    "sync_tree",
    "verify_deploy",
]

METHODS = ("auto", "rsync", "python")


@dataclass(frozen=True)
class SyncResult:
    method: str
    dest: str
    source: SourceState
    files_total: int
    files_sent: int
    files_deleted: int
    bytes_sent: int
    seconds: float
    marker: DeployMarker

    def __str__(self) -> str:
        return (
            f"{self.source.label()} -> {self.dest} by {self.method}: {self.files_sent} of {self.files_total} "
            f"files sent ({_human(self.bytes_sent)}), {self.files_deleted} deleted, {self.seconds:.2f}s"
        )


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover


def sync_tree(
    host: Host,
    repo: Path,
    dest: str,
    *,
    ref: str | None = None,
    worktree: bool = False,
    method: str = "auto",
    keep: Sequence[str] = KEEP_DIRS,
    compress: bool = False,
    adopt: bool = False,
    report: Callable[[str], None] | None = None,
    fence: Callable[[], None] | None = None,
) -> SyncResult:
    """Make ``dest`` on ``host`` hold ``ref``'s committed tree (default HEAD) or, with
    ``worktree``, the working tree with uncommitted and untracked-unignored files.

    ``method``: ``rsync`` (needs rsync here and on the host), ``python`` (needs only ssh, tar
    and GNU find on the host), ``auto`` = rsync when both sides have it.

    A non-empty ``dest`` that armjit does not own is refused (UsageError) before anything there
    changes; with ``adopt`` it is taken over instead: what it held moves aside (``report`` is
    told where, with counts). ``fence`` (the run's lease check) runs before anything is moved or
    deleted: it raises when another run took the work dir.
    """
    if method not in METHODS:
        raise UsageError(f"sync method {method!r}: use one of {', '.join(METHODS)}")
    if not dest.strip():
        raise UsageError("the remote work dir is empty")
    started = time.monotonic()
    repo = gitops.check_repo(repo)
    state = gitops.source_state(repo, ref, worktree=worktree)
    # Judged by what it is on the host (symlinks, other users' homes), before anything is written.
    (dest,) = workdir.resolve_guarded(host, [(dest, "the work dir", 2)])
    source = source_for(repo, state.commit if not worktree else None, worktree=worktree)
    check = fence or (lambda: None)
    if adopt:
        check()
        adopted = workdir.adopt(host, dest)
        for line in adopted.lines(host.name) if adopted else []:
            (report or (lambda _line: None))(line)
    ident = workdir.owner_id(host, dest)
    chosen, version = _choose(host, dest, method, ident)
    if chosen == "rsync":
        deleted = delete_written(host, dest, source, keep, check)
        sent, _, size = sync_rsync(host, source, dest, keep, compress, version)
    else:
        sent, deleted, size = sync_python(host, source, dest, keep, compress, ident, check)
    write_written(host, dest, source.files)
    marker = DeployMarker(
        commit=state.commit,
        branch=state.branch,
        worktree=state.worktree,
        dirty_hash=state.dirty_hash,
        time=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        method=chosen,
        files=len(source.files),
    )
    write_marker(host, dest, marker)
    return SyncResult(
        method=chosen,
        dest=dest,
        source=state,
        files_total=len(source.files),
        files_sent=sent,
        files_deleted=deleted,
        bytes_sent=size,
        seconds=time.monotonic() - started,
        marker=marker,
    )


def _choose(host: Host, dest: str, method: str, ident: str) -> tuple[str, tuple[int, ...]]:
    """Pick the transport; for rsync also prepare ``dest`` (create it, drop the old marker and
    the python manifest, which an rsync sync would make stale) in the same round trip."""
    local_rsync = host.rsync_capable
    if method == "python" or (method == "auto" and not local_rsync):
        return "python", ()
    if method == "rsync" and not local_rsync:
        raise UsageError("rsync is not installed on this machine: use --sync-method python")
    qdest = shlex.quote(dest)
    probe = host.run(
        f"{workdir.claim_shell(dest, ident)} && cd {qdest} && rm -f {MARKER_NAME} {MANIFEST_NAME} && "
        "if command -v rsync >/dev/null 2>&1; then rsync --version | head -n 1; else echo no-rsync; fi",
        timeout=120,
    )
    workdir.raise_if_refused(host, dest, probe.exit_code, probe.stdout)
    if not probe.ok:
        raise ArmjitError(f"cannot prepare {host.name}:{dest}: {probe.tail(1) or f'exit {probe.exit_code}'}")
    version = rsync_version(probe.stdout)
    if version is None:
        if method == "rsync":
            raise UsageError(f"rsync is not installed on {host.name}: install it or use --sync-method python")
        return "python", ()
    return "rsync", version


_SEP = "\0--armjit-listing--\0"


def delete_written(
    host: Host, dest: str, source: Source, keep: Sequence[str], fence: Callable[[], None] = lambda: None
) -> int:
    """Before an rsync transfer (which itself deletes nothing): delete the files armjit wrote at an
    earlier deploy (``.armjit-written``) that the source no longer has, and then the directories
    that held them if they are empty; record the old and the new files as written first, so a
    transfer cut half-way leaves nothing armjit wrote undeletable. Returns the files deleted."""
    qdest = shlex.quote(dest)
    listing = host.run(
        f"cd {qdest} && {{ cat {WRITTEN_NAME} 2>/dev/null; true; }} && "
        f"printf {shlex.quote(_SEP.replace(chr(0), chr(92) + '0'))} && "
        f"find . {prune_expr(keep)} -o \\( -type f -o -type l \\) -printf '{LISTING_FORMAT}' && "
        f"mkdir -p {SYNC_DIR}",
        timeout=600,
    )
    if not listing.ok or _SEP not in listing.stdout:
        raise ArmjitError(f"cannot list {host.name}:{dest}: {listing.tail(1) or f'exit {listing.exit_code}'}")
    written_text, _, found = listing.stdout.partition(_SEP)
    written = parse_written(written_text)
    plan = plan_sync({}, parse_listing(found), {}, written=written, keep=keep)
    delete = [p for p in plan.delete if p not in source.files]
    needed = {parent for p in source.files for parent in _parents(p)}
    rmdirs = [d for d in plan.rmdirs if d not in needed]
    lists = {
        WRITTEN_NAME + ".tmp": sorted(written | set(source.files)),
        f"{SYNC_DIR}/delete": delete,
        f"{SYNC_DIR}/rmdirs": rmdirs,
    }
    with tempfile.TemporaryDirectory(prefix="armjit-delete-") as folder:
        for name, paths in lists.items():
            local = Path(folder) / name.replace("/", "_")
            local.write_bytes(b"".join(os.fsencode(p) + b"\0" for p in paths))
            host.put(local, f"{dest.rstrip('/')}/{name}")
    fence()
    applied = host.run(
        f"cd {qdest} && mv -f {WRITTEN_NAME}.tmp {WRITTEN_NAME} && "
        f"xargs -0 -r rm -f -- < {SYNC_DIR}/delete && "
        f"{{ xargs -0 -r rmdir -- < {SYNC_DIR}/rmdirs 2>/dev/null; true; }} && rm -rf {SYNC_DIR}",
        timeout=600,
    )
    if not applied.ok:
        raise ArmjitError(f"deleting what the source dropped on {host.name}:{dest} failed: {applied.tail(1)}")
    return len(delete)


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def write_written(host: Host, dest: str, files: Collection[str]) -> None:
    """After a transfer: exactly the files this deploy wrote, the ones the next may delete."""
    with tempfile.TemporaryDirectory(prefix="armjit-written-") as folder:
        local = Path(folder) / "written"
        local.write_bytes(b"".join(os.fsencode(p) + b"\0" for p in sorted(files)))
        host.put(local, f"{dest.rstrip('/')}/{WRITTEN_NAME}.tmp")
    qdest = shlex.quote(dest)
    done = host.run(f"cd {qdest} && mv -f {WRITTEN_NAME}.tmp {WRITTEN_NAME}", timeout=60)
    if not done.ok:
        raise ArmjitError(f"cannot record what the deploy wrote on {host.name}:{dest}: {done.tail(1)}")
