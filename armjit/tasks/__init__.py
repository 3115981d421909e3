"""The armjit namespace: one invoke task per plan step, composed from the modules below.

``tasks.py`` (for ``invoke``) and ``armjit.cli`` (the ``armjit`` console script) both use ``ns``.
"""

from __future__ import annotations

import importlib

from invoke import Collection

__all__ = ["ns"]

# Each module defines invoke tasks (functions decorated with ``@task``) and lists them in TASKS.
_MODULES = ("baseline", "mine", "compare", "ab", "verify", "iteration", "doctor")


def _build() -> Collection:
    ns = Collection()
    for name in _MODULES:
        try:
            module = importlib.import_module(f"armjit.tasks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"armjit.tasks.{name}":
                raise
            continue
        for task in module.TASKS:
            ns.add_task(task)
    return ns


ns = _build()
