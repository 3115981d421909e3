"""BuildSource: what a side of a comparison ships, resolved against a real git checkout."""

from __future__ import annotations

from typing import Any

import pytest

from armjit.cinderx.buildsource import BuildSource
from armjit.errors import UsageError


def test_a_ref_is_a_branch_when_one_has_that_name_else_a_commit(target_repo: Any) -> None:
    repo = target_repo.path
    assert BuildSource.of_ref(repo, target_repo.work_branch) == BuildSource.branch(target_repo.work_branch)
    sha = target_repo.head("main")
    source = BuildSource.of_ref(repo, sha)
    assert source == BuildSource.commit(sha) and source.sync_ref() == sha and source.label() == sha[:10]
    with pytest.raises(UsageError, match="neither a branch nor a commit"):
        BuildSource.of_ref(repo, "no-such-branch")


def test_the_working_tree_is_its_own_kind_not_a_missing_ref() -> None:
    tree = BuildSource.worktree()
    assert tree.is_worktree and tree.sync_ref() is None and tree.label() == "working tree"
    assert not BuildSource.branch("arm-jit").is_worktree
    assert tree.as_dict() == {"kind": "worktree", "ref": ""}
    with pytest.raises(ValueError, match="needs a ref"):
        BuildSource("branch")
    with pytest.raises(ValueError, match="takes no ref"):
        BuildSource("worktree", "arm-jit")
