"""Disk space on the host: checked before a build or a venv, and named when a step runs out.

A full disk used to surface as ``bench venv create (retry) failed (exit 1)``. Now a run first
checks the free space where it builds and installs (``--min-free-build``, default 5 GB, for a
source build; ``--min-free-venv`` for venvs alone) and refuses with one line before anything is
written; and a step whose output says ENOSPC fails as ``no space left on device on HOST:PATH``.
The probe is one round trip; reading its output and the step output is pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from armjit.config import Settings
from armjit.errors import UsageError
from armjit.seams.hosts import Host
from armjit.seams.hosts.space import FULL_BYTES, free_space_command, parse_free_space

__all__ = [
    "FULL_BYTES",
    "Need",
    "check_free_space",
    "command_paths",
    "free_space_command",
    "full_disk_path",
    "needs",
    "no_space_path",
    "parse_free_space",
    "shortfall",
]

GB = 1000**3
_NO_SPACE = re.compile(r"no space left on device|ENOSPC", re.IGNORECASE)
# A path in the line that reported it: quoted ('..', "..", `..', ‘..’) or a bare absolute path.
_QUOTED_PATH = re.compile(r"""['"`‘“](/[^'"`’”]*)['"’”]""")
_BARE_PATH = re.compile(r"(?<![\w.-])(/[^\s:'\"]+)")


@dataclass(frozen=True)
class Need:
    """``gb`` free needed at host path ``path`` for ``what`` (the setting that says so: ``flag``)."""

    path: str
    gb: float
    what: str
    flag: str


def needs(settings: Settings, *, build: bool) -> list[Need]:
    """What a run with ``settings`` will write to: the work dir (a build there, or the benchmark
    venv) and the driver venv. A zero setting means no check."""
    found = []
    if build:
        found.append(Need(settings.remote_workdir, settings.min_free_build, "a source build", "--min-free-build"))
    else:
        found.append(Need(settings.remote_workdir, settings.min_free_venv, "the venvs", "--min-free-venv"))
    found.append(Need(settings.driver_venv, settings.min_free_venv, "the venvs", "--min-free-venv"))
    return [n for n in found if n.gb > 0]


def _size(n: float) -> str:
    return f"{n / GB:.1f} GB" if n >= GB else f"{n / 1000**2:.0f} MB"


def shortfall(need: Need, free: int, folder: str, host_name: str) -> str | None:
    """The one line refusing a run that lacks space, or None when there is enough (pure)."""
    if free >= need.gb * GB:
        return None
    return (
        f"not enough free space on {host_name}:{folder}: {_size(free)} free, {need.gb:g} GB needed for "
        f"{need.what} ({need.flag}; free some space or lower it)"
    )


def check_free_space(host: Host, settings: Settings, *, build: bool) -> None:
    """Refuse (UsageError) a run whose host lacks the free space ``needs`` asks for."""
    wanted = needs(settings, build=build)
    if not wanted:
        return
    result = host.run(free_space_command([host.expand(n.path) for n in wanted]), timeout=60)
    for need, found in zip(wanted, parse_free_space(result.stdout), strict=False):
        if found is None:
            continue  # df could not tell: the step itself will say if the disk fills
        line = shortfall(need, found[0], found[1], host.name)
        if line:
            raise UsageError(line)


def _path_in(line: str) -> str | None:
    quoted = _QUOTED_PATH.search(line)
    if quoted:
        return quoted.group(1)
    # A bare path that starts the line names the program that complains (/usr/bin/ld: ...).
    bare = [m for m in _BARE_PATH.finditer(line) if line[: m.start()].strip()]
    return bare[0].group(1) if bare else None


def no_space_path(output: str, *, command: str = "", cwd: str | None = None) -> str | None:
    """When ``output`` reports ENOSPC: the path named on that line, else the step's ``cwd``, else
    the first path in its ``command``; None when the output does not report a full disk (pure)."""
    for line in output.splitlines():
        if _NO_SPACE.search(line):
            return _path_in(line) or cwd or _path_in(" " + command) or "?"
    return None


def command_paths(command: str, cwd: str | None, limit: int = 4) -> list[str]:
    """The directories a command works in: its cwd, then the absolute paths it names (pure)."""
    found = [cwd] if cwd else []
    for match in _QUOTED_PATH.finditer(command):
        found.append(match.group(1))
    for match in _BARE_PATH.finditer(command):
        found.append(match.group(1))
    unique = list(dict.fromkeys(p for p in found if p and not p.startswith(("/dev", "/proc", "/sys"))))
    return unique[:limit]


def full_disk_path(host: Host, command: str, cwd: str | None) -> str | None:
    """After a step failed without saying why: a directory it works in whose filesystem is
    full (tools like venv's ensurepip hide ENOSPC behind their own exit status), else None."""
    paths = command_paths(command, cwd)
    if not paths:
        return None
    try:
        probe = host.run(free_space_command(paths), timeout=60)
    except Exception:  # the step's own failure is the one to report
        return None
    for found in parse_free_space(probe.stdout):
        if found is not None and found[0] < FULL_BYTES:
            return found[1]
    return None
