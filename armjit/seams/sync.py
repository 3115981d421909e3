"""Ship the work tree to a host, sending only what changed, and mark what was deployed.

Two transports behind :func:`sync_tree`:

- ``rsync`` over ssh (or a local rsync for ``LocalHost``): ``--delete`` propagates removals and
  ``--modify-window=-1`` compares mtimes to the nanosecond, because rsync's default whole-second
  quick check misses a same-size edit made within the same second (reference gotcha).
- ``python``: for machines without rsync (Windows). A manifest of (kind, size, sha256) per file
  stays on the host from the last sync; only changed files travel, in one tar file put over
  SFTP, and removed files are deleted, all through ``Host.run``/``Host.put``.

The committed state of a branch is staged in a persistent per-repository directory under the
git dir, updated with ``read-tree -u`` through a private index: unchanged files keep their
mtimes, so rsync and the hash cache see only real changes. Remote ``scratch/``, ``dist/``,
``build/`` and ``venv/`` (the pyperformance venv of the remote flow) are never deleted.
After a successful sync ``<dest>/.armjit-deploy.json`` records what was shipped; it is removed
first, so a sync that fails half-way leaves no marker claiming the old tree.

Nothing is deleted in a directory armjit does not own (:mod:`armjit.seams.workdir`): the first
command of either transport refuses a non-empty unowned ``dest`` before it touches anything,
and ``adopt=True`` takes such a directory over after listing what the sync will delete.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from armjit.errors import ArmjitError, UsageError
from armjit.seams import gitops, workdir
from armjit.seams.gitops import SourceState
from armjit.seams.hosts import Host, LocalHost, SshHost
from armjit.seams.safepaths import check_host_dir

__all__ = [
    "KEEP_DIRS",
    "MANIFEST_NAME",
    "MARKER_NAME",
    "METHODS",
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
    "rsync_argv",
    "ssh_command",
    "stage_tree",
    "sync_tree",
    "verify_deploy",
]

METHODS = ("auto", "rsync", "python")
KEEP_DIRS = ("scratch", "dist", "build", "venv")
MARKER_NAME = ".armjit-deploy.json"
MANIFEST_NAME = ".armjit-manifest.json"
_SYNC_DIR = ".armjit-sync"
_TAR_NAME = ".armjit-sync.tar"
_RESERVED = frozenset({MARKER_NAME, MANIFEST_NAME, workdir.OWNER_NAME, _SYNC_DIR, _TAR_NAME, f"{MARKER_NAME}.tmp"})
_LISTING_SEP = "\0--armjit-listing--\0"
_SMALL_UPDATE = 8_000_000
_MIN_RSYNC_NS = (3, 1, 3)  # receivers older than this do not understand --modify-window=-1
_STAGE_GIT_CONFIG = (
    # Byte-exact blobs (no CRLF on Windows checkouts) and every file, whatever the repo's sparse setup.
    "-c",
    "core.autocrlf=false",
    "-c",
    "core.eol=lf",
    "-c",
    "core.sparseCheckout=false",
)


# -- results and markers -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployMarker:
    """What ``<dest>/.armjit-deploy.json`` says was deployed."""

    commit: str
    branch: str | None
    worktree: bool
    dirty_hash: str | None
    time: str
    method: str
    files: int

    @property
    def state(self) -> SourceState:
        return SourceState(self.commit, self.branch, self.worktree, self.dirty_hash)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def read_marker(host: Host, dest: str) -> dict[str, Any] | None:
    """The deploy marker's data, None when there is none."""
    path = f"{dest.rstrip('/')}/{MARKER_NAME}"
    result = host.run(f"if [ -f {shlex.quote(path)} ]; then cat {shlex.quote(path)}; else exit 3; fi", timeout=60)
    if result.exit_code == 3:
        return None
    if not result.ok:
        raise ArmjitError(f"cannot read {host.name}:{path}: {result.tail(1) or f'exit {result.exit_code}'}")
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise ArmjitError(f"deploy marker {host.name}:{path} is not JSON ({exc}): sync again") from None
    if not isinstance(data, dict):
        raise ArmjitError(f"deploy marker {host.name}:{path} is not a JSON object: sync again")
    return data


