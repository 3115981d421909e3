"""The fault tier (``nox -s faults``): armjit against a real sshd that is dropped, stalled and
re-keyed on purpose, and armjit itself killed. Every test here carries the ``faults`` marker,
which the ``tests`` and ``e2e`` sessions leave out.

At the end the suite prints its reliability table (fault, what the user sees, what is kept,
time to recover), the one in the README's "Reliability" section.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from armjit.render import table

from .faultkit import ROWS, Baseline

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.faults)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not ROWS:
        return
    rows = [(r["fault"], r["sees"], r["kept"], r["recover"]) for r in ROWS]
    terminalreporter.write_sep("-", "reliability table (README: Reliability)")
    terminalreporter.write_line(
        table(rows, ["fault", "what the user sees", "what is kept", "time to recover"], "github")
    )


@pytest.fixture
def faulty(sshd_host: Any, target_repo: Any, tmp_path: Path) -> Iterator[Baseline]:
    """A baseline against a fresh sshd of its own (it gets dropped, stalled and re-keyed)."""
    run = Baseline(sshd_host, target_repo, tmp_path)
    yield run
    run.cleanup()
