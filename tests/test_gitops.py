"""gitops against real repositories: a bare upstream on disk, clones, real fetch/rebase."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from armjit.errors import ArmjitError, UsageError
from armjit.seams import gitops
from armjit.seams import upstream as upstream_sync

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@e",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@e",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=ENV).stdout


def sha(repo: Path, ref: str) -> str:
    return git(repo, "rev-parse", ref).strip()


def commit_file(repo: Path, name: str, text: str, message: str) -> str:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)
    return sha(repo, "HEAD")


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    """A bare upstream with one commit on main, like a CinderX origin."""
    bare = tmp_path / "upstream.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    git(seed, "checkout", "-q", "-b", "main")
    commit_file(seed, "cinderx/Jit/codegen.cpp", "v1\n", "upstream 1")
    git(seed, "push", "-q", "origin", "main")
    return bare


@pytest.fixture
def work(tmp_path: Path, upstream: Path) -> Path:
    """The engineer's clone: main tracks origin/main, arm-jit has one commit of its own."""
    clone = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(upstream), str(clone))
    git(clone, "checkout", "-q", "-b", "arm-jit")
    commit_file(clone, "cinderx/Jit/lir.h", "arm64\n", "arm work")
    return clone


def advance_upstream(tmp_path: Path, upstream: Path, name: str = "cinderx/StaticPython/x.c") -> str:
    other = tmp_path / f"other-{name.replace('/', '_')}"
    git(tmp_path, "clone", "-q", str(upstream), str(other))
    new = commit_file(other, name, "upstream 2\n", "upstream 2")
    git(other, "push", "-q", "origin", "main")
    return new


# -- checks ------------------------------------------------------------------------------------


