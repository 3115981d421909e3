"""What a CinderX source build needs on the host, judged from one probe (``invoke doctor``).

The build fails late and buries its cause (cinderx-source-build.md): no compiler shows only deep
in setup.py's log, an old cmake stops at configure, missing ``Python.h`` fails the first object,
a tree's own ``build/`` directory makes ``import build`` pass without pypa build, and CMake's
FetchContent needs GitHub. Each of these is a check here, with what to do.

The probe is shell plus two small Python snippets (one round trip); the judging is pure.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from armjit.cinderx.sourcebuild import describe_build
from armjit.config import Settings
from armjit.flows.doctor_checks import Check

__all__ = [
    "DEPS_ARCHIVES",
    "DEPS_URL",
    "build_checks",
    "build_probe_command",
    "cmake_required",
    "deps_dir_setting",
    "source_build_planned",
]

# Where CMake's FetchContent downloads fmt, parallel-hashmap and usdt from.
DEPS_URL = "https://codeload.github.com/"
DEPS_ARCHIVES = ("fmt", "parallel-hashmap", "usdt")
_GROUP = "build"

_HEADERS = (
    "import os, sysconfig; inc = sysconfig.get_paths().get('include', ''); "
    "h = os.path.join(inc, 'Python.h'); print('python_h=' + (h if os.path.isfile(h) else 'missing ' + inc))"
)
_BUILD_SPEC = (
    "import importlib.util as u; s = u.find_spec('build'); "
    "print(PREFIX + ('' if s is None else (s.origin or 'namespace ' + ' '.join(s.submodule_search_locations or []))))"
)
_REACH = r"""
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="HEAD"), timeout=5) as answer:
        print("deps=ok HTTP %s" % answer.status)
except urllib.error.HTTPError as exc:
    print("deps=ok HTTP %s" % exc.code)
except Exception as exc:
    print("deps=unreachable %s: %s" % (type(exc).__name__, str(exc)[:160]))
