"""Building CinderX from source on the host: the environment, the command, the offline toolchain file.

Pure: shell text and data for the build step (cinderx-source-build.md).

How the wheel is built: pip with ``--no-build-isolation`` in a build venv that armjit keeps
(holding the tree's ``build-system`` requirements, installed once: setuptools for CinderX), run in
the deployed tree so that setup.py's CMake tree ``scratch/`` and ccache make a one-line change a
rebuild of a few objects. ``python -m build --wheel`` (the seed's command) makes a new isolated
environment for every build, which installs setuptools from the package index each time: a host
without index access (common for ARM servers) cannot build that way, and pypa ``build`` itself is
shadowed by an upstream checkout's own ``build/`` directory. Measured on the e2e host
(``bench/source_build_bench.py``, two runs, one sample each after a one-line ``gen_asm.cpp``
change): armjit's deploy + build 104.7 s / 45.6 s, a hand-run ``pip wheel --no-build-isolation``
95.3 s / 46.6 s, the isolated build 91.1 s / 49.6 s; isolation did not cost rebuilt objects (73
ninja steps each), so the choice rests on the two reasons above.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from armjit.cinderx.commands import WHEEL_MARKER, venv_python
from armjit.seams.workdir import venv_removable_shell

__all__ = [
    "DEFAULT_REQUIRES",
    "TOOLCHAIN_NAME",
    "BuildPlan",
    "build_plan",
    "build_requires",
    "build_venv_command",
    "fetchcontent_variable",
    "ninja_steps",
    "source_build_command",
    "toolchain_text",
]

# PEP 518: what a tree without [build-system] requires is built with.
DEFAULT_REQUIRES = ("setuptools>=40.8.0", "wheel")
REQUIRES_STAMP = ".armjit-build-requires"
TOOLCHAIN_NAME = "armjit-fetchcontent.cmake"
q = shlex.quote


def fetchcontent_variable(name: str) -> str:
    """The cache variable FetchContent reads for ``name``'s source directory (CMake upper-cases it)."""
    return f"FETCHCONTENT_SOURCE_DIR_{name.upper()}"


def _cmake_string(text: str) -> str:
    return '"' + text.replace("\\", "/").replace('"', '\\"') + '"'


def toolchain_text(sources: Mapping[str, str]) -> str:
    """A CMake toolchain file: every FetchContent dependency from a local directory, never a download."""
    lines = ["# Written by armjit: FetchContent sources shipped with --deps-dir; no downloads."]
    for name, directory in sorted(sources.items()):
        lines.append(f'set({fetchcontent_variable(name)} {_cmake_string(directory)} CACHE PATH "")')
    lines.append('set(FETCHCONTENT_FULLY_DISCONNECTED ON CACHE BOOL "")')
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BuildPlan:
    """What the build step runs with: the environment, and which of its variables armjit chose
    (the rest came from ``--parallel`` and ``--build-env``)."""

    env: dict[str, str]
    chosen: dict[str, str]


def build_plan(*, parallel: int, build_env: Sequence[str], toolchain: str | None, ccache: bool) -> BuildPlan:
    """The build's environment. ``--build-env`` wins over everything armjit would choose.

    With a toolchain (``--deps-dir``) the disassembler is off unless asked for: it would fetch
    capstone, which is not among the shipped sources. ccache is on when the host has it.
    """
    user = dict(item.split("=", 1) for item in build_env)
    chosen: dict[str, str] = {"CMAKE_BUILD_PARALLEL_LEVEL": str(parallel)}
    if ccache:
        chosen["ENABLE_CCACHE"] = "1"
    if toolchain:
        chosen["CMAKE_TOOLCHAIN_FILE"] = toolchain
        chosen["ENABLE_DISASSEMBLER"] = "0"
    chosen = {k: v for k, v in chosen.items() if k not in user}
    return BuildPlan({**chosen, **user}, chosen)


def build_requires(pyproject: str | None) -> tuple[str, ...]:
    """What the tree's build backend needs (``[build-system] requires``), as an isolated build
    would install it; PEP 518's default when the tree declares none."""
    if pyproject is None:
        return DEFAULT_REQUIRES
    try:
        system = tomllib.loads(pyproject).get("build-system")
    except tomllib.TOMLDecodeError:
        return DEFAULT_REQUIRES
    if not isinstance(system, dict) or not isinstance(system.get("requires"), list):
        return DEFAULT_REQUIRES
    return tuple(str(r) for r in system["requires"])


def build_venv_command(python: str, venv: str, requires: Sequence[str]) -> str:
    """Create the build venv when it has no working python, and install ``requires`` into it
    when they changed since the last build (a warm host needs no network)."""
    vpy = q(venv_python(venv))
    stamp = q(f"{venv.rstrip('/')}/{REQUIRES_STAMP}")
    wanted = "\n".join(requires)
    create = f"{{ {venv_removable_shell(venv)}; }} && rm -rf {q(venv)} && {q(python)} -m venv {q(venv)}"
    install = f"{vpy} -m pip install -q {' '.join(q(r) for r in requires)} && " if requires else ""
    return (
        f"if ! {{ [ -x {vpy} ] && {vpy} -c '' 2>/dev/null; }}; then {create}; fi && "
        f'if [ "$(cat {stamp} 2>/dev/null)" != {q(wanted)} ]; then '
        f"{install}printf '%s' {q(wanted)} > {stamp}; fi"
    )


def source_build_command(build_python: str, outdir: str) -> str:
    """Build the wheel from the tree in the cwd into a fresh ``outdir``; print its path.

    ``-v`` lets CMake's and ninja's output through (pip hides it otherwise): the step's progress
    line is ninja's ``[n/N]`` counter, and a failure's cause is in the step log.
    """
    py, out = q(build_python), q(outdir)
    return (
        f"rm -rf {out} && mkdir -p {out} && "
        f"{py} -m pip wheel --no-build-isolation --no-deps -v -w {out} . && "
        f'set -- {out}/*.whl && [ -f "$1" ] && [ $# -eq 1 ] && echo "{WHEEL_MARKER}$1"'
    )


_NINJA = re.compile(r"^\s*\[(\d+)/(\d+)\]\s", re.M)


def ninja_steps(output: str) -> int | None:
    """How many steps ninja ran in a build's output (its last ``[n/N]``); None without ninja lines."""
    found = _NINJA.findall(output)
    return int(found[-1][0]) if found else None
