"""What a run measured, pinned: cinderx's version and wheel hash, the build's flags, the tools.

Pure: the host-side probe script (installed versions read with ``importlib.metadata``, so
nothing is imported and no JIT starts), its command, the parsing of it and of pip's install
report, and the judgment of a pin (:func:`judge_cinderx`). ``run.json`` keeps the result under
``pins``. ``--build pypi`` without a version is resolved here to the version pip installed, and
``verify`` rebuilds the same one (see :func:`pinned_build`).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

__all__ = [
    "CMAKE_DEFAULT_BUILD_TYPE",
    "PINS_MARKER",
    "build_pins",
    "judge_cinderx",
    "parse_pins",
    "pinned_build",
    "pins_command",
    "pip_report_wheel",
    "same_version",
    "tool_changes",
]

PINS_MARKER = "armjit-pins "
# setup.py's default when CMAKE_BUILD_TYPE is not in the environment (cinderx-source-build.md).
CMAKE_DEFAULT_BUILD_TYPE = "RelWithDebInfo"

# Host-side: argv[1] a wheel file to hash ("" for none); argv[2:] distributions to report.
_SCRIPT = r"""
import hashlib, importlib.metadata as md, json, sys
found = {}
for name in sys.argv[2:]:
    dists = list(md.distributions(name=name))
    # What an installer installed (a RECORD), not a source tree's *.egg-info found on sys.path first.
    dist = ([d for d in dists if d.read_text("RECORD") is not None] or dists or [None])[0]
    found[name] = {"version": dist.version, "location": str(dist.locate_file(""))} if dist else None
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


def pip_report_wheel(text: str, name: str = "cinderx") -> dict[str, str] | None:
    """The wheel ``pip install --report`` says it installed for ``name``: version, file, url, sha256.

    pip checks a download against the hash the index gives (PyPI's links carry ``#sha256=``) and
    reports that hash; for a file the index gives none for, the hash of the file itself. None when
    the report is unreadable or did not install ``name``.
    """
    try:
        report = json.loads(text)
    except json.JSONDecodeError:
        return None
    installs = report.get("install") if isinstance(report, dict) else None
    for item in installs if isinstance(installs, list) else []:
        if not isinstance(item, dict):
            continue
        metadata = item.get("metadata") or {}
        if re.sub(r"[-_.]+", "-", str(metadata.get("name", ""))).lower() != name:
            continue
        info = item.get("download_info") or {}
        archive = info.get("archive_info") or {}
        sha256 = (archive.get("hashes") or {}).get("sha256") or str(archive.get("hash", "")).partition("sha256=")[2]
        url = str(info.get("url", ""))
        return {
            "version": str(metadata.get("version", "")),
            "file": url.rsplit("/", 1)[-1],
            "url": url,
            "sha256": sha256,
        }
    return None


def same_version(a: str, b: str) -> bool:
    """PEP 440 equality of plain releases (``2026.11.2`` == ``2026.11.2.0``); other versions as written."""

    def key(version: str) -> tuple[Any, ...]:
        match = re.fullmatch(r"v?(\d+(?:\.\d+)*)(.*)", version.strip().lower())
        if not match:
            return (version,)
        release = [int(part) for part in match.group(1).split(".")]
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        return (tuple(release), match.group(2))

    return key(a) == key(b)


def judge_cinderx(
    build: str,
    installed: Mapping[str, str | None],
    reports: Mapping[str, Mapping[str, str] | None],
    wheel: Mapping[str, str] | None,
) -> tuple[dict[str, Any] | None, list[str]]:
    """Which cinderx ran, and what is wrong with its pin ([] when nothing).

    ``installed``: venv ("driver", "bench") -> the cinderx version ``importlib.metadata`` reads
    there (None: none installed). ``reports``: venv -> the wheel pip reported installing there
    (:func:`pip_report_wheel`; ``--build pypi``). ``wheel``: the built wheel, ``{"path",
    "sha256"}`` (``--build source``; None with ``--bench-only``, which installs nothing).
    """
    if build == "none":
        return None, []
    problems: list[str] = []
    if build.startswith("pypi"):
        wanted = build.partition("==")[2]
        first: Mapping[str, str] | None = None
        for venv, version in installed.items():
            got = reports.get(venv)
            if not got or not got.get("sha256"):
                problems.append(f"{venv} venv: pip reported no cinderx wheel installed (pip install --report)")
                continue
            if wanted and not same_version(got["version"], wanted):
                problems.append(f"{venv} venv: pip installed cinderx {got['version']}, not the {wanted} asked for")
            if version != got["version"]:
                problems.append(
                    f"{venv} venv: cinderx {version or '(none)'} is installed, not the {got['version']} pip installed"
                )
            if first is not None and got["sha256"] != first["sha256"]:
                problems.append(f"{venv} venv: pip installed another wheel ({got['file']}) than in the driver venv")
            first = first or got
        if first is None:
            return None, problems
        ran = {"version": first["version"], "sha256": first["sha256"], "source": "pypi", "file": first["file"]}
        return ran | {"url": first["url"]}, problems
    if wheel is None:  # --bench-only: measuring what an earlier run installed
        version = next(iter(installed.values()), None)
        return {"version": version, "sha256": None, "source": "installed before (--bench-only)"}, problems
    name = wheel["path"].rsplit("/", 1)[-1]
    built = name.split("-")[1] if name.count("-") >= 2 else ""
    for venv, version in installed.items():
        if version != built:
            problems.append(f"{venv} venv: cinderx {version or '(none)'} is installed, not the {built} built ({name})")
    return {"version": built, "sha256": wheel.get("sha256"), "source": "source build", "file": name}, problems


def tool_changes(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What changed in the venvs between two probes, one line each (``bench venv: pyperf 2.11.0 -> 2.10.0``)."""
    changes = []
    for venv, now in after.items():
        then = before.get(venv) or {}
        for name, version in now.items():
            if then.get(name) != version:
                changes.append(f"{venv} venv: {name} {then.get(name) or '(none)'} -> {version or '(none)'}")
    return changes
