"""The ``armjit`` console script: the same namespace as ``invoke`` in the armjit checkout."""

from __future__ import annotations

from invoke import Program

from armjit import __version__
from armjit.tasks import ns

__all__ = ["main", "program"]

program = Program(namespace=ns, version=__version__, name="armjit", binary="armjit")


def main() -> None:
    from armjit.tasks import _settings

    _settings.REPO_FROM_CWD = True
    program.run()