def one_line_usage_error(repo: Path, branch: str | None = None) -> str:
    with pytest.raises(UsageError) as caught:
        gitops.check_repo(repo, branch)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_check_repo_rejects_bad_input_in_one_line(tmp_path: Path, work: Path) -> None:
    assert "no such directory" in one_line_usage_error(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    assert "not a directory" in one_line_usage_error(tmp_path / "file")
    (tmp_path / "plain").mkdir()
    assert "not a git checkout" in one_line_usage_error(tmp_path / "plain")
    assert "not a git checkout" in one_line_usage_error(tmp_path / "upstream.git")  # bare: no work tree
    message = one_line_usage_error(work, "no-such-branch")
    assert "--branch no-such-branch: no such branch" in message and "arm-jit" in message
    assert "not its top" in one_line_usage_error(work / "cinderx")
    assert gitops.check_repo(work, "arm-jit") == work.resolve()


def test_parse_porcelain_handles_renames_and_spaces() -> None:
    text = "R  new name.txt\0old name.txt\0 M a.c\0?? dir/x y\0"
    assert gitops.parse_porcelain(text) == [("R ", "new name.txt"), (" M", "a.c"), ("??", "dir/x y")]


def test_parse_worktree_branches() -> None:
    text = "worktree /a\nHEAD 1\nbranch refs/heads/main\n\nworktree /b c\nHEAD 2\ndetached\n"
    assert gitops.parse_worktree_branches(text) == {"main": "/a"}


# -- upstream sync ------------------------------------------------------------------------------


def test_sync_upstream_refuses_a_dirty_tree(work: Path) -> None:
    (work / "cinderx" / "Jit" / "lir.h").write_text("uncommitted\n")
    with pytest.raises(UsageError, match=r"uncommitted changes \(1: cinderx/Jit/lir.h\).*--no-sync-upstream"):
        upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")
    git(work, "checkout", "-q", "--", ".")
    (work / "notes.txt").write_text("untracked counts too, as in sync_upstream.ps1\n")
    with pytest.raises(UsageError, match=r"notes\.txt"):
        upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")


def test_fast_forward_without_checkout_then_rebase(tmp_path: Path, upstream: Path, work: Path) -> None:
    main_before = sha(work, "main")
    work_before = sha(work, "arm-jit")
    git(work, "checkout", "-q", "-b", "elsewhere", "main")  # the user is on a third branch
    new_upstream = advance_upstream(tmp_path, upstream)
    result = upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")
    assert result.upstream_before == main_before and result.upstream_after == new_upstream
    assert sha(work, "main") == new_upstream
    assert result.rebased and result.work_before == work_before
    assert sha(work, "arm-jit^") == new_upstream  # arm-jit now sits on the new upstream
    assert git(work, "log", "-1", "--format=%s", "arm-jit").strip() == "arm work"
    assert git(work, "symbolic-ref", "--short", "HEAD").strip() == "elsewhere"
    assert git(work, "status", "--porcelain") == ""
    assert "rebased" in str(result) and "fetched origin" in str(result)

    again = upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")
    assert not again.rebased and again.work_after == result.work_after
    assert "already at origin/main" in str(again)


def test_no_rebase_only_fast_forwards(tmp_path: Path, upstream: Path, work: Path) -> None:
    work_before = sha(work, "arm-jit")
    new_upstream = advance_upstream(tmp_path, upstream)
    result = upstream_sync.sync_upstream(work, "origin", "main", "arm-jit", rebase=False)
    assert sha(work, "main") == new_upstream
    assert sha(work, "arm-jit") == work_before and not result.rebased
    assert git(work, "symbolic-ref", "--short", "HEAD").strip() == "arm-jit"


def test_checked_out_upstream_branch_is_merged_ff_only(tmp_path: Path, upstream: Path, work: Path) -> None:
    git(work, "checkout", "-q", "main")
    new_upstream = advance_upstream(tmp_path, upstream)
    upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")
    assert sha(work, "main") == new_upstream
    assert (work / "cinderx" / "StaticPython" / "x.c").exists()  # the checked-out tree moved too
    assert git(work, "symbolic-ref", "--short", "HEAD").strip() == "main"


def test_missing_local_upstream_branch_is_created(tmp_path: Path, upstream: Path, work: Path) -> None:
    git(work, "branch", "-q", "-D", "main")
    result = upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")
    assert result.upstream_before is None and sha(work, "main") == sha(work, "origin/main")


def test_rebase_conflict_is_aborted_and_reported(tmp_path: Path, upstream: Path, work: Path) -> None:
    work_before = sha(work, "arm-jit")
    main_before = sha(work, "main")
    new_upstream = advance_upstream(tmp_path, upstream, name="cinderx/Jit/lir.h")  # the same file, other content
    with pytest.raises(
        ArmjitError, match=r"rebase of arm-jit onto main stopped on a conflict in cinderx/Jit/lir.h"
    ) as e:
        upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")
    # local main did move (a fast-forward to origin/main): the message says so, and what to do
    assert sha(work, "main") == new_upstream
    moved = f"local main was fast-forwarded {main_before[:10]} -> {new_upstream[:10]} (origin/main) and stays there"
    assert moved in str(e.value) and "git rebase main arm-jit" in str(e.value)
    assert "\n" not in str(e.value)
    assert sha(work, "arm-jit") == work_before
    assert git(work, "symbolic-ref", "--short", "HEAD").strip() == "arm-jit"
    assert git(work, "status", "--porcelain") == ""
    assert not (work / ".git" / "rebase-merge").exists()


def test_diverged_upstream_branch_is_refused(tmp_path: Path, upstream: Path, work: Path) -> None:
    git(work, "checkout", "-q", "main")
    commit_file(work, "local.txt", "local\n", "local-only commit on main")
    git(work, "checkout", "-q", "arm-jit")
    advance_upstream(tmp_path, upstream)
    with pytest.raises(ArmjitError, match="local main has commits that are not on origin/main"):
        upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")


def test_fetch_failure_is_one_line(work: Path, tmp_path: Path) -> None:
    git(work, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    with pytest.raises(ArmjitError, match=r"git fetch origin failed: .*--no-sync-upstream") as caught:
        upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")
    assert "\n" not in str(caught.value)


# -- report data ---------------------------------------------------------------------------------


def test_describe_shows_heads_stat_and_jit_files(tmp_path: Path, upstream: Path, work: Path) -> None:
    commit_file(work, "cinderx/StaticPython/classloader.c", "x\n", "sp")
    commit_file(work, "Tools/bench.py", "y\n", "tool")
    data = gitops.describe(work, "arm-jit", "origin/main")
    assert data["commit"] == sha(work, "arm-jit") and data["upstream_commit"] == sha(work, "origin/main")
    assert data["jit_files"] == ["cinderx/Jit/lir.h", "cinderx/StaticPython/classloader.c"]
    assert set(data["changed_files"]) == {*data["jit_files"], "Tools/bench.py"}
    assert "3 files changed" in data["diff_stat"]
    lines = gitops.describe_lines(data)
    assert lines[0] == f"WorkBranch arm-jit @ {data['commit']}"
    assert lines[1] == f"Upstream origin/main @ {data['upstream_commit']}"
    assert "Changed JIT-related files:" in lines and "  cinderx/Jit/lir.h" in lines
    # The upstream moving on does not show up in the three-dot delta.
    advance_upstream(tmp_path, upstream)
    git(work, "fetch", "-q", "origin")
    assert gitops.describe(work, "arm-jit", "origin/main")["changed_files"] == data["changed_files"]


def test_describe_without_upstream(work: Path) -> None:
    data = gitops.describe(work, "arm-jit", "nowhere/main")
    assert data["upstream_commit"] is None and data["changed_files"] == []
    assert gitops.describe_lines(data)[1] == "Upstream nowhere/main: not found locally (no diff shown)"


def test_jit_files_is_a_prefix_match() -> None:
    paths = ["cinderx/Jit/a.cpp", "cinderx/JitX/b", "cinderx/StaticPython/c.c", "Jit/d"]
    assert gitops.jit_files(paths) == ["cinderx/Jit/a.cpp", "cinderx/StaticPython/c.c"]


def test_dirty_hash_tracks_uncommitted_and_untracked_content(work: Path) -> None:
    assert gitops.dirty_hash(work) is None
    (work / "cinderx" / "Jit" / "lir.h").write_text("edited\n")
    edited = gitops.dirty_hash(work)
    assert edited is not None and gitops.dirty_hash(work) == edited
    (work / "new.bin").write_bytes(b"\x00\x01")
    with_new = gitops.dirty_hash(work)
    (work / "new.bin").write_bytes(b"\x00\x02")  # same name and size, other bytes
    assert with_new not in (edited, gitops.dirty_hash(work))
    (work / "ignored.o").write_bytes(b"x")
    (work / ".gitignore").write_text("*.o\n")
    git(work, "add", ".gitignore")
    git(work, "commit", "-q", "-m", "ignore")
    before = gitops.dirty_hash(work)
    (work / "ignored.o").write_bytes(b"changed")  # ignored files are not part of the deploy
    assert gitops.dirty_hash(work) == before


def test_source_state(work: Path) -> None:
    branch = gitops.source_state(work, "arm-jit", worktree=False)
    assert branch == gitops.SourceState(sha(work, "arm-jit"), "arm-jit", False, None)
    assert gitops.source_state(work, "main", worktree=False).commit == sha(work, "main")
    (work / "x.txt").write_text("x\n")
    tree = gitops.source_state(work, None, worktree=True)
    assert tree.worktree and tree.dirty_hash == gitops.dirty_hash(work) and tree.branch == "arm-jit"
    assert "working tree of arm-jit" in tree.label() and "+ changes" in tree.label()
    with pytest.raises(UsageError, match="no such branch or commit"):
        gitops.head_commit(work, "nope")


# -- what a piece of evidence covers ------------------------------------------------------------


def test_code_tree_is_the_tracked_code_without_the_notes(work: Path) -> None:
    notes = gitops.notes_in(work, work)
    assert "findings.md" in notes and ".armjit-state.json" in notes
    assert gitops.notes_in(work, work.parent / "elsewhere") == []
    commit_file(work, "findings.md", "team notes\n", "the team tracks findings.md")
    head = gitops.code_tree(work, "HEAD", exclude=notes)
    assert gitops.code_tree(work, None, exclude=notes) == head
    # armjit's notes and untracked files (a build tree in the checkout) are no part of the code
    (work / "findings.md").write_text("team notes\narmjit's block\n")
    (work / "build").mkdir()
    (work / "build" / "gen_asm.o").write_bytes(b"\x7fELF")
    assert gitops.code_tree(work, None, exclude=notes) == head
    # a changed tracked file, and a new file once staged, are
    (work / "cinderx" / "Jit" / "lir.h").write_text("arm64 v2\n")
    changed = gitops.code_tree(work, None, exclude=notes)
    assert gitops.tree_diff(work, head, changed) == ["cinderx/Jit/lir.h"]
    (work / "cinderx" / "Jit" / "new.cpp").write_text("new\n")
    git(work, "add", "cinderx/Jit/new.cpp")
    staged = gitops.code_tree(work, None, exclude=notes)
    assert gitops.tree_diff(work, head, staged) == ["cinderx/Jit/lir.h", "cinderx/Jit/new.cpp"]
    # only the given paths, as a commit of them would hold: the rest stays HEAD's
    only = gitops.code_tree(work, None, paths=["cinderx/Jit/lir.h"], exclude=notes)
    assert gitops.tree_diff(work, head, only) == ["cinderx/Jit/lir.h"]
    assert gitops.numstat(work, "HEAD^{tree}", gitops.code_tree(work, None, paths=["cinderx/Jit/lir.h"])) == [
        ("1", "1", "cinderx/Jit/lir.h")
    ]
    # the repo's own index was never touched: only what the test staged itself is staged
    assert git(work, "diff", "--cached", "--name-only").split() == ["cinderx/Jit/new.cpp"]
    assert gitops.tree_diff(work, head, "0" * 40) is None
