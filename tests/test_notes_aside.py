"""armjit's notes never block the next upstream sync, and never lose a byte.

Real repositories: a bare upstream that tracks ``findings.md`` (as CinderX's does), a clone on
the work branch, armjit's real notes writer adding its block, real fetch and rebase.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from armjit.errors import UsageError
from armjit.seams import notes
from armjit.seams import upstream as upstream_sync

ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t"}
ENV["GIT_COMMITTER_EMAIL"] = "t@e"
# A hand-kept findings.md as the team has it: BOM, CRLF, and a GBK line.
FINDINGS = b"\xef\xbb\xbf# Findings\r\n\r\n- team note\r\n- \xb2\xe2\xca\xd4 (GBK)\r\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=ENV).stdout


def commit(repo: Path, name: str, data: bytes, message: str) -> None:
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_bytes(data)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repos(tmp_path: Path) -> tuple[Path, Path]:
    """(work clone on arm-jit, another clone of the upstream) with findings.md tracked."""
    bare = tmp_path / "upstream.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    git(seed, "checkout", "-q", "-b", "main")
    commit(seed, "findings.md", FINDINGS, "upstream: team findings")
    commit(seed, "cinderx/Jit/codegen.cpp", b"v1\n", "upstream: code")
    git(seed, "push", "-q", "origin", "main")
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(bare), str(work))
    git(work, "checkout", "-q", "-b", "arm-jit")
    commit(work, "cinderx/Jit/lir.h", b"arm64\n", "arm work")
    return work, seed


def armjit_writes_its_block(work: Path) -> bytes:
    notes.upsert_block(work / notes.FINDINGS, "baseline", "## Baseline\n\n| mode | s |\n|---|---|\n| nojit | 1.0 |")
    notes.write_state(work, {"decisions": []})  # untracked beside it: armjit's too
    data = (work / notes.FINDINGS).read_bytes()
    assert data.startswith(FINDINGS) and b"armjit:begin baseline" in data
    assert git(work, "status", "--porcelain", "findings.md").startswith(" M")
    return data


def test_a_tracked_findings_md_with_armjit_block_does_not_block_the_sync(repos: tuple[Path, Path]) -> None:
    work, seed = repos
    written = armjit_writes_its_block(work)
    commit(seed, "cinderx/StaticPython/x.c", b"upstream 2\n", "upstream moves on")
    git(seed, "push", "-q", "origin", "main")
    heard: list[str] = []
    result = upstream_sync.sync_upstream(work, "origin", "main", "arm-jit", report=heard.append)
    assert result.rebased
    assert (work / "findings.md").read_bytes() == written  # byte for byte
    assert heard == ["findings.md: armjit's notes set aside for the sync and put back"]
    assert "set aside" in str(result)
    assert not (Path(git(work, "rev-parse", "--absolute-git-dir").strip()) / "armjit").exists()
    # The next run's sync is not refused either (the block is still there, still uncommitted).
    again = upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")
    assert not again.rebased and (work / "findings.md").read_bytes() == written


def test_upstream_edits_to_findings_md_are_merged_with_armjit_block(repos: tuple[Path, Path]) -> None:
    work, seed = repos
    written = armjit_writes_its_block(work)
    team = FINDINGS.replace(b"# Findings\r\n", b"# Findings (team)\r\n")
    commit(seed, "findings.md", team, "upstream: team edits the heading")
    git(seed, "push", "-q", "origin", "main")
    heard: list[str] = []
    upstream_sync.sync_upstream(work, "origin", "main", "arm-jit", report=heard.append)
    merged = (work / "findings.md").read_bytes()
    assert merged == written.replace(b"# Findings\r\n", b"# Findings (team)\r\n")
    assert "merged" in heard[0]


def test_a_conflicting_upstream_edit_keeps_armjit_copy_in_the_tree(repos: tuple[Path, Path]) -> None:
    work, seed = repos
    written = armjit_writes_its_block(work)
    commit(seed, "findings.md", FINDINGS + b"- upstream appended a line\r\n", "upstream: appends")
    git(seed, "push", "-q", "origin", "main")
    heard: list[str] = []
    upstream_sync.sync_upstream(work, "origin", "main", "arm-jit", report=heard.append)
    assert (work / "findings.md").read_bytes() == written
    assert "kept in the working tree" in heard[0]
    shown = subprocess.run(["git", "-C", str(work), "show", "HEAD:findings.md"], capture_output=True, check=True)
    assert b"upstream appended" in shown.stdout


def test_a_failed_sync_still_puts_the_notes_back(repos: tuple[Path, Path], tmp_path: Path) -> None:
    work, _ = repos
    written = armjit_writes_its_block(work)
    git(work, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    with pytest.raises(Exception, match="git fetch origin failed"):
        upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")
    assert (work / "findings.md").read_bytes() == written


def test_a_copy_left_by_an_interrupted_sync_is_never_overwritten(repos: tuple[Path, Path]) -> None:
    work, _ = repos
    armjit_writes_its_block(work)
    left = Path(git(work, "rev-parse", "--absolute-git-dir").strip()) / "armjit" / "notes-aside" / "findings.md"
    left.parent.mkdir(parents=True)
    left.write_bytes(b"the only copy\n")
    with pytest.raises(UsageError, match=r"left armjit's notes in .*notes-aside \(findings\.md\)"):
        upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")
    assert left.read_bytes() == b"the only copy\n"


def test_other_changes_beside_the_notes_still_refuse(repos: tuple[Path, Path]) -> None:
    work, _ = repos
    written = armjit_writes_its_block(work)
    (work / "cinderx" / "Jit" / "lir.h").write_bytes(b"uncommitted\n")
    with pytest.raises(UsageError, match=r"uncommitted changes \(1: cinderx/Jit/lir.h\)"):
        upstream_sync.sync_upstream(work, "origin", "main", "arm-jit")
    assert (work / "findings.md").read_bytes() == written
