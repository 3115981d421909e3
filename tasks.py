"""invoke entry point: the armjit namespace (all logic lives in armjit/)."""

from armjit.cli import crash, ns

# invoke reads invoke.yaml after importing this file: a malformed one gives one line, not a traceback.
crash.install()

__all__ = ["ns"]