"""


def deps_dir_setting(settings: Settings) -> str:
    """The ``--deps-dir`` setting when this armjit has it (the source-build settings add it)."""
    return str(getattr(settings, "deps_dir", "") or "")


def source_build_planned(settings: Settings) -> bool:
    return settings.build == "source" and bool(settings.repo)


def _build_env(settings: Settings) -> dict[str, str]:
    return dict(item.split("=", 1) for item in settings.build_env if "=" in item)


def build_probe_command(settings: Settings, workdir: str, deps_url: str = DEPS_URL) -> str:
    """One round trip: compilers (CC/CXX from --build-env first), cmake's version, ninja,
    ccache, Python.h of --remote-python, pypa build seen from ``/`` and from the work dir, and
    (without --deps-dir) whether ``deps_url`` answers."""
    py = shlex.quote(settings.remote_python)
    env = _build_env(settings)
    cc = " ".join(shlex.quote(c) for c in (env.get("CC", ""), "cc", "gcc", "clang") if c)
    cxx = " ".join(shlex.quote(c) for c in (env.get("CXX", ""), "c++", "g++", "clang++") if c)
    wd = shlex.quote(workdir)
    parts = [
        f'cc=""; for c in {cc}; do p=$(command -v "$c") && {{ cc="$c $p"; break; }}; done; echo "cc=$cc"',
        f'cxx=""; for c in {cxx}; do p=$(command -v "$c") && {{ cxx="$c $p"; break; }}; done; echo "cxx=$cxx"',
        "echo \"cmake_version=$(cmake --version 2>/dev/null | sed -n '1s/^cmake version //p')\"",
        'echo "ninja=$(command -v ninja || command -v ninja-build)"',
        'echo "ccache=$(command -v ccache)"',
        # Whether the kept CMake tree really compiles through ccache (its rules name the launcher).
        f'set -- {wd}/scratch/*/CMakeCache.txt; if [ -f "$1" ]; then d=$(dirname "$1"); '
        'if grep -qs "ccache " "$d/build.ninja" "$d/CMakeFiles/rules.ninja"; then echo "ccache_tree=launcher $d"; '
        'else echo "ccache_tree=without $d"; fi; else echo ccache_tree=none; fi',
        f"{py} -c {shlex.quote(_HEADERS)} 2>/dev/null || echo python_h=",
        f"(cd / && {py} -c {_spec('build_origin=')}) 2>/dev/null || echo build_origin=",
        f"if [ -d {wd} ]; then (cd {wd} && {py} -c {_spec('build_in_tree=')}) 2>/dev/null; fi",
    ]
    if not deps_dir_setting(settings):
        parts.append(f"{py} -c {shlex.quote(_REACH)} {shlex.quote(deps_url)} 2>/dev/null || echo deps=")
    return "; ".join(parts)


def _spec(prefix: str) -> str:
    return shlex.quote(_BUILD_SPEC.replace("PREFIX", repr(prefix)))


_CMAKE_MIN = re.compile(r"cmake_minimum_required\s*\(\s*VERSION\s+([0-9]+(?:\.[0-9]+)*)", re.IGNORECASE)


def cmake_required(cmakelists: str) -> tuple[int, ...] | None:
    """The version ``cmake_minimum_required(VERSION x.y[...z])`` asks for (None: no such line)."""
    match = _CMAKE_MIN.search(cmakelists)
    return tuple(int(x) for x in match.group(1).split(".")) if match else None


def _version(text: str) -> tuple[int, ...] | None:
    numbers = re.match(r"([0-9]+(?:\.[0-9]+)*)", text.strip())
    return tuple(int(x) for x in numbers.group(1).split(".")) if numbers else None


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def build_checks(
    facts: dict[str, str],
    settings: Settings,
    *,
    cmake_needs: tuple[int, ...] | None,
    tree_shadows_build: bool,
    deps_url: str = DEPS_URL,
    last_build: tuple[str, dict[str, Any]] | None = None,
) -> list[Check]:
    """The source-build checks from the probe's facts (pure). ``cmake_needs``: what the branch's
    CMakeLists.txt asks for; ``tree_shadows_build``: the branch has a ``build/`` directory
    without ``__init__.py`` (it imports as a namespace package in the tree); ``last_build``: the
    latest recorded source build (run id, run.json's ``build``), what ccache really did."""
    if not source_build_planned(settings):
        why = "no --repo: nothing is built" if not settings.repo else f"--build {settings.build}: nothing is built"
        return [Check(_GROUP, "source build", "skip", why)]
    return [
        _compilers(facts),
        _cmake_version(facts, cmake_needs),
        _python_h(facts, settings),
        _pypa_build(facts, settings, tree_shadows_build),
        _recommended("ninja", facts, "apt-get install ninja-build (CMake then builds with Ninja, incrementally)"),
        _ccache(facts, last_build),
        _deps(facts, settings, deps_url),
    ]


def _compilers(facts: dict[str, str]) -> Check:
    cc, cxx = facts.get("cc", ""), facts.get("cxx", "")
    missing = [name for name, found in (("C", cc), ("C++", cxx)) if not found]
    fix = "apt-get install gcc g++ (or clang), or name them with --build-env CC=... --build-env CXX=..."
    if missing:
        detail = f"no {' and no '.join(missing)} compiler on PATH (setup.py: Cannot find suitable C/C++ compiler)"
        return Check(_GROUP, "compilers", "fail", detail, fix, needed=True)
    return Check(_GROUP, "compilers", "ok", f"{cc}; {cxx}", fix, needed=True)


def _cmake_version(facts: dict[str, str], needs: tuple[int, ...] | None) -> Check:
    found = _version(facts.get("cmake_version", ""))
    want = f"CMakeLists.txt asks for {_dotted(needs)}" if needs else "CMakeLists.txt names no minimum"
    fix = f"install cmake {_dotted(needs) if needs else ''}+ (a newer package, or pip install cmake on PATH)"
    if found is None:
        return Check(_GROUP, "cmake version", "fail", f"cmake not found; {want}", fix, needed=True)
    if needs and found < needs:
        return Check(_GROUP, "cmake version", "fail", f"cmake {_dotted(found)} < {_dotted(needs)}", fix, needed=True)
    return Check(_GROUP, "cmake version", "ok", f"cmake {_dotted(found)}; {want}", fix, needed=True)


def _python_h(facts: dict[str, str], settings: Settings) -> Check:
    found = facts.get("python_h", "")
    minor = re.search(r"python3\.\d+", settings.remote_python)
    dev = f"{minor.group(0)}-dev" if minor else "python3-dev"
    fix = f"apt-get install {dev} (the headers of --remote-python {settings.remote_python})"
    if not found or found.startswith("missing"):
        where = found.removeprefix("missing").strip()
        detail = f"no Python.h for {settings.remote_python}" + (f" (looked in {where})" if where else "")
        return Check(_GROUP, "Python.h", "fail", detail, fix, needed=True)
    return Check(_GROUP, "Python.h", "ok", found, fix, needed=True)


def _pypa_build(facts: dict[str, str], settings: Settings, tree_shadows_build: bool) -> Check:
    origin = facts.get("build_origin", "")
    in_tree = facts.get("build_in_tree", "")
    fix = f"{settings.remote_python} -m pip install build (pypa build, for python -m build)"
    if origin and not origin.startswith("namespace"):
        return Check(_GROUP, "pypa build", "ok", f"find_spec('build').origin = {origin}", fix)
    shadow = in_tree.startswith("namespace") or tree_shadows_build
    if shadow:
        detail = (
            "not installed; the tree's build/ (no __init__.py) imports as a namespace package, "
            "so `import build` passes there and `python -m build` fails"
        )
        return Check(_GROUP, "pypa build", "fail", detail, fix, needed=True)
    return Check(_GROUP, "pypa build", "warn", "not installed (find_spec('build') from / is None)", fix)


def _recommended(tool: str, facts: dict[str, str], fix: str) -> Check:
    found = facts.get(tool, "")
    return Check(_GROUP, tool, "ok" if found else "warn", found or "not found (recommended)", fix)


def _ccache(facts: dict[str, str], last_build: tuple[str, dict[str, Any]] | None) -> Check:
    """Installed is not enough: the kept tree must compile through it (CMake's launcher; a tree
    option such as ENABLE_CCACHE may be ignored), and the last build says how often it answered."""
    found = facts.get("ccache", "")
    if not found:
        fix = "apt-get install ccache (a one-line change then rebuilds in seconds)"
        return Check(_GROUP, "ccache", "warn", "not found (recommended)", fix, needed=False)
    state, _, tree = facts.get("ccache_tree", "none").partition(" ")
    fix = "armjit's next build configures it in (CMAKE_<LANG>_COMPILER_LAUNCHER in its toolchain file)"
    if state == "without":
        detail = f"{found}, but the kept build tree {tree} does not compile through it"
        return Check(_GROUP, "ccache", "warn", detail, fix, needed=False)
    parts = [found, f"the kept tree {tree} compiles through it" if state == "launcher" else "no kept build tree yet"]
    if last_build:
        run_id, build = last_build
        parts.append(f"last build (run {run_id}): {describe_build(build)}")
    return Check(_GROUP, "ccache", "ok", "; ".join(parts), fix, needed=False)


def _deps(facts: dict[str, str], settings: Settings, url: str) -> Check:
    names = ", ".join(DEPS_ARCHIVES)
    fix = f"pass --deps-dir DIR with the FetchContent archives ({names}), or let the host reach GitHub"
    deps_dir = deps_dir_setting(settings)
    if deps_dir:
        path = Path(deps_dir).expanduser()
        found = sorted(p.name for p in path.glob("*.tar.gz")) if path.is_dir() else []
        lacking = [n for n in DEPS_ARCHIVES if not any(f.startswith(n + "-") for f in found)]
        if not path.is_dir() or lacking:
            what = "no such directory" if not path.is_dir() else f"lacks {', '.join(lacking)}"
            return Check(_GROUP, "deps", "fail", f"--deps-dir {deps_dir}: {what}", fix, needed=True)
        return Check(_GROUP, "deps", "ok", f"--deps-dir {deps_dir}: {', '.join(found)}", fix, needed=True)
    state, _, rest = facts.get("deps", "").partition(" ")
    if state == "ok":
        return Check(_GROUP, "deps", "ok", f"the host reaches {url} ({rest})", fix, needed=True)
    detail = f"the host cannot reach {url} ({rest or 'no answer'}) and no --deps-dir is given"
    return Check(_GROUP, "deps", "fail", detail, fix, needed=True)
