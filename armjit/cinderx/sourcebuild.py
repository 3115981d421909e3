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
from typing import Any

from armjit.cinderx.commands import WHEEL_MARKER, venv_python
from armjit.seams.workdir import venv_removable_shell

__all__ = [
    "DEFAULT_REQUIRES",
    "KEEP_GENERATED_NAME",
    "STORED",
    "TOOLCHAIN_NAME",
    "BuildPlan",
    "build_plan",
    "build_requires",
    "build_venv_command",
    "compiled_objects",
    "describe_build",
    "fetchcontent_variable",
    "fresh_configure_command",
    "generated_kept",
    "keep_generated_text",
    "ninja_steps",
    "source_build_command",
    "toolchain_text",
]

# PEP 518: what a tree without [build-system] requires is built with.
DEFAULT_REQUIRES = ("setuptools>=40.8.0", "wheel")
REQUIRES_STAMP = ".armjit-build-requires"
TOOLCHAIN_NAME = "armjit-fetchcontent.cmake"
KEEP_GENERATED_NAME = "armjit-keep-generated.cmake"
q = shlex.quote


def fetchcontent_variable(name: str) -> str:
    """The cache variable FetchContent reads for ``name``'s source directory (CMake upper-cases it)."""
    return f"FETCHCONTENT_SOURCE_DIR_{name.upper()}"


def _cmake_string(text: str) -> str:
    return '"' + text.replace("\\", "/").replace('"', '\\"') + '"'


def toolchain_text(
    sources: Mapping[str, str], *, launcher: str | None = None, keep_generated: str | None = None
) -> str:
    """armjit's CMake toolchain file, read by every configure of the tree (``CMAKE_TOOLCHAIN_FILE``).

    - ``sources``: every FetchContent dependency from a local directory, never a download;
    - ``launcher``: the compiler launcher (ccache) as CMake's own ``CMAKE_<LANG>_COMPILER_LAUNCHER``,
      which every tree honours: a project option such as ``ENABLE_CCACHE`` exists in the sdist but
      upstream main never reads it, so ccache silently stayed out;
    - ``keep_generated``: ``keep_generated_text()``'s file, run after the top-level ``project()``.

    Plain variables, not cache entries: the file is read again at every configure, so a changed
    choice takes effect in a kept build tree too.
    """
    lines = ["# Written by armjit: read by every configure of the CinderX tree."]
    for name, directory in sorted(sources.items()):
        lines.append(f'set({fetchcontent_variable(name)} {_cmake_string(directory)} CACHE PATH "")')
    if sources:
        lines.append('set(FETCHCONTENT_FULLY_DISCONNECTED ON CACHE BOOL "")')
    if launcher:
        lines.append(f"set(CMAKE_C_COMPILER_LAUNCHER {_cmake_string(launcher)})")
        lines.append(f"set(CMAKE_CXX_COMPILER_LAUNCHER {_cmake_string(launcher)})")
    if keep_generated:
        lines.append(f"set(CMAKE_PROJECT_INCLUDE {_cmake_string(keep_generated)})")
    return "\n".join(lines) + "\n"


