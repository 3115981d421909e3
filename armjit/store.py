"""Runs on disk: ``reports/runs/<run-id>/`` with a ``run.json`` manifest and artifacts.

A run directory is created exclusively (an existing run is never overwritten) and every write
is atomic (temp file + rename), so an interrupted run keeps what it had.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armjit.errors import UsageError

__all__ = [
    "SCHEMA_VERSION",
    "RunDir",
    "RunStore",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_manifest",
]

SCHEMA_VERSION = 1
MANIFEST = "run.json"
_RUN_ID_OK = re.compile(r"^[A-Za-z0-9._@-]+$")


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

    def manifest(self) -> dict[str, Any]:
        return load_manifest(self.path)

    def relative(self, path: Path) -> str:
        """A path inside the run, as stored in run.json (relative, portable)."""
        return path.relative_to(self.path).as_posix()


@dataclass(frozen=True)
class RunStore:
    """All runs under ``root`` (by default ``reports/runs``)."""

    root: Path

    def create(self, run_id: str) -> RunDir:
        """Make a new run directory; never reuse one (a suffix is added on a clash)."""
        if not _RUN_ID_OK.match(run_id):
            raise UsageError(f"run id {run_id!r} may only hold letters, digits and ._@-")
        self.root.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 1000):
            name = run_id if attempt == 1 else f"{run_id}-{attempt}"
            candidate = self.root / name
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            return RunDir(candidate)
        raise UsageError(f"too many runs named {run_id} under {self.root}")

    def runs(self) -> list[RunDir]:
        """Runs with a manifest, oldest first (run ids start with a UTC timestamp)."""
        if not self.root.is_dir():
            return []
        found = [p for p in self.root.iterdir() if (p / MANIFEST).is_file()]
        return [RunDir(p) for p in sorted(found, key=lambda p: p.name)]

    def latest(self, predicate: Any = None) -> RunDir | None:
        for run in reversed(self.runs()):
            if predicate is None or predicate(run):
                return run
        return None

    def resolve(self, ref: str | Path) -> RunDir:
        """A run id (under ``root``), ``latest`` (the latest run with benchmark modes), or a run directory."""
        if str(ref) == "latest":
            # The latest run that measured something: mine/red/green/verify records hold no modes.
            run = self.latest(lambda r: bool(r.manifest().get("modes")))
            if run is None:
                raise UsageError(f"no runs yet under {self.root}; run `invoke baseline` first")
            return run
        path = Path(ref)
        for candidate in (path, self.root / str(ref)):
            if (candidate / MANIFEST).is_file():
                return RunDir(candidate)
        raise UsageError(f"no run {str(ref)!r}: not a run id under {self.root} nor a run directory")
