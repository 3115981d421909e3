"""invoke entry point: the armjit namespace (all logic lives in armjit/)."""

from armjit.cli import ns

__all__ = ["ns"]
