"""Fleet records on disk: ``reports/fleets/<fleet-id>/fleet.json`` links the run of each host.

Each host's run is an ordinary run under ``reports/runs`` (its own record, logs and artifacts);
the fleet record only says which runs belong together, how each host ended and why. It is
written when the fleet starts and again as each host ends (atomically, under a lock: the hosts
finish on different threads), so an interrupted fleet still names the runs it started.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from armjit.errors import UsageError
from armjit.seams.store import RunStore, atomic_write_text, new_run_id

__all__ = ["FLEET_FILE", "FleetRecord", "load_fleet"]

FLEET_FILE = "fleet.json"
SCHEMA_VERSION = 1


@dataclass
class FleetRecord:
    """One fleet: the task it ran, its hosts (in the order given) and what became of each."""

    path: Path  # the fleet's directory
    kind: str
    hosts: dict[str, dict[str, Any]]
    started: str
    reference: str = ""
    status: str = "running"  # running | ok | partial (some hosts failed) | failed (all did) | interrupted
    finished: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def fleet_id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, reports: Path, kind: str, hosts: list[str], reference: str) -> FleetRecord:
        """A new fleet directory (never an existing one) and its record, saved."""
        now = dt.datetime.now(dt.UTC)
        run = RunStore(reports / "fleets").create(new_run_id(now, kind, "fleet"))
        record = cls(
            run.path,
            kind,
            {h: {"status": "waiting", "run_id": None, "cause": ""} for h in hosts},
            now.isoformat(timespec="microseconds"),
            reference,
        )
        record.save()
        return record

    def host_done(self, host: str, *, status: str, run_id: str | None, cause: str = "", seconds: float = 0.0) -> None:
        with self._lock:
            self.hosts[host] = {"status": status, "run_id": run_id, "cause": cause, "seconds": round(seconds, 1)}
            self._save()

    def host_started(self, host: str) -> None:
        with self._lock:
            self.hosts[host] = {**self.hosts[host], "status": "running"}
            self._save()

    def finish(self, *, interrupted: bool = False) -> str:
        with self._lock:
            ok = [h for h, e in self.hosts.items() if e.get("status") == "ok"]
            self.status = "ok" if len(ok) == len(self.hosts) else "failed" if not ok else "partial"
            if interrupted:
                self.status = "interrupted"
            self.finished = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
            self._save()
            return self.status

    def save(self) -> None:
        with self._lock:
            self._save()

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "fleet_id": self.fleet_id,
            "kind": self.kind,
            "status": self.status,
            "started": self.started,
            "finished": self.finished,
            "reference": self.reference,
            "hosts": self.hosts,
        }

    def _save(self) -> None:
        atomic_write_text(self.path / FLEET_FILE, json.dumps(self.to_json(), indent=2) + "\n")


def load_fleet(path: Path) -> dict[str, Any]:
    """A fleet record's data; a missing or malformed one is a one-line error."""
    target = path / FLEET_FILE
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} is not an armjit fleet (no {FLEET_FILE})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read {target}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("hosts"), dict):
        raise UsageError(f"{target} is not a fleet record")
    return data