def _parse_marker(data: Mapping[str, Any], where: str) -> DeployMarker:
    try:
        return DeployMarker(
            commit=str(data["commit"]),
            branch=None if data.get("branch") is None else str(data["branch"]),
            worktree=bool(data["worktree"]),
            dirty_hash=None if data.get("dirty_hash") is None else str(data["dirty_hash"]),
            time=str(data.get("time", "")),
            method=str(data.get("method", "")),
            files=int(data.get("files", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArmjitError(f"deploy marker at {where} lacks {exc}: sync again") from None


def check_marker(marker: Mapping[str, Any] | None, expected: SourceState, *, where: str) -> DeployMarker:
    """The marker if it names ``expected`` (commit, mode and uncommitted-changes hash), else a
    one-line error: what runs on the host must be what was meant to be deployed."""
    if marker is None:
        raise ArmjitError(f"no deploy marker at {where}: the tree there was not deployed by armjit or a sync failed")
    found = _parse_marker(marker, where)
    same = (found.commit, found.worktree, found.dirty_hash) == (expected.commit, expected.worktree, expected.dirty_hash)
    if not same:
        raise ArmjitError(f"{where} holds {found.state.label()}, expected {expected.label()}: sync again")
    return found


def verify_deploy(host: Host, dest: str, expected: SourceState) -> DeployMarker:
    return check_marker(read_marker(host, dest), expected, where=f"{host.name}:{dest}")


def _write_marker(host: Host, dest: str, marker: DeployMarker) -> None:
    path = shlex.quote(f"{dest.rstrip('/')}/{MARKER_NAME}")
    text = json.dumps(marker.as_dict(), indent=1, sort_keys=True)
    result = host.run(f"printf '%s\\n' {shlex.quote(text)} > {path}.tmp && mv -f {path}.tmp {path}", timeout=60)
    if not result.ok:
        raise ArmjitError(f"cannot write the deploy marker on {host.name}: {result.tail(1)}")


# -- the source tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
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
def _locked(path: Path) -> Iterator[None]:
    """Serialise two armjit runs staging the same repository (no-op where flock is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
    with _locked(base / "stage.lock"):
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


def _source(repo: Path, ref: str | None, *, worktree: bool) -> _Source:
    base = _git_dirs(repo)[1]
    if not worktree:
        stage, modes = stage_tree(repo, ref or "HEAD")
        return _Source(stage, modes, base / "hashes-stage.json", False, ())
    tracked = _index_modes(gitops.git(repo, "ls-files", "-s", "-z").stdout)
    files = {}
    for rel in gitops.worktree_files(repo):
        path = repo / rel
        # Deleted tracked files are not shipped; directories here are submodules or nested repos.
        if (path.is_symlink() or path.is_file()) and (rel in tracked or rel.rstrip("/") == rel):
            files[rel] = tracked.get(rel, "")
    ignored = gitops.git(repo, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory").stdout
    hidden = tuple(p for p in ignored.split("\0") if p)
    return _Source(repo, files, base / "hashes-worktree.json", True, hidden)


# -- manifests (python transport) ---------------------------------------------------------------


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


_LISTING_FORMAT = "%y %m %s %P\\0%l\\0"


def parse_listing(text: str) -> dict[str, RemoteFile]:
    """``find -printf '%y %m %s %P\\0%l\\0'`` -> {path: RemoteFile}; armjit's own files left out."""
    found: dict[str, RemoteFile] = {}
    fields = text.split("\0")
    for record, link in zip(fields[0::2], fields[1::2], strict=False):
        parts = record.split(" ", 3)
        if len(parts) != 4 or parts[3] in _RESERVED or parts[3].startswith(f"{_SYNC_DIR}/"):
            continue
        kind_char, perms, size, path = parts
        executable = int(perms, 8) & stat.S_IXUSR
        kind = "l" if kind_char == "l" else ("x" if executable else "f")
        found[path] = RemoteFile(kind, int(size), link if kind == "l" else "")
    return found


def _parse_hashes(text: str) -> dict[str, str]:
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
    keep: Sequence[str] = KEEP_DIRS,
) -> SyncPlan:
    """What to send and delete so the host matches ``local``. ``remote`` is what is on the host
    now (keep dirs not listed), ``known`` the sha256 per path the host is known to hold."""
    send = []
    for path, entry in sorted(local.items()):
        there = remote.get(path)
        if there is None and _under(path, keep) and known.get(path) == entry.sha256:
            continue  # keep dirs are not listed (they can be huge); trust the manifest there
        if there is None or _differs(there, entry, known.get(path)):
            send.append(path)
    delete = sorted(p for p in remote if p not in local and not _under(p, keep))
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


def _prune_expr(keep: Sequence[str]) -> str:
    paths = [*(f"./{k}" for k in keep), f"./{_SYNC_DIR}", f"./{_TAR_NAME}"]
    return "\\( " + " -o ".join(f"-path {shlex.quote(p)}" for p in paths) + " \\) -prune"


def _sync_python(host: Host, source: _Source, dest: str, keep: Sequence[str], compress: bool) -> tuple[int, int, int]:
    local = local_manifest(source.root, source.files, source.cache)
    qdest = shlex.quote(dest)
    prune = _prune_expr(keep)
    probe = host.run(
        f"{workdir.claim_shell(dest)} && cd {qdest} && rm -f {MARKER_NAME} && "
        f"if [ -f {MANIFEST_NAME} ]; then printf 'manifest\\0'; cat {MANIFEST_NAME}; "
        f"else printf 'hashes\\0'; find . {prune} -o -type f -print0 | xargs -0 -r sha256sum -z; fi; "
        f"printf {shlex.quote(_LISTING_SEP.replace(chr(0), chr(92) + '0'))}; "
        f"find . {prune} -o \\( -type f -o -type l \\) -printf '{_LISTING_FORMAT}'",
        timeout=600,
    )
    workdir.raise_if_refused(host, dest, probe.exit_code, probe.stdout)
    if not probe.ok or _LISTING_SEP not in probe.stdout:
        raise ArmjitError(f"cannot list {host.name}:{dest}: {probe.tail(2) or f'exit {probe.exit_code}'}")
    head, listing = probe.stdout.split(_LISTING_SEP, 1)
    kind, _, body = head.partition("\0")
    known: dict[str, str] = {}
    have_manifest = False
    if kind == "manifest":
        with contextlib.suppress(ValueError, TypeError, KeyError):
            known = {p: str(v[2]) for p, v in json.loads(body)["files"].items()}
            have_manifest = True
    else:
        known = _parse_hashes(body)
    remote = parse_listing(listing)
    plan = plan_sync(local, remote, known, keep=keep)
    if plan.empty and have_manifest and set(known) == set(local):
        return 0, 0, 0
    # Small updates are mostly the manifest (hex digests): gzip halves them for next to no time.
    compress = compress or sum(local[p].size for p in plan.send) < _SMALL_UPDATE
    tar_path = _write_tar(source.root, plan, local, compress)
    try:
        size = tar_path.stat().st_size
        host.put(tar_path, f"{dest.rstrip('/')}/{_TAR_NAME}")
    finally:
        tar_path.unlink(missing_ok=True)
    z = "z" if compress else ""
    meta = f"{_SYNC_DIR}/delete {_SYNC_DIR}/rmdirs"
    applied = host.run(
        f"cd {qdest} && rm -f {MANIFEST_NAME} && rm -rf {_SYNC_DIR} && "
        f"tar -x{z}f {_TAR_NAME} --no-same-owner {meta} && "
        f"xargs -0 -r rm -rf -- < {_SYNC_DIR}/delete && "
        f"{{ xargs -0 -r rmdir -- < {_SYNC_DIR}/rmdirs 2>/dev/null; true; }} && "
        f"tar -x{z}f {_TAR_NAME} --no-same-owner && "
        f"mv -f {_SYNC_DIR}/manifest.json {MANIFEST_NAME} && rm -rf {_SYNC_DIR} {_TAR_NAME}",
        timeout=1800,
    )
    if not applied.ok:
        raise ArmjitError(f"unpacking the update on {host.name}:{dest} failed: {applied.tail(1)}")
    return len(plan.send), len(plan.delete), size


def _write_tar(root: Path, plan: SyncPlan, local: Mapping[str, FileEntry], compress: bool) -> Path:
    fd, name = tempfile.mkstemp(prefix="armjit-sync-", suffix=".tar")
    os.close(fd)
    path = Path(name)
    options: dict[str, Any] = {"compresslevel": 1} if compress else {}
    with tarfile.open(path, "w:gz" if compress else "w", format=tarfile.PAX_FORMAT, **options) as tar:
        # The lists come first so the host can delete before it unpacks (a file may become a dir).
        _add_bytes(tar, f"{_SYNC_DIR}/delete", b"".join(os.fsencode(p) + b"\0" for p in plan.delete))
        _add_bytes(tar, f"{_SYNC_DIR}/rmdirs", b"".join(os.fsencode(p) + b"\0" for p in plan.rmdirs))
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
        _add_bytes(tar, f"{_SYNC_DIR}/manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
    return path


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    tar.addfile(info, io.BytesIO(data))


# -- rsync transport ---------------------------------------------------------------------------


def _control_dir() -> Path | None:
    """A private directory for ssh control sockets (short path: sockets are limited to ~100 bytes)."""
    if not hasattr(os, "getuid"):
        return None
    path = Path(tempfile.gettempdir()) / f"armjit-ssh-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except OSError:
        return None
    # Someone else's directory, or one others can write to, must not hold our sockets.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return path


def ssh_command(host: SshHost, *, control_dir: Path | None = None) -> str:
    """The ``rsync -e`` text for ``host``: same user, port, key and known_hosts as the SshHost
    (which connected first, so the host key is already recorded there).

    With ``control_dir`` the OpenSSH connection is kept for a few minutes (ControlPersist), so
    the next sync in an edit-run loop skips the ssh handshake, most of a no-op rsync's time.
    """
    target = host.target
    user, _, rest = host.name.partition("@")
    port = rest.rpartition(":")[2]
    known = target.known_hosts.expanduser()
    parts = ["ssh", "-l", user, "-p", port]
    if target.ssh_config is not None:
        parts += ["-F", str(target.ssh_config)]
    if target.key:
        parts += ["-i", str(Path(target.key).expanduser()), "-o", "IdentitiesOnly=yes"]
    parts += [
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={target.connect_timeout}",
        "-o",
        f'UserKnownHostsFile="{known}" ~/.ssh/known_hosts',
        "-o",
        f"StrictHostKeyChecking={'yes' if target.strict else 'accept-new'}",
        "-o",
        "LogLevel=ERROR",
    ]
    if control_dir is not None:
        parts += ["-o", "ControlMaster=auto", "-o", f"ControlPath={control_dir}/%C", "-o", "ControlPersist=300"]
    return " ".join(shlex.quote(p) for p in parts)


def rsync_argv(
    source: Path,
    target: str,
    *,
    ssh: str | None,
    keep: Sequence[str],
    filter_file: Path | None,
    exact_times: bool,
    compress: bool,
) -> list[str]:
    """The rsync command line (pure, so tests can check what is built)."""
    argv = ["rsync", "-a", "--no-D", "--no-owner", "--no-group", "--delete", "--stats", "--protect-args"]
    argv.append("--modify-window=-1" if exact_times else "--checksum")
    if compress:
        argv.append("-z")
    argv += [f"--filter=P /{k}/" for k in keep]
    argv.append(f"--filter=P /{workdir.OWNER_NAME}")  # the work dir stays armjit's after --delete
    if filter_file is not None:
        argv.append(f"--filter=merge {filter_file}")
    if ssh is not None:
        argv += ["-e", ssh]
    return [*argv, f"{source}/", target]


def parse_rsync_stats(text: str) -> tuple[int, int, int]:
    """(regular files transferred, files deleted, bytes sent) from ``rsync --stats``."""

    def number(label: str) -> int:
        match = re.search(rf"^{label}:\s*([\d,.]+)", text, re.MULTILINE)
        return int(re.sub(r"[,.]", "", match.group(1))) if match else 0

    return (
        number("Number of regular files transferred"),
        number("Number of deleted files"),
        number("Total bytes sent"),
    )


def _rsync_pattern(path: str) -> str:
    # rsync reads backslashes as escapes only in patterns that contain a wildcard.
    if any(c in path for c in "*?["):
        return re.sub(r"([*?\[\\])", r"\\\1", path)
    return path


def _rsync_version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"version (\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(g) for g in match.groups()) if match else None


def _sync_rsync(
    host: Host, source: _Source, dest: str, keep: Sequence[str], compress: bool, remote_version: tuple[int, ...]
) -> tuple[int, int, int]:
    filter_file: Path | None = None
    if source.worktree:
        # Sender-side "hide" rules: .git and ignored files are not sent, and copies of them on
        # the host are deleted like any other file the source does not have.
        rules = ["H /.git", *(f"H /{_rsync_pattern(p)}" for p in source.hidden if "\n" not in p)]
        fd, name = tempfile.mkstemp(prefix="armjit-rsync-", suffix=".rules")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(rules) + "\n")
        filter_file = Path(name)
    if isinstance(host, SshHost):
        target, ssh = f"{host.target.host}:{dest.rstrip('/')}/", ssh_command(host, control_dir=_control_dir())
    else:
        target, ssh = f"{Path(dest).absolute()}/", None
    argv = rsync_argv(
        source.root,
        target,
        ssh=ssh,
        keep=keep,
        filter_file=filter_file,
        exact_times=remote_version >= _MIN_RSYNC_NS,
        compress=compress,
    )
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=1800, check=False)
    except subprocess.TimeoutExpired:
        raise ArmjitError(f"rsync to {host.name}:{dest} did not finish within 30 minutes") from None
    finally:
        if filter_file is not None:
            filter_file.unlink(missing_ok=True)
    if proc.returncode != 0:
        # The first line says why (ssh's or rsync's complaint); the last is rsync's generic summary.
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        why = lines[0] if lines else "no error output"
        raise ArmjitError(f"rsync to {host.name}:{dest} failed (exit {proc.returncode}): {why}")
    return parse_rsync_stats(proc.stdout)


# -- the entry point ---------------------------------------------------------------------------


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
) -> SyncResult:
    """Make ``dest`` on ``host`` hold ``ref``'s committed tree (default HEAD) or, with
    ``worktree``, the working tree with uncommitted and untracked-unignored files.

    ``method``: ``rsync`` (needs rsync here and on the host), ``python`` (needs only ssh, tar
    and GNU find on the host), ``auto`` = rsync when both sides have it.

    A non-empty ``dest`` that armjit does not own is refused (UsageError) before anything there
    changes; with ``adopt`` it is taken over instead, after ``report`` was given what will go.
    """
    if method not in METHODS:
        raise UsageError(f"sync method {method!r}: use one of {', '.join(METHODS)}")
    if not dest.strip():
        raise UsageError("the remote work dir is empty")
    started = time.monotonic()
    repo = gitops.check_repo(repo)
    state = gitops.source_state(repo, ref, worktree=worktree)
    dest = check_host_dir(host.expand(dest), what="the work dir", home=host.expand("~"), min_depth=2)
    source = _source(repo, state.commit if not worktree else None, worktree=worktree)
    if adopt:
        _adopt(host, dest, source, keep, report or (lambda line: None))
    chosen, version = _choose(host, dest, method)
    if chosen == "rsync":
        sent, deleted, size = _sync_rsync(host, source, dest, keep, compress, version)
    else:
        sent, deleted, size = _sync_python(host, source, dest, keep, compress)
    marker = DeployMarker(
        commit=state.commit,
        branch=state.branch,
        worktree=state.worktree,
        dirty_hash=state.dirty_hash,
        time=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        method=chosen,
        files=len(source.files),
    )
    _write_marker(host, dest, marker)
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


