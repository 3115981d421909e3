"""Errors meant for people: one line, what is wrong and what to do, exit status 2."""

from __future__ import annotations

__all__ = ["ArmjitError", "GateFailed", "UsageError"]


class ArmjitError(Exception):
    """Base of every error armjit reports as one line instead of a traceback."""

    exit_code = 2


class UsageError(ArmjitError):
    """Bad input: a setting, a path, a host or a file that cannot be used as given."""


class GateFailed(ArmjitError):
    """A pipeline gate said no (build failed, JIT inactive, ...). The run record is kept."""

    exit_code = 1
