"""The one seam for side effects on a machine: ``LocalHost`` (invoke Context) and ``SshHost``
(fabric Connection) behind one interface, ``Host``.

Flows and seams hold a ``Host`` and nothing more specific: they never ask which kind it is,
never take its name apart, and tell failures apart by their type (armjit.errors). A host is
made in one place, :func:`open_host`; a caller that already holds one lends it with
:func:`use_host`, and the flow then leaves it open for its owner.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from armjit.seams.hosts.base import Host, HostTrust, LentHost
from armjit.seams.hosts.command import CommandResult, LineSink, local_command, quote_env, wrap_command
from armjit.seams.hosts.local import LocalHost
from armjit.seams.hosts.ssh import SshHost, SshTarget
from armjit.seams.hosts.ssh_inputs import configured_identities

if TYPE_CHECKING:
    from armjit.config import Settings

__all__ = [
    "DEFAULT_KNOWN_HOSTS",
    "CommandResult",
    "Host",
    "HostTrust",
    "LineSink",
    "LocalHost",
    "SshHost",
    "SshTarget",
    "identities_for",
    "local_command",
    "open_host",
    "opened",
    "quote_env",
    "use_host",
    "wrap_command",
]

DEFAULT_KNOWN_HOSTS = Path("~/.config/armjit/known_hosts")


def _make(settings: Settings) -> Host:
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
        keepalive_interval=settings.keepalive_interval,
        keepalive_count=settings.keepalive_count,
    )
    return SshHost(target)


def open_host(settings: Settings) -> Host:
    """Make the host ``settings`` name and connect to it. Bad settings raise UsageError; a host
    that cannot be used raises HostUnreachable, AuthFailed, HostKeyChanged or HostKeyUnknown."""
    host = _make(settings)
    try:
        host.open()
    except BaseException:
        host.close()
        raise
    return host


def use_host(settings: Settings, host: Host | None) -> Host:
    """The host a flow works on: ``host`` when the caller lends one (opened here if it is not
    yet, and left open at the end: its owner closes it), else a new one from ``settings``."""
    if host is None:
        return open_host(settings)
    host.open()
    return LentHost(host)


def identities_for(settings: Settings) -> list[str]:
    """Existing key files that ssh_config names for ``settings.host`` (for onboarding checks)."""
    from armjit.config import parse_host

    if settings.is_local:
        return []
    _, host, _ = parse_host(settings.host, settings.user, settings.port)
    ssh_config = Path(settings.ssh_config).expanduser() if settings.ssh_config else None
    return configured_identities(ssh_config, host)


@contextlib.contextmanager
def opened(host: Host) -> Iterator[Host]:
    """Close the host (and its pid files) however the block ends."""
    try:
        yield host
    finally:
        host.close()
