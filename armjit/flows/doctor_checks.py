"""The host checks of ``invoke doctor`` judged from plain data: one probe's facts in, checks out.

The probe (:func:`probe_command`, :data:`PYPI_PROBE`) is one round trip on the host; everything
after it is pure, so every branch is testable with a dict of facts.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from armjit.config import Settings

__all__ = [
    "CINDERX_MIN_PYTHON",
    "DISK_LIMITS",
    "GIB",
    "PYPI_PROBE",
    "Check",
    "needed_failures",
    "parse_probe",
    "probe_command",
    "pypi_command",
    "remote_checks",
]

CINDERX_MIN_PYTHON = (3, 14)
GIB = 1024 * 1024  # df -Pk reports KiB
DISK_LIMITS = {"workdir": (2, 10), "/tmp": (0.5, 2)}  # GiB: fail below the first, warn below the second


# Host-side: the index URL pip would use (PIP_INDEX_URL, then pip.conf files, later wins), and
# one HEAD request to it. Any HTTP answer means the index is reachable.
PYPI_PROBE = r"""
import configparser, os, sys, urllib.error, urllib.parse, urllib.request
url = sys.argv[1] if len(sys.argv) > 1 else ""
url = url or os.environ.get("PIP_INDEX_URL", "")
if not url:
    parser = configparser.ConfigParser()
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    parser.read(["/etc/pip.conf", "/etc/xdg/pip/pip.conf", os.path.join(home, ".pip", "pip.conf"),
                 os.path.join(xdg, "pip", "pip.conf"), os.environ.get("PIP_CONFIG_FILE", "")])
    for section in ("global", "install"):
        if parser.has_option(section, "index-url"):
            url = parser.get(section, "index-url").strip()
url = url or "https://pypi.org/simple/"
parts = urllib.parse.urlsplit(url)
shown = url
if parts.hostname:  # never print credentials embedded in the URL
    shown = parts._replace(netloc=parts.hostname + (":%d" % parts.port if parts.port else "")).geturl()
try:
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=5) as answer:
        print("pypi=ok %s HTTP %s" % (shown, answer.status))
except urllib.error.HTTPError as exc:
    print("pypi=ok %s HTTP %s" % (shown, exc.code))
except Exception as exc:
    print("pypi=unreachable %s %s: %s" % (shown, type(exc).__name__, str(exc)[:160]))
"""


@dataclass(frozen=True)
class Check:
    group: str  # local | host | remote | bench
    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    fix: str = ""  # what to do when it is not ok
    needed: bool = False  # does `invoke baseline` with these settings need it?

    @property
    def blocks_baseline(self) -> bool:
        return self.needed and self.status == "fail"


def needed_failures(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if c.blocks_baseline]


def probe_command(python: str, workdir: str) -> str:
    """One round trip for the facts the remote checks need (pure)."""
    py, wd = shlex.quote(python), shlex.quote(workdir)
    version = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
    return (
        f'echo "python=$({py} -c {shlex.quote(version)} 2>/dev/null)"; '
        'echo "rsync=$(command -v rsync)"; echo "tar=$(command -v tar)"; echo "cmake=$(command -v cmake)"; '
        f'd={wd}; while [ ! -d "$d" ]; do d=$(dirname "$d"); done; '
        'echo "disk_workdir=$(df -Pk "$d" | awk \'NR==2{print $4}\') $d"; '
        "echo \"disk_tmp=$(df -Pk /tmp | awk 'NR==2{print $4}') /tmp\"; "
        'echo "python3=$(command -v python3)"'
    )


def pypi_command(python: str, index_url: str) -> str:
    return f"{shlex.quote(python)} -c {shlex.quote(PYPI_PROBE)} {shlex.quote(index_url)}"


def parse_probe(stdout: str) -> dict[str, str]:
    facts = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.replace("_", "").isalnum():
            facts[key] = value.strip()
    return facts


def _version(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(x) for x in text.split("."))
    except ValueError:
        return None


def remote_checks(facts: dict[str, str], settings: Settings, pypi_line: str) -> list[Check]:
    """The host's checks from the probe's facts (pure, so every branch is testable with data)."""
    checks = [_python_check(facts, settings)]
    rsync, tar = facts.get("rsync", ""), facts.get("tar", "")
    sync_needed = bool(settings.repo)
    if rsync or tar:
        checks.append(Check("remote", "rsync or tar", "ok", f"rsync {rsync}" if rsync else f"tar {tar} (no rsync)"))
    else:
        checks.append(
            Check(
                "remote", "rsync or tar", "fail", "neither rsync nor tar", "apt-get install rsync", needed=sync_needed
            )
        )
    cmake = facts.get("cmake", "")
    cmake_needed = settings.build == "source" and bool(settings.repo)
    checks.append(
        Check(
            "remote",
            "cmake",
            "ok" if cmake else ("fail" if cmake_needed else "warn"),
            cmake or "not found",
            "apt-get install cmake (the CinderX build needs it)",
            needed=cmake_needed,
        )
    )
    for key, label in (("disk_workdir", "workdir"), ("disk_tmp", "/tmp")):
        checks.append(_disk_check(facts.get(key, ""), label))
    state, _, rest = pypi_line.partition(" ")
    state = state.removeprefix("pypi=")
    if state == "ok":
        checks.append(Check("remote", "pypi", "ok", rest))
    else:
        checks.append(
            Check(
                "remote",
                "pypi",
                "warn",
                f"unreachable: {rest}" if rest else "not checked",
                "set index-url in the host's pip.conf to a reachable mirror, or pre-install the tools",
            )
        )
    return checks


def _python_check(facts: dict[str, str], settings: Settings) -> Check:
    where = "this machine" if settings.is_local else "the host"
    version = _version(facts.get("python", ""))
    if version is None:
        return Check(
            "remote",
            "python",
            "fail",
            f"{settings.remote_python} does not run on {where}",
            "install CPython 3.14 there and pass --remote-python PATH",
            needed=True,
        )
    text = ".".join(map(str, version))
    can = version[:2] >= CINDERX_MIN_PYTHON
    cinderx_needed = settings.build != "none"
    status = "ok" if can else ("fail" if cinderx_needed else "warn")
    detail = f"{text} ({settings.remote_python}): " + ("can run cinderx" if can else "cannot run cinderx (3.14+)")
    if not can and not cinderx_needed:
        detail += "; fine for --build none"
    return Check(
        "remote",
        "python",
        status,
        detail,
        "point --remote-python at a CPython 3.14 (or use --build none)",
        needed=cinderx_needed,
    )


def _disk_check(value: str, label: str) -> Check:
    fail_gib, warn_gib = DISK_LIMITS[label]
    kib, _, path = value.partition(" ")
    if not kib.isdigit():
        return Check("remote", f"disk {label}", "warn", f"cannot tell ({value or 'no df'})", "check df -h by hand")
    gib = int(kib) / GIB
    status = "fail" if gib < fail_gib else "warn" if gib < warn_gib else "ok"
    return Check(
        "remote",
        f"disk {label}",
        status,
        f"{gib:.1f} GiB free on {path or label}",
        f"free space on {path or label} (a CinderX build needs several GiB; JIT logs go to /tmp)",
        needed=True,
    )
