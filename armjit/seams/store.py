"""Runs on disk: ``reports/runs/<run-id>/`` with a ``run.json`` manifest and artifacts.

A run directory is created exclusively (an existing run is never overwritten) and every write
is atomic (temp file + rename), so an interrupted run keeps what it had.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armjit import __version__
from armjit.errors import UsageError
from armjit.seams import liveness
from armjit.seams.records import RunRecord

__all__ = [
    "SCHEMA_VERSION",
    "RunDir",
    "RunStore",
    "atomic_write_bytes",
    "atomic_write_text",
    "is_finished",
    "load_manifest",
    "new_run_id",
    "run_status",
]

SCHEMA_VERSION = 1
MANIFEST = "run.json"
_RUN_ID_OK = re.compile(r"^[A-Za-z0-9._@-]+$")
# detached: armjit left while a step went on on the host (attach or --resume finishes it).
_UNFINISHED = ("running", "abandoned", "detached")


def new_run_id(now: dt.datetime, *parts: str | None) -> str:
    """``<UTC time>-<random>_<parts>``: the one format of every run id.

    The time comes first so that ids sort by when runs started, and the kind (red, mine, ...)
    stays last. The random part keeps ids (and the remote run dirs named after them) apart for
    runs started in the same second on the same host, also from checkouts that do not share a
    reports directory. Older ids (``<UTC time>_<parts>``) remain valid.
    """
    labels = [re.sub(r"[^A-Za-z0-9.-]+", "-", p).strip("-") for p in parts if p]
    stamp = now.astimezone(dt.UTC) if now.tzinfo else now
    return "_".join([f"{stamp:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}", *(label for label in labels if label)])


def run_status(manifest: Mapping[str, Any]) -> str:
    """The status to show and select by: as recorded, except that a run still marked ``running``
    whose process is known to be gone is ``abandoned`` (see armjit.seams.liveness for when that is known)."""
    status = str(manifest.get("status") or "unknown")
    if status == "running" and liveness.owner_alive(manifest.get("owner")) is False:
        return "abandoned"
    return status


def is_finished(manifest: Mapping[str, Any]) -> bool:
    """A run that ended (ok, failed or interrupted): only such a run can be ``latest`` or a baseline."""
    return run_status(manifest) not in _UNFINISHED


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    # mkstemp makes 0600 files; reports are ordinary files (0644 under the usual umask).
    os.fchmod(fd, 0o666 & ~_umask())
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def load_manifest(run_dir: Path) -> dict[str, Any]:
    """Read a run's ``run.json``; a missing or malformed manifest is a one-line error."""
    path = run_dir / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{run_dir} is not an armjit run (no {MANIFEST})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except RecursionError:
        raise UsageError(f"cannot read {path}: nested too deeply to be a run manifest") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} is not a run manifest (expected a JSON object)")
    return data


@dataclass(frozen=True)
class RunDir:
    """One run's directory. Paths handed out are inside it; writes are atomic."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    def discard(self) -> bool:
        """Remove a run that never got past its record (its host was busy or refused): only
        when the directory holds nothing but run.json, so a measured run is never lost."""
        if not self.path.is_dir() or {p.name for p in self.path.iterdir()} - {MANIFEST}:
            return False
        shutil.rmtree(self.path, ignore_errors=True)
        return True

    def file(self, *parts: str) -> Path:
        target = self.path.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_json(self, name: str, data: Any) -> Path:
        target = self.file(name)
        atomic_write_text(target, json.dumps(data, indent=2, sort_keys=False) + "\n")
        return target

    def write_text(self, name: str, text: str) -> Path:
        target = self.file(name)
        atomic_write_text(target, text)
        return target

    def save_manifest(self, manifest: dict[str, Any]) -> Path:
        return self.write_json(MANIFEST, {"schema_version": SCHEMA_VERSION, **manifest})

    def save(self, record: RunRecord) -> Path:
        """Write ``record`` as this run's run.json (atomically: a reader sees the old or the new)."""
        return self.save_manifest(record.to_json())

    def manifest(self) -> dict[str, Any]:
        return load_manifest(self.path)

    def record(self) -> RunRecord:
        """This run's record, typed; run.json files of every earlier armjit version load."""
        return RunRecord.from_json(self.manifest(), run_id=self.run_id)

    def status(self) -> str:
        return run_status(self.manifest())

    def label(self) -> str:
        """The run id, plus its status when its data may be incomplete (running, abandoned)."""
        status = self.status()
        return f"{self.run_id} ({status})" if status in _UNFINISHED else self.run_id

    def relative(self, path: Path) -> str:
        """A path inside the run, as stored in run.json (relative, portable)."""
        return path.relative_to(self.path).as_posix()


