"""armjit: one iteration of JIT performance work on a remote machine, as repo tasks."""

__version__ = "0.1.0"
