"""What reaches the terminal when something fails outside armjit's own one-line errors.

Inside a task, armjit's errors are already one line (``_task.py``). Some bad input fails before
any task runs, in invoke's own loading: a malformed ``invoke.yaml`` raises a YAML error with a
traceback through invoke's config code. :func:`install` (called by ``tasks.py`` and the
``armjit`` script) turns such an escaped exception into one line and an exit status: 2 for a
configuration file that cannot be read, 1 for anything else (a bug: the line says how to see
more). ``--debug`` (invoke's flag, or ``INVOKE_DEBUG=1``) keeps the full traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from types import TracebackType

__all__ = ["debug_requested", "describe", "install"]


def debug_requested(argv: list[str] | None = None) -> bool:
    """invoke's ``--debug``/``-d`` flag was given (no armjit task has a flag of that name), or
    INVOKE_DEBUG is set."""
    if os.environ.get("INVOKE_DEBUG"):
        return True
    return any(arg in ("--debug", "-d") for arg in (sys.argv[1:] if argv is None else argv))


def _config_error(exc: BaseException) -> bool:
    from invoke.exceptions import AmbiguousEnvVar, UncastableEnvVar, UnknownFileType
    from invoke.util import yaml

    if isinstance(exc, (yaml.YAMLError, UnknownFileType, AmbiguousEnvVar, UncastableEnvVar)):
        return True
    # json and text decoding errors, when they come from invoke loading a config file
    frames = traceback.extract_tb(exc.__traceback__)
    return isinstance(exc, ValueError) and any(Path(f.filename).parts[-2:] == ("invoke", "config.py") for f in frames)


def describe(exc: BaseException) -> tuple[str, int]:
    """The one line and the exit status for an exception that escaped everything else."""
    if _config_error(exc):
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None)
        if mark is not None and problem:
            where = f"{mark.name}:{mark.line + 1}:{mark.column + 1}"
            return f"armjit: invalid invoke configuration file {where}: {problem}", 2
        return f"armjit: invalid invoke configuration: {' '.join(str(exc).split())}", 2
    text = " ".join(str(exc).split()) or "no message"
    return f"armjit: unexpected {type(exc).__name__}: {text} (run with --debug for the traceback)", 1


def _hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if isinstance(exc, BrokenPipeError):
        # `invoke --help baseline | head -1`: the reader left, which is no failure. Stop quietly,
        # and keep Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        os._exit(0)
    if debug_requested() or not isinstance(exc, Exception):
        sys.__excepthook__(kind, exc, tb)
        return
    line, code = describe(exc)
    print(line, file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    # The interpreter would exit with 1 after any uncaught exception; bad input exits 2.
    os._exit(code)


def install() -> None:
    sys.excepthook = _hook