def _choose(host: Host, dest: str, method: str) -> tuple[str, tuple[int, ...]]:
    """Pick the transport; for rsync also prepare ``dest`` (create it, drop the old marker and
    the python manifest, which an rsync sync would make stale) in the same round trip."""
    local_rsync = shutil.which("rsync") is not None and isinstance(host, (SshHost, LocalHost))
    if method == "python" or (method == "auto" and not local_rsync):
        return "python", ()
    if method == "rsync" and not local_rsync:
        raise UsageError("rsync is not installed on this machine: use --sync-method python")
    qdest = shlex.quote(dest)
    probe = host.run(
        f"{workdir.claim_shell(dest)} && cd {qdest} && rm -f {MARKER_NAME} {MANIFEST_NAME} && "
        "if command -v rsync >/dev/null 2>&1; then rsync --version | head -n 1; else echo no-rsync; fi",
        timeout=120,
    )
    workdir.raise_if_refused(host, dest, probe.exit_code, probe.stdout)
    if not probe.ok:
        raise ArmjitError(f"cannot prepare {host.name}:{dest}: {probe.tail(1) or f'exit {probe.exit_code}'}")
    version = _rsync_version(probe.stdout)
    if version is None:
        if method == "rsync":
            raise UsageError(f"rsync is not installed on {host.name}: install it or use --sync-method python")
        return "python", ()
    return "rsync", version


def _adopt(host: Host, dest: str, source: _Source, keep: Sequence[str], report: Callable[[str], None]) -> None:
    """--adopt-workdir: say what the sync is about to delete in a directory armjit did not
    create, then mark it as armjit's. A directory armjit already owns is left as it is."""
    if workdir.is_owned(host, dest):
        return
    qdest = shlex.quote(dest)
    files = f"find . {_prune_expr(keep)} -o \\( -type f -o -type l \\) -printf '%P\\0'"
    listing = host.run(
        f"if [ -d {qdest} ]; then cd {qdest} && {files}; fi",
        timeout=600,
    )
    if not listing.ok:
        raise ArmjitError(f"cannot list {host.name}:{dest}: {listing.tail(1) or f'exit {listing.exit_code}'}")
    count, groups = workdir.adopt_plan(listing.stdout.split("\0"), source.files, keep)
    kept = " ".join(f"{k}/" for k in keep)
    report(f"adopting {host.name}:{dest}: this deploy deletes {count} files the synced tree lacks (kept: {kept})")
    for line in groups:
        report(f"  {line}")
    workdir.write_owner(host, dest)
