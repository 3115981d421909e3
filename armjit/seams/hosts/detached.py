"""Long commands that outlive the connection: started under the host's supervisor, followed by polls.

A detached command has a key, unique within its run (``build-wheel-1``), and a state directory
on the host named after it (see ``supervise.py`` for what it holds). Starting is idempotent: a key
whose directory exists is never started again, it is followed (still running) or read back
(ended), so a resumed run re-joins what is running and measures nothing twice. A different
command under the same key is refused.

Following polls the state (one short command per poll). A poll that does not answer within
``stall_after`` seconds is a stalled connection, one that fails is a lost one: either way one
line names the host and the step, the session is dropped without waiting on it, and the follower
reconnects with backoff for ``reconnect_for`` seconds before giving up with ``StepDetached``,
whose message says how to go on. The command keeps running on the host all along. Ctrl-C stops
the following, never the command (``cancel`` does that).
"""

from __future__ import annotations

import base64
import codecs
import json
import shlex
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from armjit.errors import ArmjitError, ConnectionLost, HostUnreachable
from armjit.seams.hosts.base import Host
from armjit.seams.hosts.command import CommandResult, LineSink, LineTap, wrap_command

T = TypeVar("T")

__all__ = ["Follower", "StepDetached", "StepState", "parse_poll", "state_root", "supervisor_source"]

q = shlex.quote
SUPERVISOR = "supervise.py"
START_GRACE = 60.0  # seconds a started supervisor may take to write its first state


class StepDetached(ConnectionLost):
    """The connection stayed away longer than allowed; the step goes on on the host."""


class _Stalled(Exception):
    """A poll got no answer in time."""


# What a reconnect may cure; a changed host key or a refused login is never retried.
_RECONNECT = (_Stalled, ConnectionLost, HostUnreachable, OSError, EOFError)


@dataclass(frozen=True)
class StepState:
    """One poll's answer: started? supervisor alive? exit code once ended, new output."""

    started: bool
    alive: bool
    heartbeat_age: float | None
    exit_code: int | None
    seconds: float | None
    cancelled: bool
    out_size: int
    err_size: int
    out: bytes
    err: bytes


def parse_poll(text: str) -> StepState:
    """The supervisor's ``poll`` line as a StepState (pure). ValueError when it is not one."""
    line = next((ln for ln in reversed(text.splitlines()) if ln.startswith("{")), "")
    data = json.loads(line) if line else None
    if not isinstance(data, dict):
        raise ValueError("no poll answer")
    ended = data.get("exit")
    exit_code = seconds = None
    cancelled = False
    if isinstance(ended, dict):
        exit_code = int(ended.get("exit_code", 255))
        seconds = float(ended.get("end", 0)) - float(ended.get("start", 0))
        cancelled = bool(ended.get("cancelled"))
    age = data.get("heartbeat_age")
    return StepState(
        started=bool(data.get("started")),
        alive=bool(data.get("alive")),
        heartbeat_age=float(age) if isinstance(age, int | float) else None,
        exit_code=exit_code,
        seconds=seconds,
        cancelled=cancelled,
        out_size=int(data.get("out_size") or 0),
        err_size=int(data.get("err_size") or 0),
        out=base64.b64decode(data.get("out") or ""),
        err=base64.b64decode(data.get("err") or ""),
    )


# Seconds one poll waits on the host for news (an end, output): the follower sees a short
# benchmark process end within 50 ms, with one poll (one SSH exec) per POLL_WAIT while it runs.
# Well below the stall timeout, which a poll that waits must never reach.
POLL_WAIT = 2.0


def supervisor_source() -> Path:
    return Path(str(resources.files("armjit.seams.hosts") / SUPERVISOR))


def state_root(remote_run: str) -> str:
    """Where a run's detached steps keep their state on the host."""
    return f"{remote_run.rstrip('/')}/.armjit"


def _in_thread(call: Callable[[], Any], seconds: float) -> Any:
    """``call()`` in a helper thread; _Stalled when it has not returned after ``seconds``. The
    main thread waits on an Event, so Ctrl-C reaches it at once."""
    done = threading.Event()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="armjit-poll", daemon=True).start()
    deadline = time.monotonic() + seconds
    while not done.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
        if time.monotonic() >= deadline:
            raise _Stalled()
    if "error" in box:
        raise box["error"]
    return box["value"]


