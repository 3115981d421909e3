"""armjit test fixture standing in for CinderX (``cinderx.jit`` is a stand-in that generates no code)."""

from __future__ import annotations

import os

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


def _start_from_environment() -> None:
    # Like the real wheel: importing cinderx with JIT settings in the environment starts the JIT.
    if os.environ.get("PYTHONJITDISABLE", "0") not in ("", "0") or os.environ.get("CINDERX_DISABLE"):
        return
    if any(os.environ.get(name) for name in ("PYTHONJITAUTO", "PYTHONJITLISTFILE", "PYTHONJITCOMPILENCALLS")):
        from cinderx import jit

        jit.enable()


_start_from_environment()
