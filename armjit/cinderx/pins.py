"""What a run measured, pinned: cinderx's version and wheel hash, the build's flags, the tools.

Pure: the host-side probe script (installed versions read with ``importlib.metadata``, so
nothing is imported and no JIT starts), its command, and the parsing. ``run.json`` keeps the
result under ``pins``. ``--build pypi`` without a version is resolved here to the version pip
installed, and ``verify`` rebuilds the same one (see :func:`pinned_build`).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

__all__ = ["CMAKE_DEFAULT_BUILD_TYPE", "PINS_MARKER", "build_pins", "parse_pins", "pinned_build", "pins_command"]

PINS_MARKER = "armjit-pins "
# setup.py's default when CMAKE_BUILD_TYPE is not in the environment (cinderx-source-build.md).
CMAKE_DEFAULT_BUILD_TYPE = "RelWithDebInfo"

# Host-side: argv[1] a wheel file to hash ("" for none); argv[2:] distributions to report.
_SCRIPT = r"""
import hashlib, importlib.metadata as md, json, sys
found = {}
for name in sys.argv[2:]:
    try:
        dist = md.distribution(name)
        found[name] = {"version": dist.version, "location": str(dist.locate_file(""))}
    except md.PackageNotFoundError:
        found[name] = None
wheel = sys.argv[1]
if wheel:
    digest = hashlib.sha256()
    with open(wheel, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    found["wheel"] = {"path": wheel, "sha256": digest.hexdigest()}
print("armjit-pins " + json.dumps(found), flush=True)
"""


def pins_command(python: str, wheel: str | None, names: tuple[str, ...]) -> str:
    """Report the installed versions of ``names`` in ``python``'s environment, and hash ``wheel``."""
    argv = [python, "-c", _SCRIPT, wheel or "", *names]
    return "CINDERX_DISABLE=1 PYTHONJITDISABLE=1 " + shlex.join(argv)


def parse_pins(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(PINS_MARKER):
            try:
                data = json.loads(line[len(PINS_MARKER) :])
            except json.JSONDecodeError:
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def build_pins(build: str, parallel: int, build_env: tuple[str, ...]) -> dict[str, Any]:
    """The build flags armjit passes (the environment setup.py reads) and the CMake build type
    they mean. ``reported`` is for the build's own account (CMake's cache), when the build step
    reads one back; None until then."""
    env = {"CMAKE_BUILD_PARALLEL_LEVEL": str(parallel)} if build == "source" else {}
    env |= dict(item.split("=", 1) for item in build_env if "=" in item)
    build_type = env.get("CMAKE_BUILD_TYPE") or f"{CMAKE_DEFAULT_BUILD_TYPE} (setup.py default)"
    return {"build": build, "env": env, "cmake_build_type": build_type if build == "source" else None, "reported": None}


def pinned_build(settings: Mapping[str, Any], pins: Mapping[str, Any] | None) -> str | None:
    """``pypi==VERSION`` for a run that installed ``--build pypi`` without a version and pinned
    what it got; None when the recorded build already says what to rebuild."""
    version = ((pins or {}).get("cinderx") or {}).get("version")
    if settings.get("build") == "pypi" and version:
        return f"pypi=={version}"
    return None
