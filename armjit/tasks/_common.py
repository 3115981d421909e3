"""What every task body shares: one-line errors, Ctrl-C handling, and where reports live."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from invoke.exceptions import Exit

from armjit.errors import ArmjitError

__all__ = ["friendly_errors", "reports_root"]

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(body: F) -> F:
    """Turn armjit's errors into one line on stderr and their exit status, never a traceback."""

    @functools.wraps(body)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return body(*args, **kwargs)
        except ArmjitError as exc:
            raise Exit(f"armjit: {exc}", code=exc.exit_code) from None
        except KeyboardInterrupt:
            raise Exit("armjit: interrupted", code=130) from None
        except BrokenPipeError:
            # `invoke mine | head`: the reader left; stop quietly (and keep Python from
            # complaining again when it flushes stdout at exit).
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise Exit(code=0) from None

    return wrapper  # type: ignore[return-value]


def reports_root(config: Any = None) -> Path:
    """``reports/`` of the armjit project (or ``$ARMJIT_REPORTS``/config ``armjit.reports``)."""
    from armjit.safepaths import check_local_dir

    env = os.environ.get("ARMJIT_REPORTS")
    if env:
        return check_local_dir(env, what="ARMJIT_REPORTS")
    if config is not None:
        try:
            value = config.armjit.reports
        except (AttributeError, KeyError):
            value = None
        if value:
            return check_local_dir(str(value), what="armjit.reports")
    return Path.cwd() / "reports"
