"""CinderX JIT logs: streaming parser, typed per-process views and per-set aggregates."""

from armjit.jitlog.parser import *  # noqa: F403
from armjit.jitlog.parser import __all__ as __all__
