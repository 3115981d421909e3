"""The real invoke CLI on armjit's tasks, as an engineer runs it: one subprocess per call."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
