"""The ``armjit`` console script: the same tasks as ``invoke`` in the armjit checkout."""

from __future__ import annotations

from invoke import Program

from armjit import __version__
from armjit.cli import crash, namespace

__all__ = ["main", "program"]

# Run from inside a CinderX checkout, --repo defaults to that checkout.
program = Program(namespace=namespace(repo_from_cwd=True), version=__version__, name="armjit", binary="armjit")


def main() -> None:
    crash.install()
    program.run()
