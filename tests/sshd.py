"""A real OpenSSH sshd on 127.0.0.1 for tests (recipe: reference/ssh-sync-nox-recipes.md §2).

Each server lives in its own directory: ed25519 host and user keys, an sshd_config, a log, an
empty HOME (so the login shell does not source root's .bashrc: about 100 ms per command), and an
empty known_hosts file for the client under test. Processes are stopped by PID only: first the
per-connection children (they call setsid(), so killing the listener's group misses them), then
the listener.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["SSHD", "SshdHost", "SshdUnavailable", "descendants", "free_port", "start_sshd"]

SSHD = Path("/usr/sbin/sshd")  # absolute: sshd refuses to re-exec itself otherwise
INSTALL_HINT = "apt-get install openssh-server"
_READY_TIMEOUT = 10.0


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pids: list[int], seconds: float = 5.0) -> None:
    """SIGTERM is asynchronous: wait until the connection children are gone, then SIGKILL."""
    deadline = time.monotonic() + seconds
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in pids:
        if _running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class SshdUnavailable(RuntimeError):
    """sshd or ssh-keygen is not installed on this machine."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Server:
    """The mutable part (the running listener), shared by every copy of an ``SshdHost``."""

    process: subprocess.Popen[bytes] | None = None


@dataclass(frozen=True)
class SshdHost:
    """One sshd on 127.0.0.1:``port`` that accepts ``user`` with the private key ``key_path``."""

    host: str
    port: int
    user: str
    key_path: Path
    known_hosts_path: Path
    host_key_path: Path
    workdir: Path
    _server: _Server = field(default_factory=_Server, repr=False, compare=False)

    @property
    def config_path(self) -> Path:
        return self.workdir / "sshd_config"

    @property
    def log_path(self) -> Path:
        return self.workdir / "sshd.log"

    @property
    def home(self) -> Path:
        """The remote HOME (and the directory ``cd ~`` lands in)."""
        return self.workdir / "home"

    @property
    def pid(self) -> int | None:
        proc = self._server.process
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def with_known_hosts(self, path: Path) -> SshdHost:
        """The same server seen by a client with another known_hosts file (created empty)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        return replace(self, known_hosts_path=path)

    def start(self) -> None:
        """Start the listener on ``port`` (again, after ``stop``) and wait for its banner."""
        if self.running:
            return
        if os.geteuid() == 0:
            # /run is a tmpfs: the privilege separation directory may vanish between runs.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        with self.log_path.open("ab") as log:
            proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._server.process = proc
        try:
            self._wait_for_banner(proc)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the connections, then the listener (by PID). Open clients see their channel close."""
        proc = self._server.process
        if proc is None:
            return
        children = descendants(proc.pid)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        _wait_gone(children)
        self._server.process = None

    def regenerate_host_key(self) -> None:
        """Give the server a new host key (restarting it on the same port): a client that
        trusted the old key must now refuse it."""
        was_running = self.running
        self.stop()
        for path in (self.host_key_path, self.host_key_path.with_suffix(".pub")):
            path.unlink(missing_ok=True)
        _keygen(self.host_key_path)
        if was_running:
            self.start()

    def host_key_line(self) -> str:
        """The server's key as a known_hosts line (``[127.0.0.1]:PORT ssh-ed25519 AAAA...``)."""
        kind, blob = self.host_key_path.with_suffix(".pub").read_text().split()[:2]
        return f"[{self.host}]:{self.port} {kind} {blob}\n"

    def write_ssh_config(self, alias: str, path: Path | None = None) -> Path:
        """An ssh_config naming this server ``alias`` (HostName, Port, User, IdentityFile)."""
        target = path or self.workdir / "ssh_config"
        target.write_text(
            f"Host {alias}\n"
            f"    HostName {self.host}\n"
            f"    Port {self.port}\n"
            f"    User {self.user}\n"
            f"    IdentityFile {self.key_path}\n"
            f"    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {self.known_hosts_path}\n"
        )
        return target

    def connect_kwargs(self) -> dict[str, Any]:
        return {"key_filename": str(self.key_path), "allow_agent": False, "look_for_keys": False}

    def fabric_connection(self) -> Any:
        """A plain fabric Connection to this server (hermetic: no ssh_config read, no stdin).

        It accepts the host key without recording it; code under test does its own key checks.
        """
        import fabric

        config = fabric.Config(overrides={"load_ssh_configs": False, "run": {"in_stream": False}})
        return fabric.Connection(
            self.host,
            port=self.port,
            user=self.user,
            connect_timeout=5,
            connect_kwargs=self.connect_kwargs(),
            config=config,
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait_for_banner(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {proc.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"sshd on port {self.port} sent no banner within {_READY_TIMEOUT:.0f}s:\n{self.log_tail()}")


def start_sshd(workdir: Path, *, attempts: int = 3) -> SshdHost:
    """Make keys and a config under ``workdir`` and start sshd on a free port."""
    _check_installed()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "home").mkdir(exist_ok=True)
    host_key = workdir / "host_key"
    user_key = workdir / "user_key"
    _keygen(host_key)
    _keygen(user_key)
    (workdir / "authorized_keys").write_bytes(user_key.with_suffix(".pub").read_bytes())
    known_hosts = workdir / "known_hosts"
    known_hosts.write_bytes(b"")
    error: Exception | None = None
    for _ in range(attempts):
        # The port is free when chosen but may be taken before sshd binds it: try another.
        host = SshdHost(
            host="127.0.0.1",
            port=free_port(),
            user=getpass.getuser(),
            key_path=user_key,
            known_hosts_path=known_hosts,
            host_key_path=host_key,
            workdir=workdir,
        )
        _write_config(host)
        try:
            host.start()
        except RuntimeError as exc:
            error = exc
            continue
        return host
    raise RuntimeError(f"could not start sshd after {attempts} attempts: {error}")


def _check_installed() -> None:
    if not SSHD.exists():
        raise SshdUnavailable(f"{SSHD} is missing: {INSTALL_HINT}")
    try:
        subprocess.run(["ssh-keygen", "-?"], capture_output=True, check=False)
    except FileNotFoundError:
        raise SshdUnavailable(f"ssh-keygen is missing: {INSTALL_HINT}") from None


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "armjit-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )


def _write_config(host: SshdHost) -> None:
    d = host.workdir
    host.config_path.write_text(
        f"Port {host.port}\n"
        f"ListenAddress {host.host}\n"
        f"HostKey {host.host_key_path}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\n"
        f"PidFile {d / 'sshd.pid'}\n"
        "StrictModes no\n"
        "UsePAM no\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\n"
        f"SetEnv HOME={host.home}\n"
        "MaxStartups 50:30:100\n"
    )


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, deepest first (``pgrep -P`` level by level)."""
    found: list[int] = []
    level = [pid]
    while level:
        children: list[int] = []
        for parent in level:
            out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True, check=False)
            children.extend(int(x) for x in out.stdout.split())
        found.extend(children)
        level = children
    return list(reversed(found))
