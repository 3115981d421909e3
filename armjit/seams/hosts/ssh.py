"""A machine over SSH: one fabric Connection (TCP_NODELAY, keepalive), armjit's host-key policy,
typed connection errors, and the OpenSSH transport rsync uses to reach the same machine."""

from __future__ import annotations

import contextlib
import errno
import shlex
import shutil
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armjit.errors import (
    ArmjitError,
    AuthFailed,
    ConnectionLost,
    HostKeyChanged,
    HostKeyUnknown,
    HostUnreachable,
    UsageError,
)
from armjit.seams.hosts import keys, space
from armjit.seams.hosts import known_hosts as known_hosts_files
from armjit.seams.hosts.base import BashHost, HostTrust
from armjit.seams.hosts.command import CommandResult, LineSink, local_command
from armjit.seams.hosts.keepalive import Keepalive
from armjit.seams.hosts.ssh_inputs import config_port, control_dir, quiet_library_logs, warn_once

__all__ = [
    "CONTROL_WAIT",
    "KILL_WAIT",
    "SshHost",
    "SshTarget",
]


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
    keepalive_interval: int = 15
    keepalive_count: int = 3


# How long an interrupt waits for a sign of life from the host (the kill's answer or a keepalive
# answer): Ctrl-C must end armjit promptly even when the connection is dead (the kill then cannot
# arrive, and the user is told so). A host that answers gets KILL_WAIT for the kill itself.
CONTROL_WAIT = 1.0
KILL_WAIT = 30.0


