"""``invoke doctor``: the onboarding preflight. Every check says what to do when it fails.

Checks run in the order a baseline needs them: this machine (git, an SSH key, Python), the
connection (reachable, authenticated, host key known), the host (Python and whether it can run
CinderX, rsync or tar, cmake, free disk, PyPI; judged in :mod:`.doctor_checks`), what a source
build needs (compilers, cmake's version, Python.h, pypa build, ninja, ccache, the FetchContent
dependencies; :mod:`.doctor_build`), and the benchmark venv. ``needed`` marks the checks whose
failure would stop ``invoke baseline`` with the same settings; the others warn. Remote checks
use the settings a baseline would use (the embedded defaults on ``--host local``).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from armjit.config import Settings
from armjit.errors import AuthFailed, HostKeyChanged, HostKeyUnknown, HostUnreachable, UsageError
from armjit.flows.doctor_build import (
    DEPS_URL,
    build_checks,
    build_probe_command,
    cmake_required,
    source_build_planned,
)
from armjit.flows.doctor_checks import (
    CINDERX_MIN_PYTHON,
    GIB,
    PYPI_PROBE,
    Check,
    needed_failures,
    parse_probe,
    probe_command,
    pypi_command,
    remote_checks,
)
from armjit.render import TableFormat, table
from armjit.seams.hosts import CommandResult, Host, identities_for, local_command, use_host

__all__ = [
    "CINDERX_MIN_PYTHON",
    "DEPS_URL",
    "GIB",
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

_PROBE_TIMEOUT = 60


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
    configured = identities_for(settings)
    if os.environ.get("SSH_AUTH_SOCK"):
        return Check("local", "ssh key", "ok", "ssh agent (SSH_AUTH_SOCK)")
    if configured or found:
        return Check("local", "ssh key", "ok", ", ".join(str(p) for p in [*configured, *found]))
    return Check("local", "ssh key", "warn", "no --key, no ssh agent, no ~/.ssh/id_* and no IdentityFile", fix)


# -- the connection ------------------------------------------------------------------------------


def _connect(settings: Settings, lent: Host | None) -> tuple[Host | None, list[Check]]:
    """Reachable, auth and host key, told apart by the error's type; and the host when it can
    be used for the remote checks (None when it cannot)."""
    where = settings.host
    reach_fix = f"check --host/--port and that sshd runs on {where} (try: ssh -p PORT USER@HOST true)"
    auth_fix = "pass --key FILE or add it to the ssh agent; its .pub must be in ~/.ssh/authorized_keys (ssh-copy-id)"
    reached = Check("host", "reachable", "ok", where)
    try:
        host = use_host(settings, lent)
    except AuthFailed as exc:
        key = Check("host", "host key", "ok", "accepted (it is checked before the login)")
        return None, [reached, Check("host", "auth", "fail", str(exc), auth_fix, needed=True), key]
    except HostKeyChanged as exc:
        fix = f"if the host was reinstalled, delete its line from {exc.known_hosts}; otherwise do not connect"
        return None, [
            reached,
            Check("host", "auth", "skip", "not tried: the host key was refused"),
            Check("host", "host key", "fail", str(exc), fix, needed=True),
        ]
    except HostKeyUnknown as exc:
        fix = f"add the host key first: ssh-keyscan -p PORT HOST >> {exc.known_hosts} (or drop --strict-host-keys)"
        return None, [
            reached,
            Check("host", "auth", "skip", "not tried: the host key is not known"),
            Check("host", "host key", "fail", str(exc), fix, needed=True),
        ]
    except HostUnreachable as exc:
        return None, _unreachable(str(exc), reach_fix)
    except UsageError as exc:  # settings that name no usable host (no such key file, ssh_config, ...)
        return None, _unreachable(str(exc), "fix --host / --key / --ssh-config")
    trust = host.trust
    if trust is None:
        return host, [Check("host", name, "skip", "--host local") for name in ("reachable", "auth", "host key")]
    key_detail = (
        f"first use: key saved to {trust.known_hosts} (trust on first use)"
        if trust.first_use
        else f"known ({trust.known_hosts})"
    )
    return host, [
        Check("host", "reachable", "ok", host.name),
        Check("host", "auth", "ok", f"logged in as {host.user}"),
        Check("host", "host key", "ok", key_detail),
    ]


def _unreachable(text: str, fix: str) -> list[Check]:
    return [
        Check("host", "reachable", "fail", text, fix, needed=True),
        Check("host", "auth", "skip", "not tried: host not reachable"),
        Check("host", "host key", "skip", "not tried: host not reachable"),
    ]


# -- the host ------------------------------------------------------------------------------------


def _bench_check(host: Host, settings: Settings, pypi_ok: bool) -> Check:
    from armjit.cinderx.commands import venv_python
    from armjit.flows.steps import bench_runner

    runner = bench_runner(settings)
    tools = ["pyperf", "pyperformance"] if runner == "pyperformance" or not settings.bench_script else ["pyperf"]
    tools.append("pytest")  # the driver venv runs red/green and the test gate
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
    deps_url: str = DEPS_URL,
    on_check: Callable[[Check], None] | None = None,
    host: Host | None = None,
) -> tuple[list[Check], str]:
    """Every check, in order; returns them and the host's name. Never raises for a failed check.
    ``host``: an open host to check instead of the one ``settings`` name (the caller closes it).
    ``deps_url``: where the host must reach for CMake's FetchContent without --deps-dir."""
    from armjit.flows.baseline import embedded_defaults

    settings, _ = embedded_defaults(settings, explicit)
    checks: list[Check] = []

    def add(items: Iterable[Check]) -> None:
        for item in items:
            checks.append(item)
            if on_check is not None:
                on_check(item)

    add(_local_checks(settings))
    usable, connection = _connect(settings, host)
    add(connection)
    if usable is None:
        add([Check("remote", "checks", "skip", "not run: no connection to the host")])
        return checks, settings.host
    try:
        _host_checks(usable, settings, index_url, add)
        add(_source_build_checks(usable, settings, deps_url))
        add([_bench_check(usable, settings, _pypi_ok(checks))])
    finally:
        usable.close()
    return checks, usable.name


