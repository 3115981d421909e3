"""Settings from every source, gathered in one place: what each task and entry point uses.

Later wins: built-in defaults < ``[tool.armjit]`` in ``pyproject.toml`` < the ``armjit:`` section of
invoke's config (``invoke.yaml``, ``Collection.configure``) < ``ARMJIT_<NAME>`` < flags.
``config.py`` merges and validates; this module only reads the sources (files, environment, git).
Where reports and notes go is then decided by ``Settings.reports_path`` / ``Settings.notes_path``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from armjit.config import Settings, load_pyproject_settings, merge_settings_with_sources, validate
from armjit.errors import UsageError
from armjit.seams.safepaths import check_local_dir

__all__ = ["expand_hosts", "resolve_settings"]


def _checkout_of(cwd: Path) -> str | None:
    """The git checkout ``cwd`` is in, if any (the ``armjit`` console script's default --repo)."""
    from armjit.seams import gitops

    probe = gitops.git(cwd, "rev-parse", "--show-toplevel", check=False)
    top = probe.stdout.strip()
    return top if probe.ok and top else None


def _host_groups(
    layer: Mapping[str, Any], where: str, groups: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A config layer's ``hosts`` may be a section (``groups:`` and an optional default ``hosts:``
    list) rather than a list: the layer without it, and the groups with this layer's on top."""
    section = layer.get("hosts")
    if not isinstance(section, Mapping):
        return dict(layer), dict(groups)
    found = section.get("groups", {})
    unknown = sorted(set(section) - {"groups", "hosts"})
    if unknown or not isinstance(found, Mapping):
        raise UsageError(f"{where}: expected groups: {{NAME: [host, ...]}} and an optional hosts: list")
    rest = {k: v for k, v in layer.items() if k != "hosts"}
    if "hosts" in section:
        rest["hosts"] = section["hosts"]
    return rest, {**groups, **{str(k): list(v) if isinstance(v, list | tuple) else v for k, v in found.items()}}


def resolve_settings(
    *,
    invoke_config: Mapping[str, Any] | None = None,
    cli: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    repo_from_cwd: bool = False,
) -> tuple[Settings, dict[str, str]]:
    """The settings and, for each one not at its default, the source that set it.

    ``cli`` holds only the flags that were given. ``repo_from_cwd`` makes the checkout around
    ``cwd`` the default repo (lowest layer: pyproject, config, env and flags still win).
    """
    here = cwd or Path.cwd()
    defaults: dict[str, Any] = {}
    if repo_from_cwd:
        checkout = _checkout_of(here)
        if checkout:
            defaults["repo"] = checkout
    pyproject, groups = _host_groups(load_pyproject_settings(here), "pyproject [tool.armjit.hosts]", {})
    config, groups = _host_groups(invoke_config or {}, "invoke config armjit.hosts", groups)
    settings, sources = merge_settings_with_sources(
        defaults=defaults,
        pyproject=pyproject,
        invoke_config=config,
        environ=os.environ if environ is None else environ,
        cli=cli,
    )
    if settings.hosts:
        settings = replace(settings, hosts=expand_hosts(settings.hosts, groups))
        validate(settings)
    # The local half of the path guard (the host half runs in config.validate): before any task
    # body runs, so a refused path leaves nothing behind.
    # Judged by what they are (symlinks followed, ~user looked up); the settings carry the
    # resolved paths from here on, so a later write cannot go elsewhere.
    reports = check_local_dir(settings.reports, what="--reports", cwd=here)
    changes: dict[str, Any] = {"reports": str(reports)}
    if settings.notes_dir:
        changes["notes_dir"] = str(check_local_dir(settings.notes_dir, what="--notes-dir", cwd=here))
    return replace(settings, **changes), sources


def expand_hosts(hosts: tuple[str, ...], groups: Mapping[str, Any]) -> tuple[str, ...]:
    """``--hosts`` with every ``@GROUP`` replaced by the group's hosts (in order, each host once)."""
    found: list[str] = []
    for name in hosts:
        if name.startswith("@"):
            members = groups.get(name[1:])
            if members is None:
                known = ", ".join(f"@{g}" for g in sorted(groups)) or "none are defined"
                raise UsageError(
                    f"--hosts {name}: no such host group (groups: {known}; define them under hosts: groups: "
                    "in invoke.yaml or [tool.armjit.hosts.groups] in pyproject.toml)"
                )
            if not isinstance(members, list | tuple) or not all(isinstance(m, str) and m for m in members):
                raise UsageError(f"host group {name}: expected a list of host names, got {members!r}")
            found.extend(members)
        else:
            found.append(name)
    return tuple(dict.fromkeys(found))