class SshHost(BashHost):
    """A machine over SSH. Connecting is lazy, so building one (for --help or validation) costs nothing."""

    is_local = False

    def __init__(self, target: SshTarget, *, default_user: str = "root", default_port: int = 22) -> None:
        super().__init__()
        import fabric
        import paramiko

        quiet_library_logs()
        self.target = target
        overrides: dict[str, Any] = {"run": {"in_stream": False}}
        where = str(target.ssh_config) if target.ssh_config else "~/.ssh/config or /etc/ssh/ssh_config"
        if target.ssh_config is not None and not target.ssh_config.is_file():
            raise UsageError(f"--ssh-config {target.ssh_config}: no such file")
        connect_kwargs: dict[str, Any] = {}
        if target.key:
            key_path = Path(target.key).expanduser()
            if not key_path.is_file():
                raise UsageError(f"--key {target.key}: no such key file")
            connect_kwargs["key_filename"] = str(key_path)
        try:
            if target.ssh_config is not None:
                config = fabric.Config(runtime_ssh_path=str(target.ssh_config), overrides=overrides)
            else:
                config = fabric.Config(overrides=overrides)
            looked_up = config.base_ssh_config.lookup(target.host)
            self.user = target.user or looked_up.get("user") or default_user
            self.port = target.port or config_port(looked_up, default_port, where)
            self._connection_args: dict[str, Any] = {
                "user": self.user,
                "port": self.port,
                "config": config,
                "connect_timeout": target.connect_timeout,
                "connect_kwargs": connect_kwargs,
            }
            self._conn = fabric.Connection(target.host, **self._connection_args)
        except UsageError:
            raise
        except (paramiko.SSHException, UnicodeDecodeError, ValueError, TypeError, KeyError, OSError) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise UsageError(f"cannot use ssh_config {where} for {target.host!r}: {detail}") from None
        self.address = self._conn.host  # the resolved HostName: what the host key is filed under
        self.name = f"{self.user}@{self.address}:{self.port}"
        self._opened = False
        self._open_lock = threading.Lock()
        self._trust: HostTrust | None = None
        self._keepalive: Keepalive | None = None
        self._unanswered = False  # a control command got no answer: the connection is not usable

    @property
    def known_hosts(self) -> Path:
        return self.target.known_hosts.expanduser()

    def open(self) -> None:
        """Connect, or reconnect after a drop: every session passes the same host-key policy."""
        if self._opened and self._conn.is_connected:
            return
        with self._open_lock:  # one reconnect at a time (the lease's heartbeat runs in a thread)
            self._open()

    def _open(self) -> None:
        if self._interrupted:
            raise KeyboardInterrupt  # Ctrl-C of a fleet: this host's flow stops, it does not reconnect
        if self._opened and self._conn.is_connected:
            return
        if self._opened:
            # A dropped session: start from a new Connection, or fabric would hand out the SFTP
            # client it cached on the dead one ("Socket is closed" on the next download).
            self.reset()
        client = self._conn.client
        known = self.known_hosts
        # Both files are read as OpenSSH reads them (armjit.seams.hosts.known_hosts); paramiko
        # only ever sees the keys filed for this one host, and never writes a file itself.
        name = keys.known_hosts_name(self.address, self.port)
        found = known_hosts_files.lookup([known, Path(keys.USER_KNOWN_HOSTS).expanduser()], name)
        warn_once(found.warnings)
        trusted = client.get_host_keys()  # in memory only: armjit never calls save_host_keys
        trusted.clear()
        for entry in found.known:
            trusted.add(name, entry.keytype, entry.pkey())
        policy = keys.KeyPolicy(known, strict=self.target.strict, label=self.name, found=found)
        client.set_missing_host_key_policy(policy)  # paramiko only calls its missing_host_key
        self._connect(known)
        self.sessions += 1
        transport = self._conn.transport
        try:
            keys.check_not_revoked(found, transport.get_remote_server_key(), self.name, known)
        except HostKeyChanged:
            self._conn.close()
            raise
        try:
            policy.save()
        except UsageError:
            self._conn.close()
            raise
        transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._keepalive = Keepalive(
            transport,
            interval=self.target.keepalive_interval,
            count=self.target.keepalive_count,
            on_dead=transport.close,
        )
        self._unanswered = False
        if self._trust is None:  # a reconnect keeps what the first session found
            self._trust = HostTrust(known, policy.first_use)
        self._opened = True

    def _connect(self, known: Path) -> None:
        """fabric's open, with paramiko's and the socket's failures turned into typed one-liners."""
        import paramiko

        try:
            self._conn.open()
        except HostKeyUnknown:
            raise
        except paramiko.BadHostKeyException as exc:
            raise HostKeyChanged(
                f"host key of {self.name} changed (now {keys.fingerprint(exc.key)}, known "
                f"{keys.fingerprint(exc.expected_key)}): refusing to connect; if the host was reinstalled, "
                f"delete its line from {known}",
                str(known),
            ) from None
        except paramiko.AuthenticationException:
            raise AuthFailed(f"authentication to {self.name} failed: check --key / the ssh agent") from None
        except paramiko.SSHException as exc:
            if "banner" in str(exc):
                raise HostUnreachable(
                    f"ssh to {self.name} failed: what answered there is not an SSH server (no SSH protocol banner)"
                ) from None
            raise HostUnreachable(f"ssh to {self.name} failed: {' '.join(str(exc).split())}") from None
        except socket.gaierror:
            raise HostUnreachable(
                f"unknown host {self.address!r}: not resolvable and not an ssh_config alias"
            ) from None
        except (TimeoutError, OSError) as exc:
            reason = "connection refused" if _is_refused(exc) else f"{type(exc).__name__}: {exc}".strip()
            raise HostUnreachable(f"cannot reach {self.name}: {reason}") from None

    @property
    def trust(self) -> HostTrust | None:
        return self._trust

    def _context(self) -> Any:
        self.open()
        return self._conn

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
        result = super().run(command, env=env, cwd=cwd, timeout=timeout, on_line=on_line, log=log)
        keepalive = self._keepalive
        if keepalive is not None and keepalive.dead:
            raise ConnectionLost(
                f"connection to {self.name} lost: no answer to keepalives for {keepalive.limit_seconds:.0f}s "
                f"(--keepalive-interval {keepalive.interval:.0f} x --keepalive-count {keepalive.count})"
            )
        return result

    @property
    def _responsive(self) -> bool:
        return not self._unanswered and not (self._keepalive is not None and self._keepalive.dead)

    def _session_alive(self, context: Any) -> bool:
        return context is self._conn and bool(self._conn.is_connected)

    def _control(self, command: str) -> None:
        """A short command out of band (a kill, a clean-up), never waiting long for a dead host.

        It runs in a daemon thread while a keepalive asks whether the host answers at all. A
        live host (a loaded one can take seconds to run the kill) gets KILL_WAIT; one that shows
        no sign of life within CONTROL_WAIT counts as unanswered, and nothing more is sent."""
        keepalive = self._keepalive
        if not self._responsive:
            raise ConnectionLost(f"{self.name} does not answer")
        done = threading.Event()

        def send() -> None:
            with contextlib.suppress(Exception):
                self._conn.run(command, warn=True, hide=True, in_stream=False, timeout=int(KILL_WAIT))
            done.set()

        threading.Thread(target=send, name="armjit-control", daemon=True).start()
        asked = keepalive.probe() if keepalive is not None else None
        deadline = time.monotonic() + CONTROL_WAIT
        while not done.wait(0.05):
            alive = keepalive is not None and asked is not None and keepalive.answered_since(asked)
            if alive and done.wait(KILL_WAIT):
                return
            if alive or time.monotonic() > deadline:
                self._unanswered = True
                raise ConnectionLost(f"{self.name} did not answer within {CONTROL_WAIT:g}s")

    def put(self, local: Path, remote: str) -> None:
        import paramiko

        self.open()
        try:
            self._conn.put(str(local), self.expand(remote))
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._transfer_error(f"upload of {local.name} to {self.name}:{remote}", exc, remote) from None

    def get(self, remote: str, local: Path) -> None:
        import paramiko

        self.open()
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn.get(self.expand(remote), str(local))
        except (OSError, EOFError, paramiko.SSHException) as exc:  # a drop mid-transfer: "Server connection dropped"
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise ArmjitError(
                    f"download of {self.name}:{remote} failed: no space left on device on local:{local.parent}"
                ) from None
            raise self._transfer_error(f"download of {self.name}:{remote}", exc) from None

    def _transfer_error(self, what: str, exc: BaseException, remote: str | None = None) -> ArmjitError:
        # EOF and paramiko's "Server connection dropped" come from the transport, before it is
        # marked closed: a lost connection, whatever is_connected still says.
        if not self._conn.is_connected or not isinstance(exc, OSError):
            return ConnectionLost(f"{what} failed: connection lost ({exc or type(exc).__name__})")
        # SFTP reports a full disk as a bare "Failure": ask the host whether that is the reason.
        full = self._full_dir(remote) if remote else None
        if full:
            return ArmjitError(f"{what} failed: no space left on device on {self.name}:{full}")
        return ArmjitError(f"{what} failed: {exc}")

    def _full_dir(self, remote: str) -> str | None:
        try:
            probe = self.run(space.free_space_command([self.expand(remote)]), timeout=60)
        except ArmjitError:
            return None
        found = space.parse_free_space(probe.stdout)
        return found[0][1] if found and found[0] is not None and found[0][0] < space.FULL_BYTES else None

    def reset(self) -> None:
        """Give up the current session without waiting for it (a stalled or dropped one): its
        socket is shut at once, so anything blocked on it wakes; the next command reconnects."""
        import fabric

        old, self._conn = self._conn, fabric.Connection(self.target.host, **self._connection_args)
        self._opened = False
        if self._keepalive is not None:  # it watched the old session
            self._keepalive.stop()
            self._keepalive = None
        self._unanswered = False
        transport = old.transport
        if transport is not None and transport.sock is not None:
            with contextlib.suppress(OSError):
                transport.sock.shutdown(socket.SHUT_RDWR)
        threading.Thread(target=_quietly_close, args=(old,), name="armjit-drop", daemon=True).start()

    def close(self) -> None:
        if self._opened:
            if self._responsive:
                self._cleanup_pidfiles()
            if self._keepalive is not None:
                self._keepalive.stop()
            transport = self._conn.transport
            if not self._responsive and transport is not None:
                transport.close()  # first, so that nothing below waits on the dead session
            with contextlib.suppress(Exception):
                self._conn.close()
        self._opened = False

    # -- rsync's transport ---------------------------------------------------------------------

    @property
    def rsync_capable(self) -> bool:
        return shutil.which("rsync") is not None

    def rsync_shell(self, *, control_dir: Path | None = None) -> str:
        """The ``rsync -e`` text: the same user, port, key and host-key files as this session.

        With ``control_dir`` the OpenSSH connection is kept for a few minutes (ControlPersist), so
        the next sync in an edit-run loop skips the ssh handshake, most of a no-op rsync's time.
        """
        parts = ["ssh", "-l", self.user, "-p", str(self.port)]
        if self.target.ssh_config is not None:
            parts += ["-F", str(self.target.ssh_config)]
        if self.target.key:
            parts += ["-i", str(Path(self.target.key).expanduser()), "-o", "IdentitiesOnly=yes"]
        parts += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.target.connect_timeout}"]
        parts += ["-o", f"ServerAliveInterval={self.target.keepalive_interval}"]
        parts += ["-o", f"ServerAliveCountMax={self.target.keepalive_count}"]
        parts += keys.openssh_options(self.known_hosts, self.address, self.port)
        parts += ["-o", "LogLevel=ERROR"]
        if control_dir is not None:
            parts += ["-o", "ControlMaster=auto", "-o", f"ControlPath={control_dir}/%C", "-o", "ControlPersist=300"]
        return " ".join(shlex.quote(p) for p in parts)

    def rsync_push(self, options: Sequence[str], source: Path, dest: str, *, timeout: int) -> CommandResult:
        # armjit's own session first: it applies the key policy (and saves a first-use key), so
        # OpenSSH's strict check below finds the key recorded.
        self.open()
        shell = self.rsync_shell(control_dir=control_dir())
        target = f"{self.target.host}:{self.expand(dest).rstrip('/')}/"
        result = local_command(["rsync", *options, "-e", shell, f"{source}/", target], timeout=timeout)
        if not result.ok:  # rsync exits 12 or 255 when its ssh refused; ssh says why
            self._raise_for_host_key(result.stderr)
        return result

    def _raise_for_host_key(self, stderr: str) -> None:
        """OpenSSH refused the host key: the same typed errors as paramiko's refusal."""
        known = str(self.known_hosts)
        if "has changed" in stderr or "IDENTIFICATION HAS CHANGED" in stderr:
            raise HostKeyChanged(
                f"host key of {self.name} changed since this session checked it: rsync refused to connect; "
                f"if the host was reinstalled, delete its line from {known}",
                known,
            )
        if "host key is known" in stderr and "strict checking" in stderr:
            raise HostKeyUnknown(
                f"rsync found no key for {self.name} in {known} (strict checking): connect once with armjit first",
                known,
            )


def _quietly_close(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.close()


def _is_refused(exc: BaseException) -> bool:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict):
        return any(isinstance(e, ConnectionRefusedError) for e in errors.values())
    return isinstance(exc, ConnectionRefusedError)
