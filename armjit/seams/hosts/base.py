"""The Host interface every step is written against, and the shared bash-running machinery.

A Host owns everything that reaches a machine: commands, file transfers, and rsync's transport
(``rsync_push``), so callers never build an ssh command line or ask which kind of host they hold.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from armjit.errors import ArmjitError
from armjit.seams.hosts.command import KILL_GRACE, CommandResult, LineSink, LineTap, wrap_command
from armjit.seams.safepaths import RESOLVE_SCRIPT, Account, PathFacts, parse_passwd, parse_resolved

__all__ = ["DEFAULT_TIMEOUT", "BashHost", "Host", "HostTrust", "LentHost"]

DEFAULT_TIMEOUT = 6 * 3600
CLEANUP_WAIT = 1.0


@dataclass(frozen=True)
class HostTrust:
    """How the host's key was trusted when the session opened: already ``known`` or saved now
    (trust on first use), and the known_hosts file that holds it."""

    known_hosts: Path
    first_use: bool


class Host(Protocol):
    """What steps need from a machine. Paths are host paths (strings; ``~`` allowed)."""

    name: str  # for people: "local" or user@address:port; never parsed back
    user: str  # the login user commands run as
    is_local: bool

    def run(
        self,
        command: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: int | None = None,
        on_line: LineSink | None = None,
        log: Path | None = None,
    ) -> CommandResult: ...

    def open(self) -> None:
        """Connect (typed errors: HostUnreachable, AuthFailed, HostKeyChanged, HostKeyUnknown)."""

    def put(self, local: Path, remote: str) -> None: ...

    def get(self, remote: str, local: Path) -> None: ...

    def expand(self, path: str) -> str: ...

    def resolve(self, paths: Sequence[str]) -> list[PathFacts]:
        """What each absolute path is on the host, in one command: its deepest existing ancestor
        resolved (symlinks followed) with the rest appended, whether it exists, the uid owning
        what exists of it, the login uid and the passwd database."""

    def accounts(self) -> tuple[Account, ...]:
        """The host's passwd database (for ``~user``)."""

    def close(self) -> None: ...

    def reset(self) -> None:
        """Drop the session without waiting on it (stalled or lost); the next command reconnects."""

    def interrupt(self) -> None:
        """Ctrl-C, from another thread: drop the session, and make this host's later commands raise
        KeyboardInterrupt instead of reconnecting, so its flow records where it stopped."""

    @property
    def sessions(self) -> int:
        """Sessions opened so far: more than one means it reconnected after a drop."""

    @property
    def rsync_capable(self) -> bool:
        """Can ``rsync_push`` work from this machine (rsync here; the host's own rsync is probed)?"""

    @property
    def trust(self) -> HostTrust | None:
        """The host key's trust once open; None for this machine."""

    def rsync_push(self, options: Sequence[str], source: Path, dest: str, *, timeout: int) -> CommandResult:
        """rsync ``source/`` into ``dest/`` on the host with ``options``; the host adds its transport."""


