"""Run records: what ``run.json`` holds, as types.

Every run kind (baseline, ab/aa, red, green, mine, verify, handoff) shares one ``RunRecord``:
the facts all runs have are fields (status, settings, host, steps, modes, ...), and what only one
kind records (an ab run's samples, a red run's test) is in ``details``, written by the flow that
owns that kind. ``RunRecord.to_json`` writes the same shape run.json always had, and
``RunRecord.from_json`` reads any run.json written since schema_version 1, keeping keys it does
not know, so an old record loads and saves again without losing anything.

Only ``armjit.seams.store`` creates, saves and loads records; a flow fills the record it created,
and steps hand their results back to that flow instead of writing into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["Failure", "HostFacts", "ModeRecord", "RemotePaths", "RunRecord", "StepRecord"]


def _drop_none(data: Mapping[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """Leave out facts that were never found (run.json has always omitted them), except ``keep``."""
    return {k: v for k, v in data.items() if v is not None or k in keep}


def _known(cls: type, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``data`` into the keys that are fields of ``cls`` and the rest."""
    names = {f.name for f in fields(cls)} - {"extra"}
    return {k: v for k, v in data.items() if k in names}, {k: v for k, v in data.items() if k not in names}


@dataclass(frozen=True)
class StepRecord:
    """One step of a run: what ran, how it ended, how long it took and where its log is."""

    name: str
    status: str  # ok | failed | skipped | interrupted
    exit_code: int | None
    seconds: float
    log: str | None
    command: str | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepRecord:
        return cls(
            name=str(data.get("name", "")),
            status=str(data.get("status", "")),
            exit_code=data.get("exit_code"),
            seconds=float(data.get("seconds") or 0.0),
            log=data.get("log"),
            command=data.get("command"),
            detail=str(data.get("detail") or ""),
        )


@dataclass(frozen=True)
class Failure:
    """Why a run did not end ``ok``: the step it stopped in (None: between steps) and the cause."""

    step: str | None
    cause: str

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "cause": self.cause}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Failure:
        return cls(data.get("step"), str(data.get("cause") or ""))


@dataclass(frozen=True)
class HostFacts:
    """The machine a run ran on. ``name`` and ``is_local`` are known when the run starts; the rest
    come from the host-facts step (None until then, or when the host could not say)."""

    name: str
    is_local: bool | None = None
    uname: str | None = None
    arch: str | None = None
    nproc: str | None = None
    cpu: str | None = None
    loadavg: str | None = None
    hostname: str | None = None
    rsync: str | None = None
    cmake: str | None = None
    python: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def with_facts(self, found: Mapping[str, str]) -> HostFacts:
        """These facts plus ``found`` (what the host reported; keys armjit does not know are kept)."""
        return HostFacts.from_json({**self.to_json(), **found})

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**_drop_none(data), **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HostFacts:
        known, extra = _known(cls, data)
        known["name"] = str(known.get("name") or "")
        return cls(**known, extra=extra)