# CinderX's CMakeLists.txt copies its opcode headers into the build tree with file(WRITE) at every
# configure, and setup.py configures before every build: the same content with a new mtime made
# ~70 objects stale after any one-line change. This runs after the top-level project() (through
# CMAKE_PROJECT_INCLUDE): it copies the build tree's generated sources aside (file(COPY) keeps
# their mtimes), and at the end of configure (cmake_language(DEFER), CMake >= 3.19) moves each
# copy back over a file that configure rewrote with identical content. Configure still runs every
# time, so whatever it reads (CMakeLists.txt, the environment setup.py turns into -D options) is
# honoured; only the mtime of unchanged output is kept.
_KEEP_GENERATED = """\
# Written by armjit: a configure that rewrites a generated file with the same content must not
# make the objects that include it stale.
if(NOT CMAKE_CURRENT_SOURCE_DIR STREQUAL CMAKE_SOURCE_DIR OR DEFINED ARMJIT_KEEP_DIR)
  return()
endif()
if(CMAKE_VERSION VERSION_LESS 3.19)
  return()
endif()
set(ARMJIT_KEEP_DIR "${CMAKE_BINARY_DIR}/armjit-keep-generated")
file(REMOVE_RECURSE "${ARMJIT_KEEP_DIR}")
file(GLOB_RECURSE ARMJIT_KEEP_FILES RELATIVE "${CMAKE_BINARY_DIR}"
  "${CMAKE_BINARY_DIR}/*.h" "${CMAKE_BINARY_DIR}/*.hpp" "${CMAKE_BINARY_DIR}/*.inc"
  "${CMAKE_BINARY_DIR}/*.c" "${CMAKE_BINARY_DIR}/*.cpp")
list(FILTER ARMJIT_KEEP_FILES EXCLUDE REGEX "^(CMakeFiles|armjit-keep-generated)/")
foreach(ARMJIT_FILE IN LISTS ARMJIT_KEEP_FILES)
  get_filename_component(ARMJIT_TO "${ARMJIT_KEEP_DIR}/${ARMJIT_FILE}" DIRECTORY)
  file(COPY "${CMAKE_BINARY_DIR}/${ARMJIT_FILE}" DESTINATION "${ARMJIT_TO}")
endforeach()
function(armjit_keep_unchanged_generated)
  set(ARMJIT_KEPT 0)
  foreach(ARMJIT_FILE IN LISTS ARMJIT_KEEP_FILES)
    set(ARMJIT_NEW "${CMAKE_BINARY_DIR}/${ARMJIT_FILE}")
    set(ARMJIT_OLD "${ARMJIT_KEEP_DIR}/${ARMJIT_FILE}")
    if(EXISTS "${ARMJIT_NEW}" AND EXISTS "${ARMJIT_OLD}")
      file(SHA256 "${ARMJIT_NEW}" ARMJIT_NEW_SUM)
      file(SHA256 "${ARMJIT_OLD}" ARMJIT_OLD_SUM)
      if(ARMJIT_NEW_SUM STREQUAL ARMJIT_OLD_SUM AND "${ARMJIT_NEW}" IS_NEWER_THAN "${ARMJIT_OLD}")
        # A rename, not file(COPY): COPY skips a file whose mtime is within a second of the source's.
        file(RENAME "${ARMJIT_OLD}" "${ARMJIT_NEW}")
        math(EXPR ARMJIT_KEPT "${ARMJIT_KEPT} + 1")
      endif()
    endif()
  endforeach()
  file(REMOVE_RECURSE "${ARMJIT_KEEP_DIR}")
  message(STATUS "armjit: kept the mtime of ${ARMJIT_KEPT} generated files configure rewrote unchanged")
endfunction()
cmake_language(DEFER CALL armjit_keep_unchanged_generated)
"""


def keep_generated_text() -> str:
    """The CMake file that keeps unchanged generated files' mtimes across a configure (see above)."""
    return _KEEP_GENERATED


@dataclass(frozen=True)
class BuildPlan:
    """What the build step runs with: the environment, and which of its variables armjit chose
    (the rest came from ``--parallel`` and ``--build-env``)."""

    env: dict[str, str]
    chosen: dict[str, str]


def build_plan(
    *, parallel: int, build_env: Sequence[str], toolchain: str | None, offline: bool, ccache: bool, workdir: str
) -> BuildPlan:
    """The build's environment. ``--build-env`` wins over everything armjit would choose.

    ``toolchain``: armjit's toolchain file (FetchContent sources with ``--deps-dir``, the ccache
    launcher, the generated-files keeper). ``offline`` (``--deps-dir``): the disassembler is off unless asked
    for: it would fetch capstone, which is not among the shipped sources. With ccache, paths under
    the work dir are hashed relative to it and the build directory is not hashed
    (``CCACHE_BASEDIR``, ``CCACHE_NOHASHDIR``): ``ab``'s two side trees, and any other checkout of
    the same code, share ccache's objects.
    """
    user = dict(item.split("=", 1) for item in build_env)
    chosen: dict[str, str] = {"CMAKE_BUILD_PARALLEL_LEVEL": str(parallel)}
    if toolchain:
        chosen["CMAKE_TOOLCHAIN_FILE"] = toolchain
    if ccache:
        chosen["CCACHE_BASEDIR"] = workdir
        chosen["CCACHE_NOHASHDIR"] = "1"
    if offline:
        chosen["ENABLE_DISASSEMBLER"] = "0"
    chosen = {k: v for k, v in chosen.items() if k not in user}
    # ccache reads any value of a boolean variable, even "" or "false", as true: an empty
    # --build-env CCACHE_X= takes armjit's CCACHE_X out instead.
    user = {k: v for k, v in user.items() if v or not k.startswith("CCACHE_")}
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