@dataclass(frozen=True)
class RunStore:
    """All runs under ``root`` (by default ``reports/runs``)."""

    root: Path

    def ensure_writable(self) -> None:
        """Fail fast (before a long run, with nothing written) when no run can be created here:
        a read-only or immutable reports directory, or a file where a directory should be."""
        folder = self.root
        while not folder.exists() and folder.parent != folder:
            folder = folder.parent
        if not folder.is_dir():
            raise UsageError(f"cannot create runs under {self.root}: {folder} is not a directory")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"cannot create runs under {self.root}: {folder} is not writable (read-only or immutable)")

    def create(self, run_id: str) -> RunDir:
        """Make a new run directory; never reuse one (a suffix is added on a clash)."""
        if not _RUN_ID_OK.match(run_id):
            raise UsageError(f"run id {run_id!r} may only hold letters, digits and ._@-")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            for attempt in range(1, 1000):
                name = run_id if attempt == 1 else f"{run_id}-{attempt}"
                candidate = self.root / name
                try:
                    candidate.mkdir()
                except FileExistsError:
                    continue
                return RunDir(candidate)
        except OSError as exc:  # read-only, immutable, full, or a file in the way
            raise UsageError(f"cannot create a run under {self.root}: {exc.strerror or exc}") from None
        raise UsageError(f"too many runs named {run_id} under {self.root}")

    def new_run(self, kind: str, started: dt.datetime, *id_parts: str | None) -> tuple[RunDir, RunRecord]:
        """A new run directory and its record (status ``running``, not saved yet): the one place a
        run is made. ``id_parts`` follow the time in the run id (commit, host, kind)."""
        run = self.create(new_run_id(started, *id_parts))
        record = RunRecord(
            run_id=run.run_id,
            kind=kind,
            armjit_version=__version__,
            started=started.isoformat(timespec="microseconds"),
        )
        return run, record

    def runs(self) -> list[RunDir]:
        """Runs with a manifest, oldest first: by the second in the run id, then by the recorded
        start (the random part of an id says nothing about order within a second)."""
        if not self.root.is_dir():
            return []
        found = [p for p in self.root.iterdir() if (p / MANIFEST).is_file()]
        return [RunDir(p) for p in sorted(found, key=_order)]

    def latest(self, predicate: Any = None) -> RunDir | None:
        for run in reversed(self.runs()):
            if predicate is None or predicate(run):
                return run
        return None

    def resolve(self, ref: str | Path) -> RunDir:
        """A run id (under ``root``), ``latest`` (the latest run with benchmark modes), or a run directory."""
        if str(ref) == "latest":
            # The latest run that measured something and ended: mine/red/green/verify records hold
            # no modes, and a running or abandoned run may hold half of its data.
            run = self.latest(lambda r: bool(r.record().modes) and is_finished(r.manifest()))
            if run is None:
                what = "no finished run with benchmark results" if self.runs() else "no runs yet"
                raise UsageError(f"{what} under {self.root}; run `invoke baseline` first")
            return run
        path = Path(ref)
        for candidate in (path, self.root / str(ref)):
            if (candidate / MANIFEST).is_file():
                return RunDir(candidate)
        raise UsageError(f"no run {str(ref)!r}: not a run id under {self.root} nor a run directory")


def _order(path: Path) -> tuple[str, str, str]:
    try:
        started = str(load_manifest(path).get("started") or "")
    except UsageError:
        started = ""
    return (path.name[:16], started, path.name)