@dataclass
class ModeRecord:
    """One JIT mode of a run. A baseline fills the benchmark part (env, pyperf JSON, JIT logs,
    the gate's verdict); an ab run fills ``jit_proof`` and ``blocks``."""

    description: str | None = None
    env: dict[str, str] | None = None
    pyperf_json: str | None = None
    jit_logs: list[str] | None = None
    benchmarks: list[str] | None = None
    runner: str | None = None
    inherit_environ: str | None = None
    # The mode's one benchmark's median of per-process medians (seconds); None when it ran
    # several: ``results`` holds each benchmark's own numbers, never a median pooled over them.
    value: float | None = None
    processes: int | None = None
    values: int | None = None
    # Per benchmark: value, processes, values, its JIT logs, compiles and the gate's verdict.
    results: dict[str, dict[str, Any]] | None = None
    compiles: dict[str, int] | None = None
    threshold: Any = None
    thresholds: Any = None
    processes_with_compiles: int | None = None
    per_process: list[dict[str, Any]] | None = None
    gate: dict[str, Any] | None = None
    jit_proof: dict[str, Any] | None = None
    blocks: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        # A benchmarked mode says it has no pyperf JSON (or no value in it) rather than leaving the key out.
        keep: tuple[str, ...] = ("pyperf_json",) if self.benchmarks is not None or self.jit_logs is not None else ()
        keep += ("value",) if self.pyperf_json is not None else ()
        return {**_drop_none(data, keep), **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModeRecord:
        known, extra = _known(cls, data)
        return cls(**known, extra=extra)


@dataclass(frozen=True)
class RemotePaths:
    """Where a run's things are on the host."""

    run_dir: str | None = None
    wheel: str | None = None
    driver_venv: str | None = None
    bench_python: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**_drop_none(data), **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RemotePaths:
        known, extra = _known(cls, data)
        return cls(**known, extra=extra)


@dataclass
class RunRecord:
    """One run. ``None`` fields are not part of this kind of run and are left out of run.json;
    ``details`` holds the kind's own top-level keys (ab: design, samples, verdict; red: targeted)."""

    run_id: str
    kind: str
    status: str = "running"  # running | ok | failed | interrupted | detached (abandoned is derived: see store)
    started: str | None = None
    armjit_version: str | None = None
    settings: dict[str, Any] | None = None
    explicit_settings: list[str] | None = None
    host: HostFacts | None = None
    commits: dict[str, Any] | None = None
    modes: dict[str, ModeRecord] | None = None
    skipped_modes: str | None = None
    remote: RemotePaths | None = None
    details: dict[str, Any] = field(default_factory=dict)
    steps: list[StepRecord] | None = None
    owner: dict[str, Any] | None = None
    failure: Failure | None = None
    finished: str | None = None

    @property
    def commit(self) -> str:
        """The commit the run measured or tested ("" when it has none)."""
        return str((self.commits or {}).get("commit") or "")

    def set_mode(self, name: str, mode: ModeRecord) -> None:
        self.modes = {**(self.modes or {}), name: mode}

    def setting(self, name: str, default: Any = None) -> Any:
        """A recorded setting (``default`` when the run recorded none)."""
        return (self.settings or {}).get(name, default)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "kind": self.kind,
            "status": self.status,
            "armjit_version": self.armjit_version,
            "started": self.started,
            "settings": self.settings,
            "explicit_settings": self.explicit_settings,
            "host": self.host.to_json() if self.host is not None else None,
            "commits": self.commits,
            "modes": {k: m.to_json() for k, m in self.modes.items()} if self.modes is not None else None,
            "skipped_modes": self.skipped_modes,
            "remote": self.remote.to_json() if self.remote is not None else None,
        }
        data = {**_drop_none(data), **self.details}
        tail: dict[str, Any] = {
            "steps": [s.to_json() for s in self.steps] if self.steps is not None else None,
            "owner": self.owner,
            "failure": self.failure.to_json() if self.failure is not None else None,
            "finished": self.finished,
        }
        return {**data, **_drop_none(tail)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, run_id: str = "") -> RunRecord:
        """A record from run.json's data (any schema_version 1 file); ``run_id`` names a run whose
        file does not."""
        known, details = _known(cls, data)
        details.pop("schema_version", None)
        known.pop("details", None)
        host, modes, remote = known.get("host"), known.get("modes"), known.get("remote")
        steps, failure = known.get("steps"), known.get("failure")
        known |= {
            "run_id": str(known.get("run_id") or run_id),
            "kind": str(known.get("kind") or ""),
            "status": str(known.get("status") or "unknown"),
            "host": HostFacts.from_json(host) if isinstance(host, Mapping) else None,
            "modes": {str(k): ModeRecord.from_json(v) for k, v in modes.items() if isinstance(v, Mapping)}
            if isinstance(modes, Mapping)
            else None,
            "remote": RemotePaths.from_json(remote) if isinstance(remote, Mapping) else None,
            "steps": [StepRecord.from_json(s) for s in steps if isinstance(s, Mapping)]
            if isinstance(steps, list)
            else None,
            "failure": Failure.from_json(failure) if isinstance(failure, Mapping) else None,
        }
        return cls(**known, details=details)
