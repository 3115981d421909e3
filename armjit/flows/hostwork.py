"""A run's hold on its host: the work dir's lease, the follower of detached steps, and going on later.

``HostWork.begin`` takes the lease of the host work dir (waiting or failing as the settings say)
and makes the follower that runs the long steps under the host's supervisor. ``end`` says how the
run left the host: released when nothing of it runs there any more; kept, with the commands to
follow or stop it, when a detached step goes on (Ctrl-C, a connection that stayed away).

A run that cannot be attached (``ab``, red/green: their loop lives in the armjit that started
them) leaves with ``end(..., attachable=False)``: the command still running is stopped, within a
bounded wait, because nobody can use its result.

``resumable`` finds the run that ``attach`` / ``--resume`` goes on with, and the settings it
recorded; ``cancellable`` the run ``cancel`` stops; ``cancel_run`` ends what a run still runs on its host.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armjit.config import Settings, merge_settings, setting_specs
from armjit.errors import UsageError
from armjit.render.progress import Progress
from armjit.seams import liveness
from armjit.seams.hosts import Host
from armjit.seams.hosts.detached import Follower, StepDetached
from armjit.seams.lease import Holder, Lease, LeaseLost, holder_of, owner_facts
from armjit.seams.records import RunRecord, StepRecord
from armjit.seams.store import RunDir, RunStore

__all__ = [
    "RESUMABLE",
    "SESSION_SETTINGS",
    "HostWork",
    "cancel_run",
    "cancellable",
    "lease_holder",
    "reopen",
    "resumable",
    "resumed_settings",
]

# A run in one of these states may have work left (on the host or locally) that attach/resume finish.
RESUMABLE = ("running", "abandoned", "detached", "interrupted", "failed")
# How to reach the host and how long to wait may change between attempts; what is measured may not.
SESSION_SETTINGS = ("reconnect_for", "wait", "wait_timeout", "connect_timeout", "key", "known_hosts", "ssh_config")
# How long leaving may spend stopping a command nobody can attach to: Ctrl-C must end armjit
# within 2 s even when the connection is dead.
_STOP_WAIT = 1.5


def _hint(run_id: str, *, attachable: bool = True) -> str:
    if not attachable:
        return f"`invoke cancel {run_id}` stops it"
    return f"`invoke attach --run {run_id}` follows it, `invoke cancel {run_id}` stops it"


@dataclass
class HostWork:
    """One run's lease and follower on one host."""

    host: Host
    run_id: str
    lease: Lease
    follower: Follower
    attachable: bool = True

    def _stopped(self, error: BaseException) -> bool:
        """Stop the detached command being followed, waiting at most _STOP_WAIT seconds (not at
        all when the host stayed away: the follower has given up on reaching it)."""
        key = self.follower.current_key
        if key is None or isinstance(error, StepDetached):
            return False
        done = threading.Event()

        def stop() -> None:
            with contextlib.suppress(Exception):
                if self.follower.cancel(key) in ("cancelled", "ended"):
                    done.set()

        threading.Thread(target=stop, name="armjit-stop-step", daemon=True).start()
        return done.wait(_STOP_WAIT)

    @classmethod
    def begin(
        cls,
        host: Host,
        settings: Settings,
        run_id: str,
        remote_run: str,
        command: str,
        progress: Progress,
        *,
        attachable: bool = True,
    ) -> HostWork:
        """Take the work dir's lease (HostBusy when another run keeps it) and make the follower.
        ``attachable``: the run can be followed again with ``attach`` (a baseline)."""
        # The driver venv is shared by runs of other work dirs: its lease is taken too.
        lease = Lease(
            host, settings.remote_workdir, owner_facts(run_id, remote_run, command), also=[settings.driver_venv]
        )
        lease.acquire(wait=settings.wait, timeout=settings.wait_timeout, notify=progress.message)
        follower = Follower(
            host,
            remote_run,
            settings.remote_python,
            reconnect_for=settings.reconnect_for,
            stall_after=max(10.0, 2.0 * settings.connect_timeout),
            notify=progress.message,
            hint=_hint(run_id, attachable=attachable),
            poll_extra=lease.touch_shell,
        )
        return cls(host, run_id, lease, follower, attachable)

    def end(self, error: BaseException | None, progress: Progress) -> None:
        """Release the lease, or keep it when a detached step of this run goes on on the host.
        A run nobody can attach to stops that step first, and keeps the lease only when the host
        does not answer within a bounded wait (the lease goes stale once the step ends)."""
        still = self.follower.current
        if isinstance(error, LeaseLost):
            # Another run holds the work dir now: stop this run's own command there, touch nothing else.
            self.lease.keep()
            if still is not None:
                self._stopped(error)
            return
        if still is not None and error is not None and not self.attachable and self._stopped(error):
            self.lease.release_soon(_STOP_WAIT)
            return
        if still is not None and error is not None:
            # Left while following a detached step (Ctrl-C, a lost connection, a changed host
            # key): the step goes on on the host, so the run keeps the host until attach or cancel.
            self.lease.keep()
            if not isinstance(error, StepDetached):  # its own message already says this
                hint = _hint(self.run_id, attachable=self.attachable)
                progress.message(f"{still} is still running on {self.host.name}: {hint}")
            return
        if error is not None and not self.attachable:
            self.lease.release_soon()  # the connection may be dead: a lease left behind goes stale
            return
        self.lease.release()


