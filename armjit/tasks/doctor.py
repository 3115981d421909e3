"""``invoke doctor``: the onboarding preflight (a table of checks, each with what to do)."""

from __future__ import annotations

import json as json_module
from typing import Any

from invoke import Context

from armjit.config import Settings
from armjit.doctor import checks_json, checks_table, needed_failures, run_doctor
from armjit.errors import GateFailed

__all__ = ["TASKS"]


def _doctor(
    c: Context, settings: Settings, sources: dict[str, str], *, json: bool = False, index_url: str = ""
) -> None:
    """Preflight: this machine, the SSH connection, the host's tools, disk and PyPI, the benchmark venv."""
    checks, host = run_doctor(settings, set(sources), index_url=index_url or "")
    failing = needed_failures(checks)
    if json:
        print(json_module.dumps(checks_json(checks, host), indent=2))
    else:
        print(f"armjit doctor: {host}\n")
        print(checks_table(checks))
        print("\nready for `invoke baseline`" if not failing else "")
    if failing:
        raise GateFailed("baseline would fail: " + "; ".join(f"{c.name}: {c.detail}" for c in failing))


def _make() -> list[Any]:
    from armjit.tasks._settings import settings_task

    doctor = settings_task(
        _doctor,
        extra={
            "json": (False, "print the checks as JSON"),
            "index_url": ("", "package index to probe from the host (default: the host's pip config, else PyPI)"),
        },
        name="doctor",
    )
    return [doctor]


TASKS = _make()
