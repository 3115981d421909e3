"""``invoke doctor``: the onboarding preflight (a table of checks, each with what to do)."""

from __future__ import annotations

import json

from invoke import Context

from armjit.cli._task import ALL, armjit_task
from armjit.config import Settings
from armjit.errors import GateFailed
from armjit.flows.doctor import DEPS_URL, checks_json, checks_table, needed_failures, run_doctor

__all__ = ["TASKS"]


# doctor is the baseline's preflight: it takes the baseline's flags (scripts/onboard.sh passes the
# same ones to both) and validates them all, even those only the baseline's later steps read.
@armjit_task(
    settings=ALL,
    help={
        "json": "print the checks as JSON",
        "index_url": "package index to probe from the host (default: the host's pip config, else PyPI)",
        "deps_url": f"where CMake's FetchContent downloads from, probed without --deps-dir (default {DEPS_URL})",
    },
)
def doctor(
    c: Context,
    settings: Settings,
    sources: dict[str, str],
    json_: bool = False,
    index_url: str = "",
    deps_url: str = "",
) -> None:
    """Preflight: this machine, SSH, the host's tools, disk and PyPI, a source build, the bench venv."""
    checks, host = run_doctor(settings, set(sources), index_url=index_url or "", deps_url=deps_url or DEPS_URL)
    failing = needed_failures(checks)
    if json_:
        print(json.dumps(checks_json(checks, host), indent=2))
    else:
        print(f"armjit doctor: {host}\n")
        print(checks_table(checks))
        print("\nready for `invoke baseline`" if not failing else "")
    if failing:
        raise GateFailed("baseline would fail: " + "; ".join(f"{c.name}: {c.detail}" for c in failing))


TASKS = [doctor]