class Follower:
    """Starts and follows one run's detached commands on ``host``."""

    def __init__(
        self,
        host: Host,
        remote_run: str,
        python: str,
        *,
        reconnect_for: int,
        stall_after: float,
        notify: Callable[[str], None],
        hint: str,
        poll_extra: Callable[[], str] = lambda: "",
    ) -> None:
        self.host = host
        self.root = state_root(host.expand(remote_run))
        self.python = python
        self.reconnect_for = reconnect_for
        self.stall_after = stall_after
        self.notify = notify
        self.hint = hint  # e.g. "invoke attach --run RUN (or invoke cancel RUN)"
        self.poll_extra = poll_extra  # a shell fragment run with every poll (the lease's heartbeat)
        self._uploaded = False
        self.rerun_failed = False  # set when going on with a run: its failed commands run again
        self.current: str | None = None  # the label being followed (for "still running" messages)
        self.current_key: str | None = None  # its key (to stop it)

    # -- starting -------------------------------------------------------------------------
    def _supervisor(self) -> str:
        path = f"{self.root}/{SUPERVISOR}"
        if not self._uploaded:
            made = self.host.run(f"mkdir -p {q(self.root)}/steps", timeout=60)
            if not made.ok:
                raise ArmjitError(f"cannot create {self.host.name}:{self.root}: {made.tail(1)}")
            self.host.put(supervisor_source(), path)
            self._uploaded = True
        return path

    def state_dir(self, key: str) -> str:
        return f"{self.root}/steps/{key}"

    def _start(self, key: str, full: str) -> None:
        sup, state = self._supervisor(), self.state_dir(key)
        s = q(state)
        launch = (
            f"printf '%s' {q(full)} > {s}/command.sh && cd / && "
            f"{{ setsid nohup {q(self.python)} {q(sup)} run {s} >{s}/supervisor.log 2>&1 </dev/null & }} "
            f"&& echo armjit-started"
        )
        # Going on with a run (resume), a command that failed or lost its supervisor (a full
        # disk, a reboot) runs again; its old state is kept beside, renamed. Within one run, and
        # for commands that ran or still run, the state is only followed: nothing runs twice.
        again = (
            f"if {q(self.python)} {q(sup)} failed {s}; then mv {s} {s}.failed-$(date +%s)-$$ && mkdir {s} && {launch}; "
            f"else echo armjit-exists; fi"
            if self.rerun_failed
            else "echo armjit-exists"
        )
        script = (
            f"if mkdir {s} 2>/dev/null; then {launch}; "
            f'elif [ "$(cat {s}/command.sh 2>/dev/null)" = {q(full)} ]; then {again}; '
            f"else echo armjit-other; fi"
        )
        result = self.host.run(script, timeout=60)
        if "armjit-other" in result.stdout:
            raise ArmjitError(
                f"{self.host.name}:{state} ran another command under this step: the run's settings changed "
                "since it started (resume with the recorded settings)"
            )
        if result.exit_code == 255 and "armjit-" not in result.stdout:
            # Lost while starting: starting again is safe (an existing state dir is only followed).
            raise ConnectionLost(result.stderr.strip() or "connection lost")
        if not result.ok or "armjit-" not in result.stdout:
            raise ArmjitError(f"cannot start {key} on {self.host.name}: {result.tail(1) or result.exit_code}")

    # -- following -------------------------------------------------------------------------
    def run(
        self,
        key: str,
        command: str,
        *,
        label: str,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: int | None = None,
        on_line: LineSink | None = None,
        log: Path | None = None,
    ) -> CommandResult:
        """Run ``command`` detached under ``key`` (or re-join it) and follow it to its end."""
        # exec: timeout(1) becomes the supervisor's child and stays in its process group (it would
        # make a group of its own under a shell), so cancel ends the whole tree.
        full = "exec " + wrap_command(command, env=env, cwd=self.host.expand(cwd) if cwd else None, timeout=timeout)
        self.current, self.current_key = label, key
        started = time.monotonic()
        self.reconnecting(label, lambda: self._start(key, full))
        out, err = bytearray(), bytearray()
        decoders = [codecs.getincrementaldecoder("utf-8")("replace") for _ in range(2)]
        handle = log.open("a", encoding="utf-8", errors="replace") if log else None
        taps = [LineTap(on_line, handle), LineTap(on_line, handle)]
        try:
            state = self._follow(key, label, out, err, decoders, taps)
        finally:
            for tap, decoder in zip(taps, decoders, strict=True):
                tap.write(decoder.decode(b"", final=True))
                tap.close_tap()
            if handle:
                handle.close()
        self.current = self.current_key = None
        exit_code = state.exit_code if state.exit_code is not None else 255
        seconds = state.seconds if state.seconds is not None else time.monotonic() - started
        stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        if state.exit_code is None:
            stderr += f"\nthe supervisor of {key} on {self.host.name} died before the command ended"
        return CommandResult(command, exit_code, stdout, stderr, seconds, timed_out=exit_code == 124)

    def _follow(
        self, key: str, label: str, out: bytearray, err: bytearray, decoders: list[Any], taps: list[LineTap]
    ) -> StepState:
        state_dir = self.state_dir(key)
        first = time.monotonic()
        pause = 0.05  # until the supervisor has started (it takes about one interpreter start)
        sessions = self.host.sessions
        while True:
            state = self.reconnecting(label, lambda: self._poll(state_dir, len(out), len(err)))
            if self.host.sessions > sessions and sessions:
                # The session dropped between two polls and the poll reconnected by itself.
                self.notify(f"connection to {self.host.name} lost during {label}: reconnected, the step went on")
            sessions = self.host.sessions
            for buffer, chunk, decoder, tap in zip((out, err), (state.out, state.err), decoders, taps, strict=True):
                buffer.extend(chunk)
                if chunk:
                    tap.write(decoder.decode(chunk))
            more = len(out) < state.out_size or len(err) < state.err_size
            if more:
                continue
            if state.exit_code is not None:
                return state
            if state.started and not state.alive:
                # Once more: it may have ended between reading its state and its pid.
                again = self.reconnecting(label, lambda: self._poll(state_dir, len(out), len(err)))
                if again.exit_code is None and not again.alive:
                    return again
                continue
            if not state.started and time.monotonic() - first > START_GRACE:
                raise ArmjitError(f"{label} did not start on {self.host.name} (see {state_dir}/supervisor.log)")
            if state.started and state.alive:
                continue  # the poll itself waited on the host for something to happen
            time.sleep(pause)
            pause = min(pause * 1.5, 2.0)

    def _poll(self, state_dir: str, out_offset: int, err_offset: int) -> StepState:
        extra = self.poll_extra()
        command = (
            f"{q(self.python)} {q(self.root)}/{SUPERVISOR} poll {q(state_dir)} {out_offset} {err_offset} {POLL_WAIT}"
        )
        if extra:
            command = f"{extra}; {command}"
        result: CommandResult = _in_thread(lambda: self.host.run(command, timeout=60), self.stall_after)
        try:
            return parse_poll(result.stdout)
        except ValueError:
            if result.exit_code in (1, 2, 126, 127) and result.stderr.strip():
                # The host answered, with an error: no reconnect cures that.
                raise ArmjitError(f"cannot follow {state_dir} on {self.host.name}: {result.tail(1)}") from None
            # No answer (the session died under the poll: exit 255, or -1 shown as 124).
            raise ConnectionLost(result.stderr.strip() or "connection lost") from None

    def reconnecting(
        self,
        label: str,
        call: Callable[[], T],
        *,
        on_host: bool = True,
        tries: int | None = None,
    ) -> T:
        """``call()``; on a stalled or lost connection, reconnect with backoff for a bounded time
        and call again (``call`` must be safe to repeat: a poll, a start, a download, a sync).
        ``on_host``: the work goes on on the host meanwhile (a detached step), so giving up is
        StepDetached; else (work driven from here, like a deploy) the last error. ``tries``: give
        up after that many failed calls too (an error that a reconnect does not cure)."""
        give_up: float | None = None
        delay = 1.0
        failed = 0
        while True:
            try:
                value = call()
            except _RECONNECT as exc:
                now = time.monotonic()
                failed += 1
                if give_up is None:
                    what = "stalled" if isinstance(exc, _Stalled) else "lost"
                    meanwhile = "the step goes on on the host" if on_host else "what arrived is kept"
                    self.notify(
                        f"connection to {self.host.name} {what} during {label}: reconnecting for up to "
                        f"{self.reconnect_for}s ({meanwhile})"
                    )
                    give_up = now + self.reconnect_for
                self.host.reset()
                if now >= give_up or (tries is not None and failed >= tries):
                    if not on_host:
                        raise
                    raise StepDetached(
                        f"{self.host.name} unreachable for {self.reconnect_for}s during {label}; it goes on on the "
                        f"host: {self.hint}"
                    ) from None
                time.sleep(min(delay, max(0.0, give_up - now)))
                delay = min(delay * 2, 15.0)
                try:
                    _in_thread(self.host.open, self.stall_after + 10)
                except _RECONNECT:
                    continue
                continue
            if give_up is not None:
                again = "following" if on_host else "going on with"
                self.notify(f"connection to {self.host.name} back: {again} {label} again")
            return value

    # -- stopping ---------------------------------------------------------------------------
    def cancel_all(self) -> list[str]:
        """End every detached command of this run that still runs; the keys that were running."""
        listing = self.host.run(f"ls -1 {q(self.root)}/steps 2>/dev/null || true", timeout=60)
        return [key for key in listing.stdout.split() if self.cancel(key) == "cancelled"]

    def cancel(self, key: str) -> str:
        """End detached command ``key`` if it still runs: ``cancelled``, ``ended`` (it had ended
        already) or ``still-running``."""
        sup = f"{self.root}/{SUPERVISOR}"
        done = self.host.run(f"{q(self.python)} {q(sup)} cancel {q(self.state_dir(key))}", timeout=90)
        words = done.stdout.split()
        return words[-1] if words and words[-1] in ("cancelled", "ended") else "still-running"

    def running(self) -> list[str]:
        """Keys of this run whose supervisor still runs (its heartbeat is fresh)."""
        script = (
            f'for d in {q(self.root)}/steps/*/; do [ -e "$d/exit.json" ] && continue; '
            f'[ -n "$(find "$d" -maxdepth 1 -name heartbeat -newermt \'-30 seconds\' 2>/dev/null)" ] && '
            f'basename "$d"; done; true'
        )
        return self.host.run(script, timeout=60).stdout.split()
