"""The one seam for side effects on a machine: ``LocalHost`` (invoke Context) and ``SshHost``
(fabric Connection) behind one interface.

Every command runs as the same bash script on both kinds of host, so behaviour does not depend
on where it runs:

- environment values are embedded with ``shlex.quote`` (fabric would inline them unquoted);
- ``timeout -k 5 N`` on the host kills the command tree when a step overruns (without a pty an
  SSH channel closing does not kill the remote process);
- the process group id is written to a pid file so Ctrl-C can kill the remote tree too.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from armjit.errors import ArmjitError, UsageError

__all__ = [
    "DEFAULT_KNOWN_HOSTS",
    "CommandResult",
    "Host",
    "LocalHost",
    "SshHost",
    "SshTarget",
    "connect",
    "local_command",
    "opened",
    "quote_env",
    "wrap_command",
]

LineSink = Callable[[str], None]
_KILL_GRACE = 5
_DEFAULT_TIMEOUT = 6 * 3600


@dataclass(frozen=True)
class CommandResult:
    """What a command did. ``exit_code`` 124 with ``timed_out`` means the step timeout killed it."""

    command: str
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def tail(self, lines: int = 20) -> str:
        text = (self.stdout + ("\n" + self.stderr if self.stderr else "")).rstrip("\n")
        return "\n".join(text.splitlines()[-lines:])


def quote_env(env: Mapping[str, str]) -> str:
    """``export K='v' ...;`` with every value quoted: spaces and quotes arrive intact."""
    parts = []
    for key, value in env.items():
        if not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise UsageError(f"environment variable name {key!r} is not valid")
        parts.append(f"export {key}={shlex.quote(str(value))};")
    return " ".join(parts)


def wrap_command(
    command: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout: int | None = None,
    pidfile: str | None = None,
) -> str:
    """The bash text a host runs for ``command`` (pure, so the exact command can be tested)."""
    script = ""
    if cwd:
        script += f"cd {shlex.quote(cwd)} && "
    if env:
        script += quote_env(env) + " "
    script += command
    inner = f"bash -c {shlex.quote(script)}"
    if timeout:
        # timeout(1) puts itself and its children in their own process group and kills it.
        inner = f"timeout -k {_KILL_GRACE} {int(timeout)} {inner}"
    if pidfile:
        return f"echo $$ > {shlex.quote(pidfile)}; exec {inner}"
    return inner


class _LineTap(io.TextIOBase):
    """A write-only stream that cuts output into lines for a callback (progress, logs)."""

    def __init__(self, sink: LineSink | None, log: io.TextIOBase | None) -> None:
        self._sink = sink
        self._log = log
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._log is not None:
            self._log.write(text)
        if self._sink is not None:
            buffer = self._partial + text
            *lines, self._partial = buffer.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for line in lines:
                self._sink(line)
        return len(text)

    def flush(self) -> None:
        if self._log is not None:
            self._log.flush()

    def close_tap(self) -> None:
        if self._partial and self._sink is not None:
            self._sink(self._partial)
        self._partial = ""


class Host(Protocol):
    """What steps need from a machine. Paths are host paths (strings; ``~`` allowed)."""

    name: str
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

    def open(self) -> None: ...

    def put(self, local: Path, remote: str) -> None: ...

    def get(self, remote: str, local: Path) -> None: ...

    def expand(self, path: str) -> str: ...

    def close(self) -> None: ...


class _BashHost:
    """Shared logic: wrapping, pid files, interrupt handling, logging. Subclasses supply I/O."""

    name: str
    is_local: bool

    def __init__(self) -> None:
        self._session = uuid.uuid4().hex[:12]
        self._counter = 0
        self._home: str | None = None
        self._lock = threading.Lock()

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
        timeout = timeout or _DEFAULT_TIMEOUT  # the pid file needs timeout(1)'s process group
        with self._lock:
            self._counter += 1
            pidfile = f"/tmp/armjit-{self._session}-{self._counter}.pid"
        full = wrap_command(command, env=env, cwd=self.expand(cwd) if cwd else None, timeout=timeout, pidfile=pidfile)
        context = self._context()  # connects first: connection errors are one-line UsageErrors
        log_handle = log.open("a", encoding="utf-8", errors="replace") if log else None
        out_tap = _LineTap(on_line, log_handle)
        err_tap = _LineTap(on_line, log_handle)
        started = time.monotonic()
        try:
            promise = context.run(
                full,
                warn=True,
                hide=False,
                in_stream=False,
                out_stream=out_tap,
                err_stream=err_tap,
                timeout=(timeout + _KILL_GRACE + 30) if timeout else None,
                asynchronous=True,
            )
            result = _join_interruptibly(promise)
            exit_code, stdout, stderr = result.exited, result.stdout, result.stderr
        except KeyboardInterrupt:
            self._kill_group(pidfile)
            raise
        except ArmjitError:
            raise
        except Exception as exc:  # invoke CommandTimedOut, lost connections
            exit_code, stdout, stderr = _failure_from(exc)
            self._kill_group(pidfile)
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

    def home(self) -> str:
        if self._home is None:
            result = self._context().run('printf %s "$HOME"', warn=True, hide=True, in_stream=False)
            self._home = result.stdout.strip() or "/root"
        return self._home

    def _kill_group(self, pidfile: str) -> None:
        quoted = shlex.quote(pidfile)
        with contextlib.suppress(Exception):
            self._control(f'[ -f {quoted} ] && kill -TERM -- -"$(cat {quoted})" 2>/dev/null; true')

    def _cleanup_pidfiles(self) -> None:
        with contextlib.suppress(Exception):
            self._control(f"rm -f /tmp/armjit-{self._session}-*.pid")


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


def local_command(argv: list[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> CommandResult:
    """Run an argv on this machine without a shell (git and friends on the engineer's side)."""
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env={**os.environ, **env} if env else None,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except FileNotFoundError:
        raise UsageError(f"{argv[0]} is not installed on this machine") from None
    return CommandResult(shlex.join(argv), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


class LocalHost(_BashHost):
    """This machine, through an invoke Context (the embedded default, ``--host local``)."""

    is_local = True

    def __init__(self) -> None:
        super().__init__()
        from invoke import Config, Context

        self.name = "local"
        self._ctx = Context(Config(overrides={"run": {"in_stream": False}}))

    def open(self) -> None:
        """Nothing to connect to: this machine."""

    def _context(self) -> Any:
        return self._ctx

    def _control(self, command: str) -> None:
        subprocess.run(["bash", "-c", command], check=False, capture_output=True, timeout=30)

    def put(self, local: Path, remote: str) -> None:
        target = Path(self.expand(remote))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, target)

    def get(self, remote: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.expand(remote), local)

    def close(self) -> None:
        self._cleanup_pidfiles()


@dataclass(frozen=True)
class SshTarget:
    """Where and how to connect. ``user``/``port`` None = take them from ssh_config or defaults."""

    host: str
    user: str | None
    port: int | None
    key: str | None
    known_hosts: Path
    strict: bool
    ssh_config: Path | None
    connect_timeout: int

    @property
    def label(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}{':' + str(self.port) if self.port else ''}"


class SshHost(_BashHost):
    """A machine over SSH: one fabric Connection, TCP_NODELAY, keepalive, TOFU host keys."""

    is_local = False

    def __init__(self, target: SshTarget, *, default_user: str = "root", default_port: int = 22) -> None:
        super().__init__()
        import fabric

        self.target = target
        overrides: dict[str, Any] = {"run": {"in_stream": False}}
        if target.ssh_config is not None:
            if not target.ssh_config.is_file():
                raise UsageError(f"--ssh-config {target.ssh_config}: no such file")
            config = fabric.Config(runtime_ssh_path=str(target.ssh_config), overrides=overrides)
        else:
            config = fabric.Config(overrides=overrides)
        looked_up = config.base_ssh_config.lookup(target.host)
        user = target.user or looked_up.get("user") or default_user
        port = target.port or int(looked_up.get("port", default_port))
        connect_kwargs: dict[str, Any] = {}
        if target.key:
            key_path = Path(target.key).expanduser()
            if not key_path.is_file():
                raise UsageError(f"--key {target.key}: no such key file")
            connect_kwargs["key_filename"] = str(key_path)
        self._conn = fabric.Connection(
            target.host,
            user=user,
            port=port,
            config=config,
            connect_timeout=target.connect_timeout,
            connect_kwargs=connect_kwargs,
        )
        self.name = f"{user}@{self._conn.host}:{port}"
        self._user, self._port = user, port
        self._opened = False

    # Connecting is lazy so that building a host (e.g. for --help or validation) costs nothing.
    def open(self) -> None:
        if self._opened:
            return
        import paramiko

        client = self._conn.client
        known = self.target.known_hosts
        known.parent.mkdir(parents=True, exist_ok=True)
        known.touch(exist_ok=True)
        with contextlib.suppress(OSError, paramiko.SSHException):
            client.load_system_host_keys()
        try:
            client.load_host_keys(str(known))
        except (OSError, paramiko.SSHException) as exc:
            raise UsageError(f"cannot read known_hosts {known}: {exc}") from None
        policy = paramiko.RejectPolicy() if self.target.strict else paramiko.AutoAddPolicy()
        client.set_missing_host_key_policy(policy)
        try:
            self._conn.open()
        except paramiko.BadHostKeyException as exc:
            raise UsageError(
                f"host key of {self.name} changed (now {_fingerprint(exc.key)}, known "
                f"{_fingerprint(exc.expected_key)}): refusing to connect; if the host was reinstalled, "
                f"delete its line from {known}"
            ) from None
        except paramiko.AuthenticationException:
            raise UsageError(f"authentication to {self.name} failed: check --key / the ssh agent") from None
        except paramiko.SSHException as exc:
            if "not found in known_hosts" in str(exc):
                raise UsageError(
                    f"{self.name} is not in {known} and --strict-host-keys is on: add its key first "
                    "(ssh-keyscan) or connect once without strict mode"
                ) from None
            raise UsageError(f"ssh to {self.name} failed: {exc}") from None
        except socket.gaierror:
            raise UsageError(f"unknown host {self._conn.host!r}: not resolvable and not an ssh_config alias") from None
        except (TimeoutError, OSError) as exc:
            reason = "connection refused" if _is_refused(exc) else f"{type(exc).__name__}: {exc}".strip()
            raise UsageError(f"cannot reach {self.name}: {reason}") from None
        transport = self._conn.transport
        transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_keepalive(15)
        self._opened = True

    def _context(self) -> Any:
        self.open()
        return self._conn

    def _control(self, command: str) -> None:
        self._conn.run(command, warn=True, hide=True, in_stream=False, timeout=30)

    def put(self, local: Path, remote: str) -> None:
        self.open()
        try:
            self._conn.put(str(local), self.expand(remote))
        except OSError as exc:
            raise ArmjitError(f"upload of {local.name} to {self.name}:{remote} failed: {exc}") from None

    def get(self, remote: str, local: Path) -> None:
        self.open()
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn.get(self.expand(remote), str(local))
        except OSError as exc:
            raise ArmjitError(f"download of {self.name}:{remote} failed: {exc}") from None

    def close(self) -> None:
        if self._opened:
            self._cleanup_pidfiles()
            with contextlib.suppress(Exception):
                self._conn.close()
        self._opened = False


def _fingerprint(key: Any) -> str:
    import base64
    import hashlib

    digest = hashlib.sha256(key.asbytes()).digest()
    return f"{key.get_name()} SHA256:{base64.b64encode(digest).decode().rstrip('=')}"


def _is_refused(exc: BaseException) -> bool:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict):
        return any(isinstance(e, ConnectionRefusedError) for e in errors.values())
    return isinstance(exc, ConnectionRefusedError)


@contextlib.contextmanager
def opened(host: Host) -> Iterator[Host]:
    """Close the host (and its pid files) however the block ends."""
    try:
        yield host
    finally:
        host.close()


DEFAULT_KNOWN_HOSTS = Path("~/.config/armjit/known_hosts")


def connect(settings: Any) -> Host:
    """The host named by ``settings.host``: ``local`` or an SSH target (not opened yet)."""
    from armjit.config import parse_host

    if settings.is_local:
        return LocalHost()
    user, host, port = parse_host(settings.host, settings.user, settings.port)
    target = SshTarget(
        host=host,
        user=user or (settings.user if settings.user != "root" else None),
        port=port or (settings.port if settings.port != 22 else None),
        key=settings.key or None,
        known_hosts=Path(settings.known_hosts or DEFAULT_KNOWN_HOSTS).expanduser(),
        strict=settings.strict_host_keys,
        ssh_config=Path(settings.ssh_config).expanduser() if settings.ssh_config else None,
        connect_timeout=settings.connect_timeout,
    )
    return SshHost(target)
