"""Settings for a task: pyproject < invoke config < environment < the task's own flags.

``settings_task`` makes an invoke task whose signature has one flag per setting (so
``invoke --help baseline`` documents every one) plus the task's own extra flags.
"""

from __future__ import annotations

import inspect
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from invoke import Context, task

from armjit.config import Settings, load_pyproject_settings, merge_settings_with_sources, setting_specs
from armjit.safepaths import check_local_dir
from armjit.tasks._common import friendly_errors

__all__ = ["resolve_settings", "settings_help", "settings_task"]


def _flag_default(default: Any) -> Any:
    # Booleans stay booleans so invoke makes --flag / --no-flag; the rest are strings that
    # config.py coerces and validates (with a one-line error).
    return default if isinstance(default, bool) else None


def settings_help() -> dict[str, str]:
    helps = {}
    for spec in setting_specs():
        default = ",".join(spec.default) if isinstance(spec.default, tuple) else spec.default
        extra = [f"default: {default!s}" if default not in ("", None) else "default: unset", f"env {spec.env}"]
        if spec.ps1:
            extra.append(f"push_to_arm.ps1 {spec.ps1}")
        helps[spec.name] = f"{spec.help} ({'; '.join(extra)})"
    return helps


# Set by the ``armjit`` console script: run from inside a CinderX checkout, --repo defaults to it.
REPO_FROM_CWD = False


def _cwd_defaults() -> dict[str, str]:
    if not REPO_FROM_CWD:
        return {}
    probe = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False, cwd=Path.cwd()
    )
    return {"repo": probe.stdout.strip()} if probe.returncode == 0 and probe.stdout.strip() else {}


def resolve_settings(c: Context, given: dict[str, Any]) -> tuple[Settings, dict[str, str]]:
    """Merge every source; ``given`` holds the task's setting flags (None / default = not given)."""
    specs = {spec.name: spec for spec in setting_specs()}
    cli = {}
    for name, value in given.items():
        spec = specs[name]
        if isinstance(spec.default, bool):
            if value != spec.default:
                cli[name] = value
        elif value is not None:
            cli[name] = value
    try:
        invoke_section = dict(c.config.get("armjit", {}) or {})
    except AttributeError:
        invoke_section = {}
    settings, sources = merge_settings_with_sources(
        defaults=_cwd_defaults(),
        pyproject=load_pyproject_settings(Path.cwd()),
        invoke_config=invoke_section,
        environ=os.environ,
        cli=cli,
    )
    # The local half of the path guard (the host half runs in config.validate): before any task
    # body runs, so a refused path leaves nothing behind.
    check_local_dir(settings.reports, what="--reports")
    if settings.notes_dir:
        check_local_dir(settings.notes_dir, what="--notes-dir")
    return settings, sources


def settings_task(
    body: Callable[..., Any],
    *,
    extra: dict[str, tuple[Any, str]],
    name: str | None = None,
) -> Any:
    """An invoke task calling ``body(c, settings, sources, **extra_values)``.

    ``extra`` maps the task's own flags to (default, help).
    """
    specs = setting_specs()
    setting_names = [spec.name for spec in specs]

    @friendly_errors
    def runner(c: Context, **kwargs: Any) -> Any:
        given = {k: kwargs.pop(k) for k in setting_names}
        settings, sources = resolve_settings(c, given)
        return body(c, settings, sources, **kwargs)

    params = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [
        inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=_flag_default(spec.default))
        for spec in specs
    ]
    params += [
        inspect.Parameter(flag, inspect.Parameter.KEYWORD_ONLY, default=default) for flag, (default, _) in extra.items()
    ]
    runner.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    runner.__name__ = name or body.__name__
    runner.__doc__ = body.__doc__
    helps = settings_help() | {flag: text for flag, (_, text) in extra.items()}
    return task(help=helps)(runner)
