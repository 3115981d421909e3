"""The ``armjit`` console script: the same tasks as ``invoke`` in the armjit checkout."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from invoke import Program
from invoke.exceptions import Exit, ParseError

from armjit import __version__
from armjit.cli import crash, namespace

__all__ = ["ArmjitProgram", "main", "program"]


@contextlib.contextmanager
def _bad_input() -> Iterator[None]:
    try:
        yield
    except ParseError as exc:
        raise Exit(f"armjit: {exc}", code=2) from None


class ArmjitProgram(Program):  # type: ignore[misc]
    """invoke's Program, whose parse errors (an unknown flag, a missing argument) are bad input
    like every other: one line and exit status 2 (invoke itself exits 1)."""

    def parse_core_args(self) -> None:
        with _bad_input():
            super().parse_core_args()

    def parse_tasks(self) -> None:
        with _bad_input():
            super().parse_tasks()


# Run from inside a CinderX checkout, --repo defaults to that checkout.
program = ArmjitProgram(namespace=namespace(repo_from_cwd=True), version=__version__, name="armjit", binary="armjit")


def main() -> None:
    crash.install()
    program.run()
