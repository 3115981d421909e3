"""Host keys: armjit's one policy, for paramiko's session and for rsync's OpenSSH alike.

A key is trusted on first use and saved to armjit's known_hosts file (``--known-hosts``), or,
with ``--strict-host-keys``, only when it is already recorded. A changed key is always refused.
OpenSSH (rsync's transport) runs after paramiko's session was opened, so it reads the same
files with ``StrictHostKeyChecking=yes``: it never adds or accepts a key paramiko did not.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from armjit.errors import HostKeyChanged, HostKeyUnknown
from armjit.seams.hosts import known_hosts as files

__all__ = ["USER_KNOWN_HOSTS", "KeyPolicy", "check_not_revoked", "fingerprint", "known_hosts_name", "openssh_options"]

USER_KNOWN_HOSTS = "~/.ssh/known_hosts"  # paramiko's "system" keys: read, never written


def known_hosts_name(host: str, port: int) -> str:
    """The name both paramiko and OpenSSH file a key under: ``host`` on port 22, else ``[host]:port``."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key: Any) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return f"{key.get_name()} SHA256:{base64.b64encode(digest).decode().rstrip('=')}"


def check_not_revoked(found: files.Lookup, key: Any, label: str, known_hosts: Path) -> None:
    """Refuse a key that a known_hosts file marks ``@revoked`` for this host."""
    entry = found.revoked_entry(key.get_name(), key.get_base64())
    if entry is not None:
        raise HostKeyChanged(
            f"host key of {label} ({fingerprint(key)}) is marked @revoked at {entry.where}: refusing to connect",
            str(known_hosts),
        )


class KeyPolicy:
    """paramiko's missing-host-key policy: on first use remember the key, and append it to
    armjit's known_hosts (one line; the file is never rewritten) when :meth:`save` is called
    after the login; or refuse it when strict or revoked. ``first_use`` tells afterwards whether
    this connection saved a key."""

    def __init__(self, known_hosts: Path, *, strict: bool, label: str, found: files.Lookup | None = None) -> None:
        self.known_hosts = known_hosts
        self.strict = strict
        self.label = label
        self.found = found or files.Lookup()
        self.first_use = False
        self._pending: tuple[str, str, str] | None = None

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        check_not_revoked(self.found, key, self.label, self.known_hosts)
        if self.strict:
            client.close()
            raise HostKeyUnknown(
                f"{self.label} is not in {self.known_hosts} and --strict-host-keys is on: add its key first "
                "(ssh-keyscan) or connect once without strict mode",
                str(self.known_hosts),
            )
        client.get_host_keys().add(hostname, key.get_name(), key)
        self._pending = (hostname, key.get_name(), key.get_base64())

    def save(self) -> None:
        """Append the first-use key once the session is up (logged in): a host that refused the
        login leaves known_hosts as it was."""
        if self._pending is not None:
            files.append_key(self.known_hosts, *self._pending)
            self._pending = None
            self.first_use = True


def openssh_options(known_hosts: Path, host: str, port: int) -> list[str]:
    """``-o`` options that make OpenSSH decide on host keys exactly as paramiko did: the same
    files (armjit's, then the user's), the same entry name, no global file, nothing added."""
    alias = known_hosts_name(host, port)
    return [
        "-o",
        f'UserKnownHostsFile="{known_hosts}" {USER_KNOWN_HOSTS}',
        "-o",
        "GlobalKnownHostsFile=none",
        # paramiko filed the key under the resolved name and port; an ssh_config alias must not
        # make OpenSSH look under another one.
        "-o",
        f"HostKeyAlias={alias}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "CheckHostIP=no",
    ]
