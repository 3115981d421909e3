"""``invoke doctor``: the onboarding preflight. Every check says what to do when it fails.

Checks run in the order a baseline needs them: this machine (git, an SSH key, Python), the
connection (reachable, authenticated, host key known), the host (Python and whether it can run
CinderX, rsync or tar, cmake, free disk, PyPI), and the benchmark venv. ``needed`` marks the
checks whose failure would stop ``invoke baseline`` with the same settings; the others warn.
Remote checks use the settings a baseline would use (the embedded defaults on ``--host local``).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from armjit.config import Settings
from armjit.errors import UsageError
from armjit.render import TableFormat, table
from armjit.seams.hosts import CommandResult, Host, SshHost, connect, local_command

__all__ = [
    "CINDERX_MIN_PYTHON",
    "PYPI_PROBE",
    "Check",
    "checks_json",
    "checks_table",
    "needed_failures",
    "parse_probe",
    "probe_command",
    "pypi_command",
    "remote_checks",
    "run_doctor",
]

CINDERX_MIN_PYTHON = (3, 14)
GIB = 1024 * 1024  # df -Pk reports KiB
DISK_LIMITS = {"workdir": (2, 10), "/tmp": (0.5, 2)}  # GiB: fail below the first, warn below the second
_PROBE_TIMEOUT = 60

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


def checks_table(checks: Iterable[Check], fmt: TableFormat = "simple") -> str:
    rows = [
        (
            c.group,
            c.name,
            c.status.upper() if c.status == "fail" else c.status,
            "yes" if c.needed else "",
            c.detail,
            c.fix if c.status != "ok" else "",
        )
        for c in checks
    ]
    return table(rows, ["group", "check", "status", "needed", "detail", "what to do"], fmt)


def checks_json(checks: list[Check], host: str) -> dict[str, Any]:
    failing = needed_failures(checks)
    return {
        "ok": not failing,
        "host": host,
        "failed_needed": [c.name for c in failing],
        "checks": [asdict(c) for c in checks],
    }


# -- this machine --------------------------------------------------------------------------------


def _local_checks(settings: Settings) -> list[Check]:
    checks = []
    needs_git = bool(settings.repo)
    try:
        git = local_command(["git", "--version"])
    except UsageError:
        checks.append(Check("local", "git", "fail", "git is not installed", "install git", needed=needs_git))
    else:
        status = "ok" if git.ok else "fail"
        checks.append(Check("local", "git", status, git.stdout.strip() or git.tail(1), "install git", needed=needs_git))
    checks.append(_ssh_key_check(settings))
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 11)
    checks.append(
        Check(
            "local",
            "python",
            "ok" if ok else "fail",
            f"{version} ({sys.executable})",
            "armjit needs Python 3.11+",
            needed=True,
        )
    )
    return checks


def _ssh_key_check(settings: Settings) -> Check:
    fix = "ssh-keygen -t ed25519, then ssh-copy-id -i ~/.ssh/id_ed25519.pub USER@HOST (or pass --key FILE)"
    if settings.is_local:
        return Check("local", "ssh key", "skip", "--host local: no SSH")
    if settings.key:
        path = Path(settings.key).expanduser()
        if not path.is_file():
            return Check("local", "ssh key", "fail", f"--key {settings.key}: no such file", fix, needed=True)
        if not os.access(path, os.R_OK):
            return Check("local", "ssh key", "fail", f"--key {settings.key}: not readable", fix, needed=True)
        return Check("local", "ssh key", "ok", f"--key {settings.key}")
    found = [p for p in (Path("~/.ssh").expanduser() / n for n in ("id_ed25519", "id_ecdsa", "id_rsa")) if p.is_file()]
    configured = _config_identities(settings)
    if os.environ.get("SSH_AUTH_SOCK"):
        return Check("local", "ssh key", "ok", "ssh agent (SSH_AUTH_SOCK)")
    if configured or found:
        return Check("local", "ssh key", "ok", ", ".join(str(p) for p in [*configured, *found]))
    return Check("local", "ssh key", "warn", "no --key, no ssh agent, no ~/.ssh/id_* and no IdentityFile", fix)


def _config_identities(settings: Settings) -> list[str]:
    import paramiko

    path = Path(settings.ssh_config or "~/.ssh/config").expanduser()
    if not path.is_file():
        return []
    try:
        config = paramiko.SSHConfig.from_path(str(path))
    except (OSError, paramiko.SSHException):
        return []
    from armjit.config import parse_host

    _, host, _ = parse_host(settings.host, settings.user, settings.port)
    files: list[str] = list(config.lookup(host).get("identityfile", []))
    return [f for f in files if Path(f).expanduser().is_file()]


# -- the connection ------------------------------------------------------------------------------


def _known_before(host: SshHost) -> bool:
    """Was the host's key already in armjit's known_hosts (or the system's) before connecting?"""
    import paramiko

    address, _, port = host.name.rpartition("@")[2].rpartition(":")
    lookup = address if port == "22" else f"[{address}]:{port}"
    for path in (host.target.known_hosts, Path("~/.ssh/known_hosts").expanduser()):
        if not path.is_file():
            continue
        try:
            keys = paramiko.HostKeys(str(path))
        except (OSError, paramiko.SSHException):
            continue
        if keys.lookup(lookup) is not None:
            return True
    return False


def _connection_checks(host: Host, settings: Settings) -> tuple[list[Check], bool]:
    """Reachable, auth, host key; and whether the host can be used for the remote checks."""
    if not isinstance(host, SshHost):
        return [Check("host", name, "skip", "--host local") for name in ("reachable", "auth", "host key")], True
    target = f"{host.name}"
    known = host.target.known_hosts
    reach_fix = f"check --host/--port and that sshd runs on {target} (try: ssh -p PORT USER@HOST true)"
    auth_fix = "pass --key FILE or add it to the ssh agent; its .pub must be in ~/.ssh/authorized_keys (ssh-copy-id)"
    key_fix = f"if the host was reinstalled, delete its line from {known}; otherwise do not connect"
    strict_fix = f"add the host key first: ssh-keyscan -p PORT HOST >> {known} (or drop --strict-host-keys)"
    was_known = _known_before(host)
    try:
        host.open()
    except UsageError as exc:
        text = str(exc)
        if "authentication" in text:
            key = Check("host", "host key", "ok", "known" if was_known else f"first use: saved to {known}")
            return [
                Check("host", "reachable", "ok", target),
                Check("host", "auth", "fail", text, auth_fix, needed=True),
                key,
            ], False
        if "host key" in text and "changed" in text:
            return [
                Check("host", "reachable", "ok", target),
                Check("host", "auth", "skip", "not tried: the host key was refused"),
                Check("host", "host key", "fail", text, key_fix, needed=True),
            ], False
        if "strict-host-keys" in text:
            return [
                Check("host", "reachable", "ok", target),
                Check("host", "auth", "skip", "not tried: the host key is not known"),
                Check("host", "host key", "fail", text, strict_fix, needed=True),
            ], False
        return [
            Check("host", "reachable", "fail", text, reach_fix, needed=True),
            Check("host", "auth", "skip", "not tried: host not reachable"),
            Check("host", "host key", "skip", "not tried: host not reachable"),
        ], False
    key_detail = f"known ({known})" if was_known else f"first use: key saved to {known} (trust on first use)"
    return [
        Check("host", "reachable", "ok", target),
        Check("host", "auth", "ok", f"logged in as {host.name.split('@')[0]}"),
        Check("host", "host key", "ok", key_detail),
    ], True


# -- the host ------------------------------------------------------------------------------------


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
    checks = []
    where = "this machine" if settings.is_local else "the host"
    version = _version(facts.get("python", ""))
    if version is None:
        checks.append(
            Check(
                "remote",
                "python",
                "fail",
                f"{settings.remote_python} does not run on {where}",
                "install CPython 3.14 there and pass --remote-python PATH",
                needed=True,
            )
        )
    else:
        text = ".".join(map(str, version))
        can = version[:2] >= CINDERX_MIN_PYTHON
        cinderx_needed = settings.build != "none"
        status = "ok" if can else ("fail" if cinderx_needed else "warn")
        detail = f"{text} ({settings.remote_python}): " + ("can run cinderx" if can else "cannot run cinderx (3.14+)")
        if not can and not cinderx_needed:
            detail += "; fine for --build none"
        checks.append(
            Check(
                "remote",
                "python",
                status,
                detail,
                "point --remote-python at a CPython 3.14 (or use --build none)",
                needed=cinderx_needed,
            )
        )
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


def _bench_check(host: Host, settings: Settings, pypi_ok: bool) -> Check:
    from armjit.cinderx.commands import venv_python
    from armjit.flows.steps import bench_runner

    runner = bench_runner(settings)
    tools = ["pyperf", "pyperformance"] if runner == "pyperformance" or not settings.bench_script else ["pyperf"]
    python = venv_python(host.expand(settings.driver_venv))
    probe = host.run(
        f"test -x {shlex.quote(python)} || exit 3; for m in {' '.join(tools)}; do "
        f'{shlex.quote(python)} -c "import $m" 2>/dev/null || echo "missing=$m"; done',
        timeout=_PROBE_TIMEOUT,
    )
    missing = [ln.split("=", 1)[1] for ln in probe.stdout.splitlines() if ln.startswith("missing=")]
    if probe.exit_code == 3:
        what = f"no driver venv at {settings.driver_venv}: baseline creates it"
        missing = tools
    elif missing:
        what = f"{settings.driver_venv} lacks {', '.join(missing)}: baseline installs them"
    else:
        what = f"{settings.driver_venv} has {', '.join(tools)}"
        if runner == "pyperformance":
            show = (
                host.run(
                    f"{shlex.quote(python)} -m pyperformance venv show",
                    cwd=settings.remote_workdir,
                    timeout=_PROBE_TIMEOUT,
                )
                if _dir_exists(host, settings.remote_workdir)
                else None
            )
            line = next((ln for ln in (show.stdout if show else "").splitlines() if "environment path" in ln), "")
            if line:
                what += "; pyperformance " + line.split(":", 1)[1].strip()
        return Check("bench", "pyperformance venv", "ok", what)
    if pypi_ok:
        return Check("bench", "pyperformance venv", "warn", what, "nothing: baseline installs from PyPI")
    return Check(
        "bench",
        "pyperformance venv",
        "fail",
        what + ", but the host cannot reach PyPI",
        f"pre-install {' '.join(missing)} into {settings.driver_venv} or fix the index URL",
        needed=True,
    )


def _dir_exists(host: Host, path: str) -> bool:
    return host.run(f"test -d {shlex.quote(host.expand(path))}", timeout=_PROBE_TIMEOUT).ok


def _run(host: Host, command: str) -> CommandResult:
    return host.run(command, timeout=_PROBE_TIMEOUT)


def run_doctor(
    settings: Settings,
    explicit: set[str],
    *,
    index_url: str = "",
    on_check: Callable[[Check], None] | None = None,
) -> tuple[list[Check], str]:
    """Every check, in order; returns them and the host's name. Never raises for a failed check."""
    from armjit.flows.baseline import embedded_defaults

    settings, _ = embedded_defaults(settings, explicit)
    checks: list[Check] = []

    def add(items: Iterable[Check]) -> None:
        for item in items:
            checks.append(item)
            if on_check is not None:
                on_check(item)

    add(_local_checks(settings))
    try:
        host = connect(settings)
    except UsageError as exc:
        add([Check("host", "reachable", "fail", str(exc), "fix --host / --key / --ssh-config", needed=True)])
        return checks, settings.host
    try:
        connection, usable = _connection_checks(host, settings)
        add(connection)
        if not usable:
            add([Check("remote", "checks", "skip", "not run: no connection to the host")])
            return checks, host.name
        workdir = host.expand(settings.remote_workdir)
        facts = parse_probe(_run(host, probe_command(settings.remote_python, workdir)).stdout)
        python = settings.remote_python if facts.get("python") else facts.get("python3", "")
        pypi_line = "pypi=unreachable (no python on the host)"
        if python:
            pypi_line = next(
                (
                    ln
                    for ln in _run(host, pypi_command(python, index_url)).stdout.splitlines()
                    if ln.startswith("pypi=")
                ),
                "pypi=unreachable (probe printed nothing)",
            )
        remote = remote_checks(facts, settings, pypi_line)
        add(remote)
        pypi_ok = any(c.name == "pypi" and c.status == "ok" for c in remote)
        add([_bench_check(host, settings, pypi_ok)])
    finally:
        host.close()
    return checks, host.name