def fresh_configure_command(toolchain: str) -> str:
    """Shell, run in the tree: forget the configure of every kept CMake tree (setup.py's
    ``scratch/*/``) that was configured without ``toolchain``.

    CMake reads ``CMAKE_TOOLCHAIN_FILE`` from the environment only when it configures a tree for
    the first time: a tree configured without armjit's file would never get the ccache launcher
    or the generated-files keeper. Its cache and compiler checks go, so that it is configured
    afresh once (ccache answers for what it compiled before, under the same launcher).
    """
    return (
        'for c in scratch/*/CMakeCache.txt; do [ -f "$c" ] || continue; '
        f'[ "$(sed -n \'s/^CMAKE_TOOLCHAIN_FILE:[A-Z]*=//p\' "$c")" = {q(toolchain)} ] && continue; '
        'echo "armjit: configuring $(dirname "$c") afresh (configured without armjit\'s toolchain file)"; '
        'rm -rf "$c" "$(dirname "$c")"/CMakeFiles/[0-9]*; done'
    )


# The wheel is installed on the host that built it, once: deflating CinderX's ~110 MB extension
# (RelWithDebInfo) cost 18-22 s of every build on the e2e host under load, storing it 4-7 s.
STORED = "--config-settings=--build-option=--compression=stored"


def source_build_command(build_python: str, outdir: str, toolchain: str = "") -> str:
    """Build the wheel from the tree in the cwd into a fresh ``outdir``; print its path.

    ``-v`` lets CMake's and ninja's output through (pip hides it otherwise): the step's progress
    line is ninja's ``[n/N]`` counter, and a failure's cause is in the step log. The wheel is
    stored, not deflated (``STORED``). With ``toolchain``, a kept tree configured without it is
    configured afresh first.
    """
    py, out = q(build_python), q(outdir)
    fresh = f"{fresh_configure_command(toolchain)}; " if toolchain else ""
    return (
        f"{fresh}rm -rf {out} && mkdir -p {out} && "
        f"{py} -m pip wheel --no-build-isolation --no-deps -v {STORED} -w {out} . && "
        f'set -- {out}/*.whl && [ -f "$1" ] && [ $# -eq 1 ] && echo "{WHEEL_MARKER}$1"'
    )


_NINJA = re.compile(r"^\s*\[(\d+)/(\d+)\]\s", re.M)


def ninja_steps(output: str) -> int | None:
    """How many steps ninja ran in a build's output (its last ``[n/N]``); None without ninja lines."""
    found = _NINJA.findall(output)
    return int(found[-1][0]) if found else None


# "Building CXX object CMakeFiles/jit.dir/cinderx/Jit/codegen/gen_asm.cpp.o": Ninja's and Make's wording.
_OBJECT = re.compile(r"\bBuilding (?:C|CXX|ASM\w*) object (\S+)")


def compiled_objects(output: str) -> list[str]:
    """The objects a build compiled (or took from ccache), in build order, from its output."""
    return list(dict.fromkeys(_OBJECT.findall(output)))


def describe_build(build: Mapping[str, Any]) -> str:
    """What a build did, in a few words: ninja's steps, objects compiled, ccache's answers."""
    parts = []
    if build.get("ninja_steps") is not None:
        parts.append(f"{build['ninja_steps']} ninja steps")
    if build.get("objects_compiled") is not None:
        parts.append(f"{build['objects_compiled']} objects compiled")
    ccache = build.get("ccache")
    if isinstance(ccache, dict) and "hits" in ccache:
        parts.append(f"ccache {ccache['hits']} hits / {ccache['misses']} misses")
    elif not ccache:
        parts.append("no ccache")
    return ", ".join(parts)


_KEPT = re.compile(r"armjit: kept the mtime of (\d+) generated files")


def generated_kept(output: str) -> int | None:
    """How many generated files the last configure rewrote unchanged and the keeper put back
    (its CMake message); None when the keeper did not run."""
    found = _KEPT.findall(output)
    return int(found[-1]) if found else None