def lease_holder(host: Host, workdir: str) -> Holder | None:
    """Who holds ``workdir`` on ``host`` (for ``invoke hosts``)."""
    return holder_of(host, workdir)


def resumed_settings(record: RunRecord, given: Mapping[str, Any], explicit: set[str]) -> tuple[Settings, set[str]]:
    """The settings ``record`` ran with; of the ``given`` ones only those that say how to reach
    and wait for the host (SESSION_SETTINGS) and were given explicitly replace them."""
    if not isinstance(record.settings, dict):
        raise UsageError(f"run {record.run_id} recorded no settings: it cannot be resumed")
    known = {spec.name for spec in setting_specs()}
    recorded = {k: v for k, v in record.settings.items() if k in known and v is not None}
    session = {k: given[k] for k in SESSION_SETTINGS if k in explicit and k in given}
    settings = merge_settings(cli={**recorded, **session})
    return settings, set(record.explicit_settings or []) | set(session)


def resumable(reports: Path, ref: str | None) -> RunDir:
    """The baseline run ``ref`` names (latest: the newest one that did not end ok), checked that it
    can go on: it did not end ok, and no armjit on this machine is still driving it."""
    store = RunStore(reports / "runs")
    if ref in (None, "", "latest"):
        run = store.latest(lambda r: r.record().kind == "baseline" and r.status() in RESUMABLE)
        if run is None:
            raise UsageError(f"no baseline to attach to under {store.root}: every run there ended ok")
    else:
        run = store.resolve(ref)
    record = run.record()
    if record.kind != "baseline":
        raise UsageError(f"run {run.run_id} is a {record.kind} run: only baselines can be resumed")
    status = run.status()
    if status not in RESUMABLE:
        raise UsageError(f"run {run.run_id} ended {status}: nothing to go on with")
    if status == "running" and liveness.owner_alive(record.owner) is True:
        pid = (record.owner or {}).get("pid")
        raise UsageError(f"run {run.run_id} is still driven by armjit (pid {pid}) on this machine")
    if record.remote is None or not record.remote.run_dir:
        raise UsageError(f"run {run.run_id} recorded no run dir on the host: it cannot be resumed")
    return run


def cancellable(reports: Path, ref: str) -> RunDir:
    """The run ``cancel`` stops: of any kind, as long as it recorded its run dir on the host."""
    run = RunStore(reports / "runs").resolve(ref)
    record = run.record()
    if record.remote is None or not record.remote.run_dir:
        raise UsageError(f"run {run.run_id} recorded no run dir on the host: nothing to cancel")
    return run


def cancel_run(host: Host, settings: Settings, run: RunDir) -> list[str]:
    """Stop what ``run`` still runs on ``host``, give back its lease, mark it interrupted.
    Returns the detached steps that were stopped."""
    record = run.record()
    remote_run = record.remote.run_dir if record.remote else None
    if not remote_run:
        raise UsageError(f"run {run.run_id} recorded no run dir on the host: nothing to cancel")
    follower = Follower(
        host,
        remote_run,
        settings.remote_python,
        reconnect_for=settings.reconnect_for,
        stall_after=max(10.0, 2.0 * settings.connect_timeout),
        notify=lambda _text: None,
        hint=_hint(run.run_id),
    )
    stopped = follower.cancel_all()
    lease = Lease(
        host, settings.remote_workdir, owner_facts(run.run_id, remote_run, "cancel"), also=[settings.driver_venv]
    )
    lease.release_run()
    if run.status() in ("running", "abandoned", "detached"):
        from armjit.seams.records import Failure

        record.status = "interrupted"
        record.failure = Failure(None, "cancelled with invoke cancel")
        with contextlib.suppress(OSError):
            run.save(record)
    return stopped


def reopen(run: RunDir, repo: Path | None, commit: str | None) -> tuple[RunDir, RunRecord, str, dict[str, StepRecord]]:
    """A run to go on with: its record made running again, its remote run dir, its steps that passed."""
    record = run.record()
    recorded = record.commit
    deployed = any(s.name == "deploy" and s.status == "ok" for s in record.steps or [])
    if repo is not None and not deployed and recorded and commit and commit != recorded:
        raise UsageError(
            f"run {run.run_id} measures {recorded[:10]}, but its branch is at {commit[:10]} now and the tree "
            "was not deployed yet: start a new baseline"
        )
    prior = {s.name: s for s in record.steps or [] if s.status in ("ok", "skipped")}
    record.status, record.failure, record.finished, record.owner = "running", None, None, None
    assert record.remote is not None and record.remote.run_dir  # checked by hostwork.resumable
    return run, record, record.remote.run_dir, prior
