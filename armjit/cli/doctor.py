"""``invoke doctor``: the onboarding preflight (a table of checks, each with what to do)."""

from __future__ import annotations

import json
import sys

from invoke import Context

from armjit.cli._task import ALL, armjit_task
from armjit.config import Settings
from armjit.errors import GateFailed
from armjit.flows.doctor import DEPS_URL, checks_json, checks_table, needed_failures, run_doctor
from armjit.flows.doctor_checks import Check
from armjit.flows.fleet import map_hosts
from armjit.render.progress import Progress

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
    if settings.hosts:
        _doctor_fleet(settings, set(sources), json_, index_url, deps_url or DEPS_URL)
        return
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


def _doctor_fleet(settings: Settings, explicit: set[str], json_: bool, index_url: str, deps_url: str) -> None:
    """Every host of --hosts checked in parallel; one table per host, exit 1 if any is not ready."""

    def check(s: Settings, progress: Progress) -> tuple[list[Check], str]:
        def said(c: Check) -> None:
            if c.status != "ok":
                progress.message(f"{c.name}: {c.status}: {c.detail}")

        return run_doctor(s, explicit, index_url=index_url or "", deps_url=deps_url, on_check=said)

    answers = map_hosts(settings, check, stream=sys.stderr)
    blocked: list[str] = []
    out: dict[str, object] = {}
    for name, found, cause in answers:
        if found is None:
            blocked.append(f"{name}: {cause}")
            out[name] = {"error": cause}
            continue
        checks, host = found
        failing = needed_failures(checks)
        blocked += [f"{name}: {c.name}: {c.detail}" for c in failing]
        if json_:
            out[name] = checks_json(checks, host)
        else:
            print(f"armjit doctor: {name} ({host})\n\n{checks_table(checks)}\n")
    if json_:
        print(json.dumps(out, indent=2))
    if blocked:
        raise GateFailed(
            f"baseline would fail on {len({b.split(':')[0] for b in blocked})} host(s): " + "; ".join(blocked)
        )
    print(f"ready for `invoke baseline --hosts {','.join(settings.hosts)}`")


TASKS = [doctor]
