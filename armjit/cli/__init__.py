"""The armjit namespace: one invoke task per plan step, composed from the modules below.

``tasks.py`` (for ``invoke``) uses ``ns``; ``armjit.cli`` (the ``armjit`` console script) builds
its own with ``namespace(repo_from_cwd=True)``.
"""

from __future__ import annotations

from invoke import Collection

from armjit.cli import ab, baseline, compare, detach, doctor, history, iteration, mine, verify

__all__ = ["main", "namespace", "ns"]


def namespace(*, repo_from_cwd: bool = False) -> Collection:
    """The tasks in one collection. ``repo_from_cwd``: the checkout around the working directory is
    the default ``--repo`` (the console script is run from inside a CinderX checkout)."""
    collection = Collection()
    for module in (baseline, mine, compare, ab, verify, iteration, doctor, history, detach):
        for task in module.TASKS:
            collection.add_task(task)
    # Read by the settings resolver (armjit/cli/_task.py); invoke's config carries it to every task.
    collection.configure({"armjit_cli": {"repo_from_cwd": repo_from_cwd}})
    return collection


ns = namespace()


def main() -> None:
    """The ``armjit`` console script (``armjit.cli.program``)."""
    from armjit.cli.program import main as run

    run()
