"""Before a run writes anything: the defaults for this machine as the host, the connection with its
paths expanded and guarded, the free space, the JIT modes that can run, and the run id's host part.
Shared by every flow that runs on a host (baseline, ab, verify, red/green)."""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from typing import Any

from armjit.cinderx import modes as jit_modes
from armjit.config import Settings, checked_host_dirs
from armjit.seams.hosts import Host, use_host

__all__ = ["embedded_defaults", "guard_host_dirs", "host_label", "open_run_host", "plan_modes"]

_LOCAL_HOME = "~/.cache/armjit/local"


def embedded_defaults(settings: Settings, explicit: set[str]) -> tuple[Settings, list[str]]:
    """Adapt defaults that only make sense for an ARM host when the host is this machine.

    With no repo, nothing can be built: ``--build none`` on this interpreter (the embedded
    default). Remote-only paths move under ~/.cache/armjit/local unless set explicitly.
    """
    notes: list[str] = []
    changes: dict[str, Any] = {}
    if not settings.repo and "build" not in explicit and settings.build == "source":
        changes["build"] = "none"
        notes.append("no --repo given: nothing to build, running a plain interpreter (--build none)")
    if settings.is_local:
        if "remote_python" not in explicit:
            changes["remote_python"] = sys.executable
        for name, sub in (
            ("remote_workdir", "work"),
            ("remote_incoming", "incoming"),
            ("driver_venv", "venv-driver"),
        ):
            if name not in explicit:
                changes[name] = f"{_LOCAL_HOME}/{sub}"
    return replace(settings, **changes), notes


def open_run_host(settings: Settings, host: Host | None = None) -> tuple[Host, Settings]:
    """Connect (bad hosts fail here, before any file is written), or use the ``host`` the caller
        lends (left open for it), and expand ``~`` in the host paths once, on the host itself: every
        later command quotes these paths. The path guard runs again on the expanded paths, now that
        the login user's home is known, and on what each path resolves to on the host (symlinks, other
    users' homes, owner uid): the settings carry the resolved paths from here on."""
    from armjit.config import HOST_DIRS
    from armjit.seams import workdir

    host = use_host(settings, host)
    try:
        wanted = [(getattr(settings, name), flag, depth) for name, flag, depth in HOST_DIRS]
        resolved = workdir.resolve_guarded(host, wanted)
        paths: dict[str, Any] = {name: path for (name, _, _), path in zip(HOST_DIRS, resolved, strict=True)}
        checked = replace(settings, **paths)
        return host, checked_host_dirs(checked, home=host.expand("~"))
    except BaseException:
        host.close()
        raise


def guard_host_dirs(host: Host, settings: Settings, *, workdirs: list[str], venvs: list[str]) -> None:
    """Refuse, before the run writes anything on either side, directories it would delete into
    but does not own (see armjit.seams.workdir), and a host without the free space to build and
    install (armjit.flows.disk)."""
    from armjit.flows import disk
    from armjit.seams import workdir

    try:
        workdir.preflight(host, workdirs=workdirs, venvs=venvs, adopt=settings.adopt_workdir)
        disk.check_free_space(host, settings, build=settings.build == "source" and not settings.bench_only)
    except BaseException:
        host.close()
        raise


def plan_modes(settings: Settings) -> tuple[list[str], str]:
    """The modes that can run, and one line about the ones that cannot."""
    if settings.build == "none":
        plain = [m for m in jit_modes.known_modes() if jit_modes.runs_without_cinderx(m)]
        runnable = [m for m in settings.modes if m in plain] or plain[:1]
        dropped = [m for m in settings.modes if m not in plain]
        why = ""
        if dropped:
            why = (
                f"JIT modes {', '.join(dropped)} cannot run here: --build none runs a plain interpreter "
                "without cinderx (cinderx needs CPython 3.14; use --build source|pypi on a 3.14 host)"
            )
        return runnable, why
    return list(settings.modes), ""


def host_label(host: Host) -> str:
    """The host part of a run id: letters, digits, dots and dashes only."""
    return re.sub(r"[^A-Za-z0-9.-]+", "-", host.name).strip("-") or "host"
