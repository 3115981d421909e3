"""Whether nojit is a valid control between two runs: the files that changed between their code, read from git.

The drift-cancelled verdict (armjit.analysis.control) needs the interpreter path to be the same
code in both runs. The run records say which commit (and which uncommitted changes) each run
built; the repo says which files differ between them. Anything that cannot be established this
way leaves the control "unknown" (advisory), never "valid".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from armjit.analysis import control, crossrun
from armjit.analysis.control import ControlScope
from armjit.errors import ArmjitError
from armjit.seams import gitops
from armjit.seams.store import RunDir

__all__ = ["control_scope", "scope_for_runs"]


def _deployed_dirty(manifest: Mapping[str, Any]) -> str | None:
    commits = manifest.get("commits")
    deployed = commits.get("deployed") if isinstance(commits, Mapping) else None
    dirty = deployed.get("dirty_hash") if isinstance(deployed, Mapping) else None
    return str(dirty) if dirty else None


def _commit(manifest: Mapping[str, Any]) -> str | None:
    commits = manifest.get("commits")
    commit = commits.get("commit") if isinstance(commits, Mapping) else None
    return commit if isinstance(commit, str) and commit else None


def _build_env(manifest: Mapping[str, Any]) -> list[str]:
    settings = manifest.get("settings")
    env = settings.get("build_env") if isinstance(settings, Mapping) else None
    return sorted(map(str, env or []))


def control_scope(repo: str | Path | None, from_run: Mapping[str, Any], to_run: Mapping[str, Any]) -> ControlScope:
    """The control's validity for two run records (their run.json), from the changed files in ``repo``."""
    a, b = crossrun.code_identity(from_run), crossrun.code_identity(to_run)
    if a is None or b is None:
        return control.unknown_scope("a run's record does not pin the code it measured")
    if a.kind != "source" or b.kind != "source":
        return control.unknown_scope(f"{a.label} -> {b.label}: not two source builds of one repo")
    if _build_env(from_run) != _build_env(to_run):
        return ControlScope(
            "invalid", "the build environment differs between the runs: it can change the interpreter too"
        )
    if not repo:
        return control.unknown_scope("no --repo to read the two commits from")
    commit_a, commit_b = _commit(from_run), _commit(to_run)
    if commit_a is None or commit_b is None:  # code_identity of a source build has a commit
        return control.unknown_scope("a run's record has no commit")
    path = Path(repo).expanduser()
    try:
        for commit in (commit_a, commit_b):
            if gitops.resolve(path, commit) is None:
                return control.unknown_scope(f"commit {commit[:10]} is not in {path.name}")
        if _deployed_dirty(from_run):
            return control.unknown_scope(f"the from run built uncommitted changes on {commit_a[:10]}")
        dirty_b = _deployed_dirty(to_run)
        if dirty_b is None:
            changed = gitops.changed_between(path, commit_a, commit_b)
            between = f"{commit_a[:10]} and {commit_b[:10]}"
        elif gitops.head_commit(path) == commit_b and gitops.dirty_hash(path) == dirty_b:
            # The working tree is still what the to run built: its changes can be listed.
            changed = gitops.changed_since(path, commit_a)
            between = f"{commit_a[:10]} and the working tree"
        else:
            return control.unknown_scope("the to run's uncommitted changes are no longer in the working tree")
    except ArmjitError as err:
        return control.unknown_scope(f"git could not list them: {err}")
    return control.scope_of_changes(changed, between=between)


def scope_for_runs(repo: str | Path | None, from_run: Path | None, to_run: Path | None) -> ControlScope | None:
    """``control_scope`` for two run directories (None when either input is not a run); without
    ``repo``, the to run's recorded repo (the checkout it was built from)."""
    if from_run is None or to_run is None:
        return None
    a, b = RunDir(from_run).manifest(), RunDir(to_run).manifest()
    if not repo:
        settings = b.get("settings")
        recorded = settings.get("repo") if isinstance(settings, Mapping) else None
        repo = recorded if isinstance(recorded, str) and recorded else None
    return control_scope(repo, a, b)
