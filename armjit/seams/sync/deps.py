"""Ship ``--deps-dir`` (source archives CMake's FetchContent would download) to the host, once.

The archives go to a directory of their own on the host and are unpacked there; a marker file
holds the name and sha256 of every archive shipped, so a later run with the same archives sends
nothing and unpacks nothing (the CMake tree keeps pointing at the same sources, no reconfigure).
Each archive's top directory names the dependency (``fmt/``, ``parallel-hashmap/``, ``usdt/``).
A ``SHA256SUMS`` file in the directory, when there is one, is checked before anything is sent.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from armjit.errors import ArmjitError, UsageError
from armjit.seams import workdir
from armjit.seams.hosts import Host
from armjit.seams.safepaths import check_host_dir

__all__ = ["ARCHIVE_SUFFIXES", "DEPS_MARKER", "ShippedDeps", "local_archives", "ship_deps"]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar")
DEPS_MARKER = ".armjit-deps.json"
q = shlex.quote


@dataclass(frozen=True)
class ShippedDeps:
    """What the host holds: ``sources`` maps each dependency to its unpacked directory there."""

    remote_dir: str
    archives: dict[str, str]  # archive name -> sha256
    sources: dict[str, str]
    sent: bool  # False when the host already held these archives

    def as_dict(self) -> dict[str, object]:
        return {"remote_dir": self.remote_dir, "archives": self.archives, "sources": self.sources, "sent": self.sent}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def local_archives(directory: Path) -> dict[str, str]:
    """{archive name: sha256} of the source archives in ``directory``, checked against its
    ``SHA256SUMS`` when present; a one-line UsageError when there is nothing usable."""
    if not directory.is_dir():
        raise UsageError(f"--deps-dir {directory}: no such directory")
    archives = {
        p.name: _sha256(p) for p in sorted(directory.iterdir()) if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES)
    }
    if not archives:
        raise UsageError(f"--deps-dir {directory}: no source archives ({', '.join(ARCHIVE_SUFFIXES)}) in it")
    sums = directory / "SHA256SUMS"
    if sums.is_file():
        for line in sums.read_text(encoding="utf-8", errors="replace").splitlines():
            digest, _, name = line.strip().partition("  ")
            name = name.lstrip("*")
            if name in archives and archives[name] != digest.lower():
                raise UsageError(f"--deps-dir {directory}: {name} does not match its SHA256SUMS entry")
    return archives


def _read_marker(host: Host, remote_dir: str) -> dict[str, str] | None:
    path = q(f"{remote_dir}/{DEPS_MARKER}")
    result = host.run(f"cat {path} 2>/dev/null || true", timeout=60)
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
    archives = data.get("archives") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in archives.items()} if isinstance(archives, dict) else None


def ship_deps(host: Host, directory: Path, remote_dir: str, *, home: str) -> ShippedDeps:
    """Make ``remote_dir`` on ``host`` hold ``directory``'s archives, unpacked under ``src/``."""
    archives = local_archives(directory)
    remote_dir = check_host_dir(host.expand(remote_dir), what="the deps dir", home=home, min_depth=2)
    (remote_dir,) = workdir.resolve_guarded(host, [(remote_dir, "the deps dir", 2)])
    qdir = q(remote_dir)
    sent = _read_marker(host, remote_dir) != archives
    if sent:
        # Only armjit's own subdirectories are replaced; the marker goes first, so a transfer that
        # fails half-way leaves no marker claiming these archives.
        prepare = host.run(
            f"mkdir -p {qdir} && cd {qdir} && rm -f {DEPS_MARKER} && rm -rf src archives && mkdir src archives",
            timeout=120,
        )
        if not prepare.ok:
            raise ArmjitError(f"cannot prepare {host.name}:{remote_dir}: {prepare.tail(1)}")
        for name in archives:
            host.put(directory / name, f"{remote_dir}/archives/{name}")
        unpack = " && ".join(f"tar -xf archives/{q(name)} -C src" for name in archives)
        marker = json.dumps({"archives": archives}, sort_keys=True)
        done = host.run(f"cd {qdir} && {unpack} && printf '%s\\n' {q(marker)} > {DEPS_MARKER}", timeout=600)
        if not done.ok:
            raise ArmjitError(f"cannot unpack the deps on {host.name}:{remote_dir}: {done.tail(1)}")
    listing = host.run(f"cd {qdir}/src && for d in */; do printf '%s\\n' \"${{d%/}}\"; done", timeout=60)
    names = [line for line in listing.stdout.splitlines() if line and line != "*"]
    if not listing.ok or not names:
        raise ArmjitError(f"the deps on {host.name}:{remote_dir}/src hold no directories: check --deps-dir")
    sources = {name: f"{remote_dir}/src/{name}" for name in names}
    return ShippedDeps(remote_dir, archives, sources, sent)
