"""The real invoke CLI on armjit's tasks, as an engineer runs it: one subprocess per call."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A background job of a non-interactive shell (nohup, some CI runners) starts with SIGINT ignored,
# and an ignored SIGINT stays ignored across exec: Python would then never see a Ctrl-C. A person
# presses Ctrl-C in a terminal, where SIGINT is at its default disposition; this puts it there.
_SIGINT_AT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)


def as_from_a_terminal(argv: list[str]) -> list[str]:
    """``argv`` run with SIGINT at its default disposition, as from a terminal, whatever this runner has."""
    return [sys.executable, "-c", _SIGINT_AT_DEFAULT, *argv]


def run_invoke(
    *args: str, timeout: int = 600, env: Mapping[str, str] | None = None, cwd: Path = ROOT, root: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """``python -m invoke -r <armjit checkout> ARGS``, from the checkout unless ``cwd`` says
    where (the directory whose pyproject.toml is read). The caller's ARMJIT_* variables are
    dropped (a developer's own settings must not leak into a test); ``env`` adds. ``root``: the
    directory whose tasks.py (and invoke.yaml) invoke loads."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARMJIT_")}
    return subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(root), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**clean, **(env or {})},
        check=False,
    )
