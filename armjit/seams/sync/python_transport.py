"""The python transport, for machines without rsync (Windows): a manifest of (kind, size,
sha256) per file stays on the host from the last sync; only changed files travel, in one tar
file put over SFTP, and removed files are deleted, all through ``Host.run``/``Host.put``."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from armjit.errors import ArmjitError
from armjit.seams import workdir
from armjit.seams.hosts import Host
from armjit.seams.sync.marker import MARKER_NAME
from armjit.seams.sync.plan import (
    LISTING_FORMAT,
    MANIFEST_NAME,
    SYNC_DIR,
    TAR_NAME,
    WRITTEN_NAME,
    FileEntry,
    SyncPlan,
    local_manifest,
    parse_hashes,
    parse_listing,
    parse_written,
    plan_sync,
    prune_expr,
)
from armjit.seams.sync.source import Source

__all__ = ["sync_python"]

_LISTING_SEP = "\0--armjit-listing--\0"
_WRITTEN_SEP = "\0--armjit-written--\0"
_SMALL_UPDATE = 8_000_000


def sync_python(
    host: Host,
    source: Source,
    dest: str,
    keep: Sequence[str],
    compress: bool,
    ident: str,
    fence: Callable[[], None] = lambda: None,
) -> tuple[int, int, int]:
    local = local_manifest(source.root, source.files, source.cache)
    qdest = shlex.quote(dest)
    prune = prune_expr(keep)
    probe = host.run(
        f"{workdir.claim_shell(dest, ident)} && cd {qdest} && rm -f {MARKER_NAME} && "
        f"{{ cat {WRITTEN_NAME} 2>/dev/null; true; }} && printf {_printable(_WRITTEN_SEP)} && "
        f"if [ -f {MANIFEST_NAME} ]; then printf 'manifest\\0'; cat {MANIFEST_NAME}; "
        f"else printf 'hashes\\0'; find . {prune} -o -type f -print0 | xargs -0 -r sha256sum -z; fi; "
        f"printf {_printable(_LISTING_SEP)}; "
        f"find . {prune} -o \\( -type f -o -type l \\) -printf '{LISTING_FORMAT}'",
        timeout=600,
    )
    workdir.raise_if_refused(host, dest, probe.exit_code, probe.stdout)
    if not probe.ok or _LISTING_SEP not in probe.stdout or _WRITTEN_SEP not in probe.stdout:
        raise ArmjitError(f"cannot list {host.name}:{dest}: {probe.tail(2) or f'exit {probe.exit_code}'}")
    written_text, _, rest = probe.stdout.partition(_WRITTEN_SEP)
    head, listing = rest.split(_LISTING_SEP, 1)
    kind, _, body = head.partition("\0")
    known: dict[str, str] = {}
    have_manifest = False
    if kind == "manifest":
        with contextlib.suppress(ValueError, TypeError, KeyError):
            known = {p: str(v[2]) for p, v in json.loads(body)["files"].items()}
            have_manifest = True
    else:
        known = parse_hashes(body)
    remote = parse_listing(listing)
    written = parse_written(written_text)
    plan = plan_sync(local, remote, known, written=written, keep=keep)
    if plan.empty and have_manifest and set(known) == set(local):
        return 0, 0, 0
    # Small updates are mostly the manifest (hex digests): gzip halves them for next to no time.
    compress = compress or sum(local[p].size for p in plan.send) < _SMALL_UPDATE
    tar_path = _write_tar(source.root, plan, local, compress, written | set(local))
    try:
        size = tar_path.stat().st_size
        host.put(tar_path, f"{dest.rstrip('/')}/{TAR_NAME}")
    finally:
        tar_path.unlink(missing_ok=True)
    z = "z" if compress else ""
    meta = f"{SYNC_DIR}/delete {SYNC_DIR}/rmdirs {SYNC_DIR}/written"
    fence()  # the lease is still this run's: only then delete
    applied = host.run(
        f"cd {qdest} && rm -f {MANIFEST_NAME} && rm -rf {SYNC_DIR} && "
        f"tar -x{z}f {TAR_NAME} --no-same-owner {meta} && mv -f {SYNC_DIR}/written {WRITTEN_NAME} && "
        f"xargs -0 -r rm -f -- < {SYNC_DIR}/delete && "
        f"{{ xargs -0 -r rmdir -- < {SYNC_DIR}/rmdirs 2>/dev/null; true; }} && "
        f"tar -x{z}f {TAR_NAME} --no-same-owner && "
        f"mv -f {SYNC_DIR}/manifest.json {MANIFEST_NAME} && rm -rf {SYNC_DIR} {TAR_NAME}",
        timeout=1800,
    )
    if not applied.ok:
        raise ArmjitError(f"unpacking the update on {host.name}:{dest} failed: {applied.tail(1)}")
    return len(plan.send), len(plan.delete), size


def _printable(separator: str) -> str:
    """A separator with NULs as printf's ``\\0``, quoted for the shell."""
    return shlex.quote(separator.replace("\0", "\\0"))


def _write_tar(
    root: Path, plan: SyncPlan, local: Mapping[str, FileEntry], compress: bool, written: set[str] | frozenset[str]
) -> Path:
    fd, name = tempfile.mkstemp(prefix="armjit-sync-", suffix=".tar")
    os.close(fd)
    path = Path(name)
    options: dict[str, Any] = {"compresslevel": 1} if compress else {}
    with tarfile.open(path, "w:gz" if compress else "w", format=tarfile.PAX_FORMAT, **options) as tar:
        # The lists come first so the host can delete before it unpacks (a file may become a dir).
        _add_bytes(tar, f"{SYNC_DIR}/delete", b"".join(os.fsencode(p) + b"\0" for p in plan.delete))
        _add_bytes(tar, f"{SYNC_DIR}/rmdirs", b"".join(os.fsencode(p) + b"\0" for p in plan.rmdirs))
        # What armjit has written once this update is in, old and new: a transfer cut half-way
        # still leaves every file it wrote deletable by the next deploy.
        _add_bytes(tar, f"{SYNC_DIR}/written", b"".join(os.fsencode(p) + b"\0" for p in sorted(written)))
        for rel in plan.send:
            entry, file_path = local[rel], root / rel
            info = tarfile.TarInfo(rel)
            info.mtime = int(file_path.lstat().st_mtime)
            info.uname = info.gname = ""
            if entry.kind == "l":
                info.type = tarfile.SYMTYPE
                link = str(file_path.readlink()) if file_path.is_symlink() else file_path.read_text("utf-8")
                info.linkname = link
                tar.addfile(info)
                continue
            info.size = file_path.stat().st_size
            info.mode = 0o755 if entry.kind == "x" else 0o644
            with file_path.open("rb") as handle:
                tar.addfile(info, handle)
        manifest = {"version": 1, "files": {p: [e.kind, e.size, e.sha256] for p, e in sorted(local.items())}}
        # Last: the manifest only lands once everything before it was unpacked.
        _add_bytes(tar, f"{SYNC_DIR}/manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
    return path


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    tar.addfile(info, io.BytesIO(data))
