"""One run per host work dir at a time: a lease directory on the host, beside the work dir.

The lease is a directory made with ``mkdir`` (atomic on every POSIX file system: of two runs, one
makes it, the other sees it), holding ``owner.json`` (local user, machine, run id, pid, start
time, command, the run's directory on the host) and ``heartbeat`` (touched by its holder while it
works, and with every poll of a detached step). It sits beside the work dir, not in it, because a
deploy deletes what the synced tree does not hold.

The lease is keyed by the resolved work dir (the flows resolve it on the host first), so two
spellings of one directory share one lease; a run also takes the lease of its driver venv, which
runs of other work dirs share. Leases are taken in path order, so two runs never wait on each other.

Each holder has a random token. A run checks, before each step and before a deploy deletes
anything, that its leases still carry its token (:meth:`Lease.check`); one that lost a lease
stops with ``LeaseLost`` ("lease lost to RUN") and touches nothing more.

A lease is taken over only when its holder is gone: none of its run's supervisors beats any more
and its process no longer exists (same machine: boot id, pid and process start time checked,
see :mod:`armjit.seams.liveness`). A holder whose process lives but whose heartbeat is older
than ``STALE`` seconds (stopped with SIGSTOP, say) is a warning, not a takeover. A holder on
another machine cannot be checked that way: its lease is taken over once its heartbeat is older
than ``STALE`` seconds, and the token fences it should it wake up. The same run taking its lease
again (attach, resume) takes it with a new token. Read-only tasks never ask for it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import secrets
import shlex
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from armjit.errors import ArmjitError
from armjit.seams import liveness
from armjit.seams.hosts import Host
from armjit.seams.hosts.detached import state_root

__all__ = [
    "STALE",
    "Holder",
    "HostBusy",
    "Lease",
    "LeaseLost",
    "beside",
    "holder_gone",
    "holder_of",
    "lease_dir",
    "owner_facts",
]

q = shlex.quote
STALE = 120  # seconds without a heartbeat after which a lease may be stale
BEAT = 30  # seconds between heartbeats while the holder works
_SUPERVISOR_FRESH = 60  # seconds: a supervisor whose heartbeat is younger still works
_CHECK_EVERY = 5.0  # seconds between lease checks sent with the polls of a detached step


class HostBusy(ArmjitError):
    """Another run holds the host work dir (not bad input: try again later, or --wait)."""

    exit_code = 1


class LeaseLost(ArmjitError):
    """Another run took this run's lease: it must stop at once and touch nothing more."""

    exit_code = 1


def beside(workdir: str, what: str) -> str:
    """``/x/y/work``, ``lease`` -> ``/x/y/.work.armjit-lease``: a path next to the work dir, not in
    it, because a deploy deletes what the synced tree does not hold."""
    parent, _, name = workdir.rstrip("/").rpartition("/")
    return f"{parent or ''}/.{name}.armjit-{what}"


def lease_dir(workdir: str) -> str:
    """``/x/y/work`` -> ``/x/y/.work.armjit-lease``."""
    return beside(workdir, "lease")


def owner_facts(run_id: str, remote_run: str, command: str) -> dict[str, Any]:
    """Who takes the lease: this user, machine and process (with the boot id and the process
    start time, so a reused pid is not taken for it), the run and what it does, a fresh token."""
    process = liveness.owner()
    return {
        "user": getpass.getuser(),
        "machine": socket.gethostname(),
        "run_id": run_id,
        "pid": os.getpid(),
        "boot_id": process.get("boot_id"),
        "process_start": process.get("process_start"),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "remote_run": remote_run,
        "token": secrets.token_hex(16),
    }


