"""armjit test fixture standing in for CinderX (no JIT: a plain Python package)."""

from __future__ import annotations

from cinderx._build_info import BUILD_ID, BUILD_PARALLEL, FEATURES, SOURCES_SHA256, VERSION

__all__ = [
    "BUILD_ID",
    "BUILD_PARALLEL",
    "FEATURES",
    "SOURCES_SHA256",
    "VERSION",
    "fast_path_enabled",
    "get_import_error",
    "is_initialized",
]

__version__ = VERSION


def is_initialized() -> bool:
    return True


def get_import_error() -> str | None:
    return None


def fast_path_enabled() -> bool:
    """Set by ``// FIXTURE-FEATURE fast_path=on`` in the Jit sources this wheel was built from."""
    return FEATURES.get("fast_path") == "on"