def _host_checks(host: Host, settings: Settings, index_url: str, add: Callable[[Iterable[Check]], None]) -> None:
    workdir = host.expand(settings.remote_workdir)
    facts = parse_probe(_run(host, probe_command(settings.remote_python, workdir)).stdout)
    python = settings.remote_python if facts.get("python") else facts.get("python3", "")
    pypi_line = "pypi=unreachable (no python on the host)"
    if python:
        lines = _run(host, pypi_command(python, index_url)).stdout.splitlines()
        pypi_line = next((ln for ln in lines if ln.startswith("pypi=")), "pypi=unreachable (probe printed nothing)")
    remote = remote_checks(facts, settings, pypi_line)
    add(remote)


def _pypi_ok(checks: list[Check]) -> bool:
    return any(c.group == "remote" and c.name == "pypi" and c.status == "ok" for c in checks)


def _source_build_checks(host: Host, settings: Settings, deps_url: str) -> list[Check]:
    """What a source build of the target repo needs on the host (nothing when none is planned)."""
    if not source_build_planned(settings):
        return build_checks({}, settings, cmake_needs=None, tree_shadows_build=False)
    from armjit.seams import gitops

    workdir = host.expand(settings.remote_workdir)
    facts = parse_probe(_run(host, build_probe_command(settings, workdir, deps_url)).stdout)
    repo = Path(settings.repo).expanduser()
    ref = "HEAD" if settings.worktree else settings.branch
    cmakelists = gitops.git(repo, "show", f"{ref}:CMakeLists.txt", check=False)

    def has(rel: str) -> bool:
        return gitops.git(repo, "cat-file", "-e", f"{ref}:{rel}", check=False).ok

    return build_checks(
        facts,
        settings,
        cmake_needs=cmake_required(cmakelists.stdout) if cmakelists.ok else None,
        tree_shadows_build=has("build") and not has("build/__init__.py"),
        deps_url=deps_url,
        last_build=_last_source_build(settings),
    )


def _last_source_build(settings: Settings) -> tuple[str, dict[str, Any]] | None:
    """The latest recorded source build (run id, run.json's ``build``): what the build really did."""
    from armjit.seams.store import RunStore

    def built(run: Any) -> bool:
        try:
            build = run.record().details.get("build")
        except (UsageError, OSError, ValueError):
            return False
        return isinstance(build, dict) and "objects_compiled" in build

    found = RunStore(settings.reports_path / "runs").latest(built)
    return (found.run_id, found.record().details["build"]) if found else None
