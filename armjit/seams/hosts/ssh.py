"""A machine over SSH: one fabric Connection (TCP_NODELAY, keepalive), armjit's host-key policy,
typed connection errors, and the OpenSSH transport rsync uses to reach the same machine."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Sequence
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
from armjit.seams.hosts import keys
from armjit.seams.hosts.base import BashHost, HostTrust
from armjit.seams.hosts.command import CommandResult, local_command

__all__ = ["SshHost", "SshTarget", "configured_identities"]


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


class SshHost(BashHost):
    """A machine over SSH. Connecting is lazy, so building one (for --help or validation) costs nothing."""

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
        self.user = target.user or looked_up.get("user") or default_user
        self.port = target.port or int(looked_up.get("port", default_port))
        connect_kwargs: dict[str, Any] = {}
        if target.key:
            key_path = Path(target.key).expanduser()
            if not key_path.is_file():
                raise UsageError(f"--key {target.key}: no such key file")
            connect_kwargs["key_filename"] = str(key_path)
        self._connection_args: dict[str, Any] = {
            "user": self.user,
            "port": self.port,
            "config": config,
            "connect_timeout": target.connect_timeout,
            "connect_kwargs": connect_kwargs,
        }
        self._conn = fabric.Connection(target.host, **self._connection_args)
        self.address = self._conn.host  # the resolved HostName: what the host key is filed under
        self.name = f"{self.user}@{self.address}:{self.port}"
        self._opened = False
        self._open_lock = threading.Lock()
        self._trust: HostTrust | None = None

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
        if self._opened and self._conn.is_connected:
            return
        if self._opened:
            # A dropped session: start from a new Connection, or fabric would hand out the SFTP
            # client it cached on the dead one ("Socket is closed" on the next download).
            self.reset()
        import paramiko

        client = self._conn.client
        known = self.known_hosts
        known.parent.mkdir(parents=True, exist_ok=True)
        known.touch(exist_ok=True)
        with contextlib.suppress(OSError, paramiko.SSHException):
            client.load_system_host_keys()
        try:
            client.load_host_keys(str(known))
        except (OSError, paramiko.SSHException) as exc:
            raise UsageError(f"cannot read known_hosts {known}: {exc}") from None
        policy = keys.KeyPolicy(known, strict=self.target.strict, label=self.name)
        client.set_missing_host_key_policy(policy)  # paramiko only calls its missing_host_key
        self._connect(known)
        self.sessions += 1
        transport = self._conn.transport
        transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_keepalive(15)
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
            raise HostUnreachable(f"ssh to {self.name} failed: {exc}") from None
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

    def _session_alive(self, context: Any) -> bool:
        return context is self._conn and bool(self._conn.is_connected)

    def _control(self, command: str) -> None:
        self._conn.run(command, warn=True, hide=True, in_stream=False, timeout=30)

    def put(self, local: Path, remote: str) -> None:
        self.open()
        try:
            self._conn.put(str(local), self.expand(remote))
        except (OSError, EOFError) as exc:
            raise self._transfer_error(f"upload of {local.name} to {self.name}:{remote}", exc) from None

    def get(self, remote: str, local: Path) -> None:
        self.open()
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn.get(self.expand(remote), str(local))
        except (OSError, EOFError) as exc:
            raise self._transfer_error(f"download of {self.name}:{remote}", exc) from None

    def _transfer_error(self, what: str, exc: BaseException) -> ArmjitError:
        if not self._conn.is_connected:
            return ConnectionLost(f"{what} failed: connection lost ({exc or type(exc).__name__})")
        return ArmjitError(f"{what} failed: {exc}")

    def reset(self) -> None:
        """Give up the current session without waiting for it (a stalled or dropped one): its
        socket is shut at once, so anything blocked on it wakes; the next command reconnects."""
        import fabric

        old, self._conn = self._conn, fabric.Connection(self.target.host, **self._connection_args)
        self._opened = False
        transport = old.transport
        if transport is not None and transport.sock is not None:
            with contextlib.suppress(OSError):
                transport.sock.shutdown(socket.SHUT_RDWR)
        threading.Thread(target=_quietly_close, args=(old,), name="armjit-drop", daemon=True).start()

    def close(self) -> None:
        if self._opened:
            self._cleanup_pidfiles()
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
        parts += keys.openssh_options(self.known_hosts, self.address, self.port)
        parts += ["-o", "LogLevel=ERROR"]
        if control_dir is not None:
            parts += ["-o", "ControlMaster=auto", "-o", f"ControlPath={control_dir}/%C", "-o", "ControlPersist=300"]
        return " ".join(shlex.quote(p) for p in parts)

    def rsync_push(self, options: Sequence[str], source: Path, dest: str, *, timeout: int) -> CommandResult:
        # armjit's own session first: it applies the key policy (and saves a first-use key), so
        # OpenSSH's strict check below finds the key recorded.
        self.open()
        shell = self.rsync_shell(control_dir=_control_dir())
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


def configured_identities(ssh_config: Path | None, host: str) -> list[str]:
    """IdentityFile entries that ssh_config gives ``host`` and that exist (no connection made)."""
    import paramiko

    path = Path(ssh_config or "~/.ssh/config").expanduser()
    if not path.is_file():
        return []
    try:
        config = paramiko.SSHConfig.from_path(str(path))
    except (OSError, paramiko.SSHException):
        return []
    files: list[str] = list(config.lookup(host).get("identityfile", []))
    return [f for f in files if Path(f).expanduser().is_file()]


def _quietly_close(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.close()


def _is_refused(exc: BaseException) -> bool:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict):
        return any(isinstance(e, ConnectionRefusedError) for e in errors.values())
    return isinstance(exc, ConnectionRefusedError)


def _control_dir() -> Path | None:
    """A private directory for ssh control sockets (short path: sockets are limited to ~100 bytes)."""
    if not hasattr(os, "getuid"):
        return None
    path = Path(tempfile.gettempdir()) / f"armjit-ssh-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except OSError:
        return None
    # Someone else's directory, or one others can write to, must not hold our sockets.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return path