def holder_gone(owner: dict[str, Any]) -> bool | None:
    """Has the holder's process ended? None when this machine cannot tell (another machine)."""
    alive = liveness.owner_alive(
        {
            "pid": owner.get("pid"),
            "hostname": owner.get("machine"),
            "boot_id": owner.get("boot_id"),
            "process_start": owner.get("process_start"),
        }
    )
    return None if alive is None else not alive


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, and how long ago it last beat."""

    owner: dict[str, Any]
    heartbeat_age: int | None

    @property
    def run_id(self) -> str:
        return str(self.owner.get("run_id") or "")

    def line(self) -> str:
        """``user@machine (run R, pid P: command) since TIME``: the one way a holder is named."""
        o = self.owner
        who = f"{o.get('user', '?')}@{o.get('machine', '?')}"
        what = f"run {self.run_id or '?'}, pid {o.get('pid', '?')}: {o.get('command', '?')}"
        return f"{who} ({what}) since {o.get('started', '?')}"


def _parse_holder(text: str) -> Holder | None:
    """The holder from the lines the acquire/inspect scripts print (pure)."""
    owner: dict[str, Any] = {}
    age: int | None = None
    for line in text.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                owner = data if isinstance(data, dict) else {}
        elif line.startswith("armjit-lease-age "):
            with contextlib.suppress(ValueError):
                age = int(line.split()[1])
    return Holder(owner, age) if owner or age is not None else None


def _inspect_shell(lease: str) -> str:
    d = q(lease)
    return (
        f"cat {d}/owner.json 2>/dev/null; echo; "
        f'echo "armjit-lease-age $(( $(date +%s) - $(stat -c %Y {d}/heartbeat 2>/dev/null || echo 0) ))"'
    )


def holder_of(host: Host, workdir: str) -> Holder | None:
    """Who holds ``workdir``'s lease on ``host`` (None: nobody), the work dir taken as what it
    resolves to there (an alias names the same lease). Reads only."""
    path = host.expand(workdir)
    with contextlib.suppress(ArmjitError):
        path = host.resolve([path])[0].resolved
    lease = lease_dir(path)
    result = host.run(f"[ -d {q(lease)} ] || exit 3; {_inspect_shell(lease)}", timeout=60)
    return _parse_holder(result.stdout) if result.ok else None


class Lease:
    """The leases of one work dir (and the driver venv given in ``also``), for one run."""

    def __init__(self, host: Host, workdir: str, owner: dict[str, Any], *, also: Sequence[str] = ()) -> None:
        self.host = host
        self.path = lease_dir(host.expand(workdir))
        self.paths = sorted({self.path, *(lease_dir(host.expand(p)) for p in also)})
        self.token = str(owner.get("token") or secrets.token_hex(16))
        self.owner = {**owner, "token": self.token}
        self.run_id = str(owner["run_id"])
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None
        self._warnings: list[str] = []
        self._warned: set[str] = set()
        self._held: list[str] = []
        self.lost: str | None = None  # the run that took a lease of this run's, once seen
        self._checked = 0.0  # when check() last ran (monotonic)

    def acquire(self, *, wait: bool, timeout: int, notify: Callable[[str], None]) -> None:
        """Take the leases (in path order); while another run holds one, wait (a progress line now
        and then) up to ``timeout`` seconds or, without ``wait``, raise HostBusy at once."""
        deadline = time.monotonic() + timeout
        said = 0.0
        for path in self.paths:
            while True:
                holder = self._try(path)
                for warning in self._warnings:
                    notify(warning)
                self._warnings.clear()
                if holder is None:
                    self._held.append(path)
                    break
                line = f"host busy: {holder.line()}"
                now = time.monotonic()
                if not wait or now >= deadline:
                    self.release()
                    if not wait:
                        raise HostBusy(f"{line} on {self.host.name} (--wait to wait for it)")
                    raise HostBusy(f"{line}; waited {timeout}s on {self.host.name}")
                if now - said >= 30:
                    notify(f"{line}; waiting (up to {int(deadline - now)}s more)")
                    said = now
                time.sleep(min(5.0, max(0.1, deadline - now)))
        self._stop.clear()
        self.start_heartbeat()

    def _try(self, path: str) -> Holder | None:
        """One attempt at ``path``: None when the lease is ours now, else its holder."""
        d, owner = q(path), q(json.dumps(self.owner))
        script = (
            f"mkdir -p {q(path.rpartition('/')[0] or '/')} && if mkdir {d} 2>/dev/null; then "
            f"printf '%s\\n' {owner} > {d}/owner.json && touch {d}/heartbeat && echo armjit-lease-ours; "
            f"else {_inspect_shell(path)}; fi"
        )
        result = self.host.run(script, timeout=60)
        if "armjit-lease-ours" in result.stdout:
            return None
        if not result.ok:
            raise ArmjitError(f"cannot take the lease {self.host.name}:{path}: {result.tail(1)}")
        holder = _parse_holder(result.stdout) or Holder({}, None)
        if holder.run_id == self.run_id:  # this run again (attach, resume): it is ours, with our token
            self._write_owner(path)
            return None
        if self._gone(path, holder):
            return self._take_over(path, holder)
        return holder

    def _gone(self, path: str, holder: Holder) -> bool:
        """Is the holder gone: nothing of its run beats on the host, and its process has ended
        (or, on another machine, where that cannot be checked, its heartbeat is stale)?"""
        if self._supervisor_beats(holder):
            return False
        gone = holder_gone(holder.owner) if holder.owner else None
        stale = holder.heartbeat_age is None or holder.heartbeat_age >= STALE
        if gone is None:
            return stale
        if not gone and stale and path not in self._warned:
            self._warned.add(path)
            self._warnings.append(
                f"warning: {holder.line()} has not beaten for {holder.heartbeat_age}s, but its process still "
                "exists (stopped?): its lease is not taken over"
            )
        return gone

    def _supervisor_beats(self, holder: Holder) -> bool:
        remote_run = str(holder.owner.get("remote_run") or "")
        if not remote_run:
            return False
        steps = q(f"{state_root(remote_run)}/steps")
        probe = self.host.run(
            f"find {steps} -mindepth 2 -maxdepth 2 -name heartbeat -newermt '-{_SUPERVISOR_FRESH} seconds' "
            "2>/dev/null | head -n 1",
            timeout=60,
        )
        return not probe.ok or bool(probe.stdout.strip())

    def _take_over(self, path: str, holder: Holder) -> Holder | None:
        """Move the lease of a gone holder aside (only if it still names that holder) and take a new one."""
        aside = q(f"{path}.stale-{self.run_id}")
        d = q(path)
        expected = q(str(holder.owner.get("token") or holder.run_id))
        script = (
            f"grep -qF -- {expected} {d}/owner.json 2>/dev/null || [ ! -s {d}/owner.json ] || exit 4; "
            f"mv {d} {aside} && rm -rf {aside}"
        )
        if not self.host.run(script, timeout=60).ok:
            return holder  # someone else took it over first: look again next time
        why = f"no heartbeat for {holder.heartbeat_age}s"
        if holder_gone(holder.owner):
            why = f"its process {holder.owner.get('pid')} on {holder.owner.get('machine')} is gone"
        self._warnings.append(f"warning: took over the lease of {holder.line()} ({why})")
        return self._try(path)

    def _write_owner(self, path: str) -> None:
        d, owner = q(path), q(json.dumps(self.owner))
        tmp = q(f"{path}/owner.json.tmp")
        self.host.run(f"printf '%s\\n' {owner} > {tmp} && mv {tmp} {d}/owner.json && touch {d}/heartbeat", timeout=60)

    def _ours_test(self, paths: Sequence[str]) -> str:
        return " && ".join(f"grep -qF -- {q(self.token)} {q(p)}/owner.json 2>/dev/null" for p in paths) or "true"

    def touch_shell(self) -> str:
        """The heartbeat as a shell fragment (sent with every poll of a detached step); raises
        LeaseLost once another run's token is seen: the lease is checked with a poll every
        ``_CHECK_EVERY`` seconds, so a run that wakes up (SIGCONT) after losing it stops at once."""
        self.raise_if_lost()
        if time.monotonic() - self._checked >= _CHECK_EVERY:
            self.check()
        touches = " ".join(
            f"{{ grep -qF -- {q(self.token)} {q(p)}/owner.json 2>/dev/null && touch {q(p)}/heartbeat; }};"
            for p in self._held
        )
        return f"{{ {touches} true; }}"

    def raise_if_lost(self) -> None:
        if self.lost is not None:
            raise LeaseLost(f"lease lost to {self.lost}")

    def check(self) -> None:
        """Before a step or a delete: every lease still carries this run's token, else LeaseLost
        naming the run that holds it now."""
        self.raise_if_lost()
        if not self._held:
            return
        self._checked = time.monotonic()
        script = " ".join(
            f"grep -qF -- {q(self.token)} {q(p)}/owner.json 2>/dev/null || {{ echo armjit-lease-lost; "
            f"cat {q(p)}/owner.json 2>/dev/null; echo; exit 3; }};"
            for p in self._held
        )
        result = self.host.run(script, timeout=60)
        if result.exit_code == 3 and "armjit-lease-lost" in result.stdout:
            holder = _parse_holder(result.stdout)
            self.lost = (holder.run_id if holder else "") or "another run (its lease is gone)"
            self._stop.set()
            self.raise_if_lost()
        if not result.ok:
            raise ArmjitError(f"cannot check the lease on {self.host.name}: {result.tail(1) or result.exit_code}")

    def start_heartbeat(self) -> None:
        if self._beater is not None and self._beater.is_alive():
            return

        def beat() -> None:
            while not self._stop.wait(BEAT):
                with contextlib.suppress(Exception):
                    self.check()
                    self.host.run(self.touch_shell(), timeout=30)

        self._beater = threading.Thread(target=beat, name="armjit-lease", daemon=True)
        self._beater.start()

    def release(self) -> None:
        """Give the leases back (only those that still carry this run's token)."""
        self._stop.set()
        held, self._held = self._held, []
        script = " ".join(
            f"{{ grep -qF -- {q(self.token)} {q(p)}/owner.json 2>/dev/null && rm -rf {q(p)}; }};" for p in held
        )
        if script:
            with contextlib.suppress(Exception):
                self.host.run(f"{script} true", timeout=30)

    def release_run(self) -> None:
        """Give back the leases this run id holds, whichever process took them (``cancel``)."""
        self._stop.set()
        run = q(f'"run_id": {json.dumps(self.run_id)}')
        script = " ".join(
            f"{{ grep -qF -- {run} {q(p)}/owner.json 2>/dev/null && rm -rf {q(p)}; }};" for p in self.paths
        )
        with contextlib.suppress(Exception):
            self.host.run(f"{script} true", timeout=30)

    def release_soon(self, wait: float = 1.0) -> None:
        """Release, waiting at most ``wait`` seconds: on the way out of an interrupted or failed run,
        where the connection may be dead (a lease left behind is taken over once its holder is gone)."""
        worker = threading.Thread(target=self.release, name="armjit-lease-release", daemon=True)
        worker.start()
        worker.join(wait)

    def keep(self) -> None:
        """Stop beating but leave the lease: the run's work goes on on the host (attach takes it again)."""
        self._stop.set()
