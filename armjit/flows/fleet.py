"""Several hosts at once (``--hosts a,b,c``): one task's flow on each host, in parallel threads.

Why a thread pool over armjit's Host seam and not fabric's ``ThreadingGroup``: a group runs one
command on every connection and hands back their results, while a flow is hundreds of commands,
file transfers and local writes with decisions between them, and it runs on any ``Host`` (this
machine included) with armjit's host-key trust, timeouts and pid files. So each host gets its own
Host (``open_host``), its own thread from ``concurrent.futures`` and the unchanged flow; nothing
here schedules anything beyond "one thread per host, at most ``MAX_PARALLEL`` at a time".

Each host's run is an ordinary run record (its own run id, logs and artifacts), linked from one
fleet record (armjit.seams.fleets). One host failing (unreachable, a failed step, a bug) ends that
host's thread only: the others finish, and the fleet's status says which hosts failed and why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

from armjit.config import Settings
from armjit.errors import ArmjitError
from armjit.render.fleet_progress import FleetBoard
from armjit.render.progress import Progress
from armjit.seams.fleets import FleetRecord
from armjit.seams.hosts import Host, open_host
from armjit.seams.store import RunDir, RunStore

__all__ = ["MAX_PARALLEL", "FleetOutcome", "HostResult", "host_settings", "map_hosts", "run_fleet"]

# Threads mostly wait on SSH; the bound keeps a lab-sized --hosts from opening hundreds of
# connections and local files at once (the rest queue).
MAX_PARALLEL = 32


T = TypeVar("T")


class _Outcome(Protocol):
    @property  # read-only, so that a frozen dataclass's field satisfies it
    def run(self) -> RunDir: ...


@dataclass(frozen=True)
class HostResult:
    host: str  # as given in --hosts
    status: str  # ok | failed
    run_id: str | None
    cause: str
    seconds: float
    outcome: Any = None  # the flow's own outcome when it returned


@dataclass(frozen=True)
class FleetOutcome:
    record: FleetRecord
    results: tuple[HostResult, ...]

    @property
    def failed(self) -> tuple[HostResult, ...]:
        return tuple(r for r in self.results if r.status != "ok")

    def summary_line(self) -> str:
        """Which hosts failed and why, in one line (empty when every host succeeded)."""
        if not self.failed:
            return ""
        causes = "; ".join(f"{r.host}: {r.cause}" for r in self.failed)
        return f"{len(self.failed)} of {len(self.results)} hosts failed (fleet {self.record.fleet_id}): {causes}"


# The flow of one host: its settings, its open host and its progress -> the flow's outcome
# (anything with ``run``; a ``failures`` list, when present, makes the host failed).
Job = Callable[[Settings, Host, Progress], _Outcome]


def host_settings(settings: Settings, host: str) -> Settings:
    """The settings of one host of the fleet: ``--host`` is that host, and nothing fleet-wide."""
    return dataclasses.replace(settings, host=host, hosts=(), reference="")


def _new_run_of(store: RunStore, before: set[str], host_name: str) -> str | None:
    """The run this fleet started on ``host_name`` when its flow raised instead of returning."""
    for run in reversed(store.runs()):
        if run.run_id in before:
            continue
        try:
            record = run.record()
        except ArmjitError:
            continue
        if record.host is not None and record.host.name == host_name:
            return run.run_id
    return None


def run_fleet(
    settings: Settings,
    *,
    kind: str,
    reports: Path,
    job: Job,
    stream: TextIO | None = None,
    before: Callable[[], None] | None = None,
    record: FleetRecord | None = None,
) -> FleetOutcome:
    """Run ``job`` on every host of ``settings.hosts`` in parallel; never raises for one host.

    ``before`` runs once, before any host starts (what must not run on several threads at once,
    such as rebasing the local work branch). ``record``: the fleet record, made by the caller
    when its jobs must name their fleet in their own run records."""
    hosts = list(settings.hosts)
    reference = settings.reference or hosts[0]
    store = RunStore(reports / "runs")
    if before is not None:
        before()
    existing = {run.run_id for run in store.runs()}
    record = record or FleetRecord.create(reports, kind, hosts, reference)
    board = FleetBoard(hosts, stream)
    # Hosts connect one at a time (well under a second each): trust on first use rewrites the
    # known_hosts file, and two hosts saving their new keys at once would lose one of them.
    connecting = threading.Lock()
    # Ctrl-C reaches only this thread; the hosts' threads stop when their connections close.
    stopping = threading.Event()
    open_hosts: dict[str, Host] = {}
    board.say("fleet", f"{record.fleet_id}: {kind} on {len(hosts)} hosts")

    def one(name: str) -> HostResult:
        s = host_settings(settings, name)
        progress = board.progress(name)
        started = time.monotonic()
        record.host_started(name)
        host: Host | None = None
        outcome: Any = None
        run_id: str | None = None
        try:
            with connecting:
                if stopping.is_set():
                    raise ArmjitError("interrupted before it started")
                host = open_host(s)
                open_hosts[name] = host
            # Each host's flow takes that host's work-dir lease itself (baseline, ab), as it does alone.
            outcome = job(s, host, progress)
            run_id = outcome.run.run_id
            failures = list(getattr(outcome, "failures", []) or [])
            status, cause = ("failed", "; ".join(failures)) if failures else ("ok", "")
        except ArmjitError as exc:
            status, cause = "failed", str(exc)
        except KeyboardInterrupt:  # the fleet's Ctrl-C reached this host's flow (Host.interrupt)
            status, cause = "failed", "interrupted"
        except Exception as exc:  # a bug on one host must not take the other hosts' results with it
            status, cause = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            if host is not None:
                with connecting:
                    open_hosts.pop(name, None)
                host.close()
        if stopping.is_set() and status != "ok":
            status = "interrupted"
        if run_id is None and host is not None:
            run_id = _new_run_of(store, existing, host.name)
        seconds = time.monotonic() - started
        record.host_done(name, status=status, run_id=run_id, cause=cause, seconds=seconds)
        board.done(name, f"{status} in {seconds:.1f}s" + (f": {cause}" if cause else f" (run {run_id})"))
        return HostResult(name, status, run_id, cause, seconds, outcome)

    with board, ThreadPoolExecutor(min(len(hosts), MAX_PARALLEL), thread_name_prefix="armjit-host") as pool:
        futures = [pool.submit(one, name) for name in hosts]
        try:
            results = tuple(f.result() for f in futures)
        except KeyboardInterrupt:
            # Hosts not started yet never start; the running ones lose their connection, so their
            # current command fails and each flow records where it stopped (a local command got
            # the Ctrl-C itself). Then the fleet record says it was interrupted.
            stopping.set()
            board.say("fleet", "interrupted: closing every host's connection")
            for f in futures:
                f.cancel()
            with connecting:
                for host in open_hosts.values():
                    with contextlib.suppress(Exception):
                        host.interrupt()  # its flow stops where it is instead of reconnecting
            pool.shutdown(wait=True)
            record.finish(interrupted=True)
            raise
    record.finish()
    return FleetOutcome(record, results)


def map_hosts(
    settings: Settings, call: Callable[[Settings, Progress], T], *, stream: TextIO | None = None
) -> list[tuple[str, T | None, str]]:
    """``call`` on every host in parallel, for tasks that keep no run record (doctor):
    (host, its result or None, why it failed) in the order of ``settings.hosts``."""
    hosts = list(settings.hosts)
    board = FleetBoard(hosts, stream)

    def one(name: str) -> tuple[str, T | None, str]:
        try:
            result = call(host_settings(settings, name), board.progress(name))
        except ArmjitError as exc:
            board.done(name, f"failed: {exc}")
            return name, None, str(exc)
        except Exception as exc:  # one host's bug must not hide the other hosts' answers
            board.done(name, f"failed: {type(exc).__name__}: {exc}")
            return name, None, f"{type(exc).__name__}: {exc}"
        board.done(name, "done")
        return name, result, ""

    with board, ThreadPoolExecutor(min(len(hosts), MAX_PARALLEL), thread_name_prefix="armjit-host") as pool:
        return list(pool.map(one, hosts))
