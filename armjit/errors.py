"""Errors meant for people: one line, what is wrong and what to do, exit status 2."""

from __future__ import annotations

__all__ = [
    "ArmjitError",
    "AuthFailed",
    "ConnectionLost",
    "GateFailed",
    "HostError",
    "HostKeyChanged",
    "HostKeyError",
    "HostKeyUnknown",
    "HostUnreachable",
    "Terminated",
    "UsageError",
]


class ArmjitError(Exception):
    """Base of every error armjit reports as one line instead of a traceback."""

    exit_code = 2


class UsageError(ArmjitError):
    """Bad input: a setting, a path, a host or a file that cannot be used as given."""


class GateFailed(ArmjitError):
    """A pipeline gate said no (build failed, JIT inactive, ...). The run record is kept."""

    exit_code = 1


# Host errors are typed so that callers (doctor, flows) decide by class, never by message text.
# The first four are bad input (a host, key or known_hosts that cannot be used as given).


class HostError(ArmjitError):
    """A machine could not be used: not reached, not logged into, not trusted, or lost."""


class HostUnreachable(HostError, UsageError):
    """No SSH session could be started: unknown name, refused, timed out."""


class AuthFailed(HostError, UsageError):
    """The host answered and its key was accepted, but it did not accept our login."""


class HostKeyError(HostError, UsageError):
    """The host's key is not the one armjit trusts; ``known_hosts`` is the file that decides."""

    def __init__(self, message: str, known_hosts: str = "") -> None:
        super().__init__(message)
        self.known_hosts = known_hosts


class HostKeyChanged(HostKeyError):
    """The host presents another key than the one recorded: refused (reinstalled, or not the host)."""


class HostKeyUnknown(HostKeyError):
    """Strict host-key checking is on and the host's key was never recorded."""


class ConnectionLost(HostError):
    """A session that was open went away mid-work (not bad input: the run is marked failed)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a closed terminal, a killed job, a CI timeout) reached armjit. It is a
    KeyboardInterrupt so that every path that records, gives back and hints on Ctrl-C does the same
    for these: the record becomes ``interrupted``, the lease is given back, the attach hint printed."""

    def __init__(self, signal_name: str, signal_number: int) -> None:
        super().__init__(f"terminated by {signal_name}")
        self.signal_name = signal_name
        self.exit_code = 128 + signal_number
