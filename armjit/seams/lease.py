"""One run per host work dir at a time: a lease directory on the host, beside the work dir.

The lease is a directory made with ``mkdir`` (atomic on every POSIX file system: of two runs, one
makes it, the other sees it), holding ``owner.json`` (local user, machine, run id, pid, start
time, command, the run's directory on the host) and ``heartbeat`` (touched by its holder while it
works, and with every poll of a detached step). It sits beside the work dir, not in it, because a
deploy deletes what the synced tree does not hold.

A lease is stale when its heartbeat is older than ``STALE`` seconds and none of its run's
supervisors beats any more: its holder is gone (armjit killed, machine off) and nothing of its
run still works on the host. A stale lease is taken over with a warning. The same run taking its
lease again (attach, resume) simply takes it. Read-only tasks never ask for it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import shlex
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from armjit.errors import ArmjitError
from armjit.seams.hosts import Host
from armjit.seams.hosts.detached import state_root

__all__ = ["STALE", "Holder", "HostBusy", "Lease", "beside", "holder_of", "lease_dir", "owner_facts"]

q = shlex.quote
STALE = 120  # seconds without a heartbeat after which a lease may be stale
BEAT = 30  # seconds between heartbeats while the holder works
_SUPERVISOR_FRESH = 60  # seconds: a supervisor whose heartbeat is younger still works


class HostBusy(ArmjitError):
    """Another run holds the host work dir (not bad input: try again later, or --wait)."""

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
    """Who takes the lease: this user, machine and process, the run and what it does."""
    return {
        "user": getpass.getuser(),
        "machine": socket.gethostname(),
        "run_id": run_id,
        "pid": os.getpid(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "remote_run": remote_run,
    }


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
    """Who holds ``workdir``'s lease on ``host`` (None: nobody). Reads only."""
    lease = lease_dir(host.expand(workdir))
    result = host.run(f"[ -d {q(lease)} ] || exit 3; {_inspect_shell(lease)}", timeout=60)
    return _parse_holder(result.stdout) if result.ok else None


class Lease:
    """The lease of one work dir, for one run."""

    def __init__(self, host: Host, workdir: str, owner: dict[str, Any]) -> None:
        self.host = host
        self.path = lease_dir(host.expand(workdir))
        self.owner = owner
        self.run_id = str(owner["run_id"])
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None
        self._warnings: list[str] = []

    def acquire(self, *, wait: bool, timeout: int, notify: Callable[[str], None]) -> None:
        """Take the lease; while another run holds it, wait (a progress line now and then) up to
        ``timeout`` seconds or, without ``wait``, raise HostBusy at once."""
        deadline = time.monotonic() + timeout
        said = 0.0
        while True:
            holder = self._try()
            for warning in self._warnings:
                notify(warning)
            self._warnings.clear()
            if holder is None:
                self.start_heartbeat()
                return
            line = f"host busy: {holder.line()}"
            if not wait:
                raise HostBusy(f"{line} on {self.host.name} (--wait to wait for it)")
            now = time.monotonic()
            if now >= deadline:
                raise HostBusy(f"{line}; waited {timeout}s on {self.host.name}")
            if now - said >= 30:
                notify(f"{line}; waiting (up to {int(deadline - now)}s more)")
                said = now
            time.sleep(min(5.0, max(0.1, deadline - now)))

    def _try(self) -> Holder | None:
        """One attempt: None when the lease is ours now, else its holder."""
        d, owner = q(self.path), q(json.dumps(self.owner))
        script = (
            f"mkdir -p {q(self.path.rpartition('/')[0] or '/')} && if mkdir {d} 2>/dev/null; then "
            f"printf '%s\\n' {owner} > {d}/owner.json && touch {d}/heartbeat && echo armjit-lease-ours; "
            f"else {_inspect_shell(self.path)}; fi"
        )
        result = self.host.run(script, timeout=60)
        if "armjit-lease-ours" in result.stdout:
            return None
        if not result.ok:
            raise ArmjitError(f"cannot take the lease {self.host.name}:{self.path}: {result.tail(1)}")
        holder = _parse_holder(result.stdout) or Holder({}, None)
        if holder.run_id == self.run_id:  # this run again (attach, resume): it is ours
            self._write_owner()
            return None
        if self._stale(holder):
            return self._take_over(holder)
        return holder

    def _stale(self, holder: Holder) -> bool:
        if holder.heartbeat_age is not None and holder.heartbeat_age < STALE:
            return False
        remote_run = str(holder.owner.get("remote_run") or "")
        if not remote_run:
            return True
        steps = q(f"{state_root(remote_run)}/steps")
        probe = self.host.run(
            f"find {steps} -mindepth 2 -maxdepth 2 -name heartbeat -newermt '-{_SUPERVISOR_FRESH} seconds' "
            "2>/dev/null | head -n 1",
            timeout=60,
        )
        return probe.ok and not probe.stdout.strip()

    def _take_over(self, holder: Holder) -> Holder | None:
        """Move the stale lease aside (only if it still names the same owner) and take a new one."""
        aside = q(f"{self.path}.stale-{self.run_id}")
        d = q(self.path)
        expected = q(str(holder.run_id))
        script = (
            f"grep -qF -- {expected} {d}/owner.json 2>/dev/null || [ ! -s {d}/owner.json ] || exit 4; "
            f"mv {d} {aside} && rm -rf {aside}"
        )
        if not self.host.run(script, timeout=60).ok:
            return holder  # someone else took it over first: look again next time
        age = holder.heartbeat_age
        self._warnings.append(f"warning: took over the stale lease of {holder.line()} (no heartbeat for {age}s)")
        return self._try()

    def _write_owner(self) -> None:
        d, owner = q(self.path), q(json.dumps(self.owner))
        tmp = q(f"{self.path}/owner.json.tmp")
        self.host.run(f"printf '%s\\n' {owner} > {tmp} && mv {tmp} {d}/owner.json && touch {d}/heartbeat", timeout=60)
        self.start_heartbeat()

    def touch_shell(self) -> str:
        """The heartbeat as a shell fragment (sent with every poll of a detached step)."""
        d = q(self.path)
        return f"{{ grep -qF -- {q(self.run_id)} {d}/owner.json 2>/dev/null && touch {d}/heartbeat; true; }}"

    def start_heartbeat(self) -> None:
        if self._beater is not None:
            return

        def beat() -> None:
            while not self._stop.wait(BEAT):
                with contextlib.suppress(Exception):
                    self.host.run(self.touch_shell(), timeout=30)

        self._beater = threading.Thread(target=beat, name="armjit-lease", daemon=True)
        self._beater.start()

    def release(self) -> None:
        """Give the lease back (only if it is still this run's)."""
        self._stop.set()
        d = q(self.path)
        with contextlib.suppress(Exception):
            self.host.run(f"grep -qF -- {q(self.run_id)} {d}/owner.json 2>/dev/null && rm -rf {d}; true", timeout=30)

    def release_soon(self, wait: float = 1.0) -> None:
        """Release, waiting at most ``wait`` seconds: on the way out of an interrupted or failed run,
        where the connection may be dead (a lease left behind is taken over once it goes stale)."""
        worker = threading.Thread(target=self.release, name="armjit-lease-release", daemon=True)
        worker.start()
        worker.join(wait)

    def keep(self) -> None:
        """Stop beating but leave the lease: the run's work goes on on the host (attach takes it again)."""
        self._stop.set()