class BashHost:
    """Shared logic: wrapping, pid files, interrupt handling, logging. Subclasses supply I/O."""

    name: str
    user: str
    is_local: bool

    def __init__(self) -> None:
        self._session = uuid.uuid4().hex[:12]
        self._counter = 0
        self._home: str | None = None
        self._lock = threading.Lock()
        self.sessions = 0
        self._interrupted = False

    # -- subclass hooks -------------------------------------------------------------------
    def _context(self) -> Any:
        raise NotImplementedError

    def _control(self, command: str) -> None:
        """Run a short command out of band (used to kill a running one)."""
        raise NotImplementedError

    # -- public -----------------------------------------------------------------------------
    def run(
        self,
        command: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: int | None = None,
        on_line: LineSink | None = None,
        log: Path | None = None,
    ) -> CommandResult:
        timeout = timeout or DEFAULT_TIMEOUT  # the pid file needs timeout(1)'s process group
        with self._lock:
            self._counter += 1
            pidfile = f"/tmp/armjit-{self._session}-{self._counter}.pid"
        full = wrap_command(command, env=env, cwd=self.expand(cwd) if cwd else None, timeout=timeout, pidfile=pidfile)
        if self._interrupted:
            raise KeyboardInterrupt
        context = self._context()  # connects first: connection errors are typed, one line
        log_handle = log.open("a", encoding="utf-8", errors="replace") if log else None
        out_tap = LineTap(on_line, log_handle)
        err_tap = LineTap(on_line, log_handle)
        started = time.monotonic()
        try:
            promise = context.run(
                full,
                warn=True,
                hide=False,
                in_stream=False,
                out_stream=out_tap,
                err_stream=err_tap,
                timeout=(timeout + KILL_GRACE + 30) if timeout else None,
                asynchronous=True,
            )
            result = _join_interruptibly(promise)
            exit_code, stdout, stderr = result.exited, result.stdout, result.stderr
        except KeyboardInterrupt:
            if not self._kill_group(pidfile, context):
                # Said before the interrupt's own line: what may still run there and how to stop it.
                print(
                    f"armjit: {self.name} did not confirm stopping the command; it may still run there "
                    f"(its process group id is in {pidfile})",
                    file=sys.stderr,
                )
            raise
        except ArmjitError:
            raise
        except Exception as exc:  # invoke CommandTimedOut, lost connections
            exit_code, stdout, stderr = _failure_from(exc)
            self._kill_group(pidfile, context)
        finally:
            out_tap.close_tap()
            err_tap.close_tap()
            if log_handle:
                log_handle.close()
        seconds = time.monotonic() - started
        return CommandResult(command, exit_code, stdout, stderr, seconds, timed_out=exit_code == 124)

    def expand(self, path: str) -> str:
        if path == "~" or path.startswith("~/"):
            return self.home() + path[1:]
        return path

    def resolve(self, paths: Sequence[str]) -> list[PathFacts]:
        if not paths:
            return []
        args = " ".join(shlex.quote(p) for p in paths)
        result = self.run(f"bash -c {shlex.quote(RESOLVE_SCRIPT)} armjit-resolve {args}", timeout=60)
        try:
            if not result.ok:
                raise ValueError(result.tail(1) or f"exit {result.exit_code}")
            return parse_resolved(paths, result.stdout, self.home())
        except ValueError as exc:
            raise ArmjitError(f"cannot resolve {', '.join(paths)} on {self.name}: {exc}") from None

    def accounts(self) -> tuple[Account, ...]:
        result = self.run("getent passwd 2>/dev/null || cat /etc/passwd", timeout=60)
        if not result.ok:
            raise ArmjitError(f"cannot read the passwd database of {self.name}: {result.tail(1)}")
        return parse_passwd(result.stdout)

    def home(self) -> str:
        if self._home is None:
            result = self._context().run('printf %s "$HOME"', warn=True, hide=True, in_stream=False)
            self._home = result.stdout.strip() or "/root"
        return self._home

    def _session_alive(self, context: Any) -> bool:
        """Is ``context`` (what a command ran on) still the live session? Not after a reset."""
        return True

    def _kill_group(self, pidfile: str, context: Any) -> bool:
        """Stop a command's process group on the host; False when that could not be confirmed.
        Only over the session the command ran on: a kill sent over a dead or reset connection must
        never hold up the exit (``_control`` is bounded; the host's timeout ends the command)."""
        if not self._session_alive(context):
            return False
        quoted = shlex.quote(pidfile)
        try:
            self._control(f'[ -f {quoted} ] && kill -TERM -- -"$(cat {quoted})" 2>/dev/null; true')
        except Exception:
            return False
        return True

    def _cleanup_pidfiles(self) -> None:
        # Bounded: over a dead connection this would hang, and closing must never block an exit.
        def clean() -> None:
            with contextlib.suppress(Exception):
                self._control(f"rm -f /tmp/armjit-{self._session}-*.pid")

        worker = threading.Thread(target=clean, name="armjit-cleanup", daemon=True)
        worker.start()
        worker.join(CLEANUP_WAIT)

    def reset(self) -> None:
        """Nothing to drop by default (this machine has no session)."""

    def interrupt(self) -> None:
        self._interrupted = True
        self.reset()


def _join_interruptibly(promise: Any) -> Any:
    """Wait for an asynchronous invoke command so that Ctrl-C reaches us at once.

    invoke's own wait swallows Ctrl-C until a remote command without a pty ends by itself, which
    for a wheel build can be many minutes; here the main thread waits on an Event instead (signals
    interrupt it) while a helper thread joins the command.
    """
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def join() -> None:
        try:
            outcome["result"] = promise.join()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=join, name="armjit-join", daemon=True).start()
    while not done.wait(0.5):
        pass
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _failure_from(exc: Exception) -> tuple[int, str, str]:
    result = getattr(exc, "result", None)
    if result is not None:
        return (124 if result.exited in (-1, None) else result.exited), result.stdout, result.stderr
    return 255, "", f"{type(exc).__name__}: {exc}"


class LentHost:
    """A host the caller opened and still owns, handed to a flow: everything goes through to it
    except ``close``, so the flow's usual clean-up leaves the caller's session open."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self.name = host.name
        self.user = host.user
        self.is_local = host.is_local

    @property
    def sessions(self) -> int:
        return self._host.sessions

    def run(
        self,
        command: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: int | None = None,
        on_line: LineSink | None = None,
        log: Path | None = None,
    ) -> CommandResult:
        return self._host.run(command, env=env, cwd=cwd, timeout=timeout, on_line=on_line, log=log)

    def open(self) -> None:
        self._host.open()

    def put(self, local: Path, remote: str) -> None:
        self._host.put(local, remote)

    def get(self, remote: str, local: Path) -> None:
        self._host.get(remote, local)

    def expand(self, path: str) -> str:
        return self._host.expand(path)

    def resolve(self, paths: Sequence[str]) -> list[PathFacts]:
        return self._host.resolve(paths)

    def accounts(self) -> tuple[Account, ...]:
        return self._host.accounts()

    def close(self) -> None:
        """The owner closes it."""

    def reset(self) -> None:
        self._host.reset()

    def interrupt(self) -> None:
        self._host.interrupt()

    @property
    def rsync_capable(self) -> bool:
        return self._host.rsync_capable

    @property
    def trust(self) -> HostTrust | None:
        return self._host.trust

    def rsync_push(self, options: Sequence[str], source: Path, dest: str, *, timeout: int) -> CommandResult:
        return self._host.rsync_push(options, source, dest, timeout=timeout)
