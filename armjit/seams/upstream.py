"""Upstream sync of the target repo (what ``sync_upstream.ps1`` did): fetch, fast-forward the
upstream branch, rebase the work branch; a dirty tree is refused before anything moves, except
for armjit's own notes files, which are set aside and put back (:mod:`.notes_aside`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from armjit.errors import ArmjitError, UsageError
from armjit.seams.gitops import (
    check_repo,
    current_branch,
    dirty_paths,
    git,
    head_commit,
    last_line,
    parse_worktree_branches,
    resolve,
)
from armjit.seams.notes_aside import OWN_UNTRACKED, is_set_aside, set_aside

__all__ = ["UpstreamSync", "sync_upstream"]


# -- upstream sync -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamSync:
    """What the upstream sync did; shas are full, None = did not exist before."""

    remote: str
    upstream_branch: str
    work_branch: str
    upstream_before: str | None
    upstream_after: str
    work_before: str
    work_after: str
    rebased: bool
    notes: tuple[str, ...] = ()  # what happened to armjit's notes set aside for the sync

    def __str__(self) -> str:
        up = f"{self.upstream_branch} {_short(self.upstream_before)} -> {_short(self.upstream_after)}"
        if self.upstream_before == self.upstream_after:
            up = f"{self.upstream_branch} already at {self.remote}/{self.upstream_branch} {_short(self.upstream_after)}"
        if self.rebased:
            work = f"{self.work_branch} rebased {_short(self.work_before)} -> {_short(self.work_after)}"
        else:
            work = f"{self.work_branch} not rebased ({_short(self.work_after)})"
        kept = "".join(f"; {line}" for line in self.notes)
        return f"fetched {self.remote}; {up}; {work}{kept}"


def _short(sha: str | None) -> str:
    return sha[:10] if sha else "(new)"


def sync_upstream(
    repo: Path,
    remote: str,
    upstream_branch: str,
    work_branch: str,
    *,
    rebase: bool = True,
    report: Callable[[str], None] | None = None,
) -> UpstreamSync:
    """fetch, fast-forward the local upstream branch, rebase the work branch on it, go back.

    The upstream branch is moved with ``update-ref`` (no checkout, so the working tree is not
    touched) unless it is the checked-out branch. A rebase conflict is aborted, leaving the
    branch as it was, and reported in one line. armjit's notes never block it: untracked ones are
    in no commit, and tracked ones it modified are set aside and put back (``report`` hears how).
    """
    check_repo(repo, work_branch)
    entries = dirty_paths(repo)
    own = [path for code, path in entries if is_set_aside(code, path)]
    dirty = [(c, p) for c, p in entries if p not in own and not (c == "??" and p in OWN_UNTRACKED)]
    if dirty:
        names = ", ".join(path for _, path in dirty[:3]) + (", ..." if len(dirty) > 3 else "")
        raise UsageError(
            f"{repo} has uncommitted changes ({len(dirty)}: {names}): commit or stash them, or pass --no-sync-upstream"
        )
    said: list[str] = []

    def tell(line: str) -> None:
        said.append(line)
        if report is not None:
            report(line)

    with set_aside(repo, own, tell):
        done = _sync(repo, remote, upstream_branch, work_branch, rebase=rebase)
    return replace(done, notes=tuple(said))


def _sync(repo: Path, remote: str, upstream_branch: str, work_branch: str, *, rebase: bool) -> UpstreamSync:
    fetched = git(repo, "fetch", "--quiet", remote, check=False)
    if not fetched.ok:
        raise ArmjitError(
            f"git fetch {remote} failed: {last_line(fetched.stderr)} (pass --no-sync-upstream to deploy as is)"
        )
    remote_sha = resolve(repo, f"refs/remotes/{remote}/{upstream_branch}")
    if remote_sha is None:
        raise UsageError(f"{remote}/{upstream_branch} does not exist after git fetch {remote}")
    original = current_branch(repo)
    original_sha = head_commit(repo, "HEAD")
    local_before = resolve(repo, f"refs/heads/{upstream_branch}")
    _fast_forward(repo, upstream_branch, local_before, remote_sha, remote, checked_out=original == upstream_branch)
    work_before = head_commit(repo, work_branch)
    rebased = False
    if rebase and work_branch != upstream_branch and not _is_ancestor(repo, remote_sha, work_before):
        moved = ""
        if local_before != remote_sha:
            # The fast-forward is kept (it only caught up with the remote): say so, it is a change.
            was = f"fast-forwarded {_short(local_before)} -> " if local_before else "created at "
            moved = (
                f"; local {upstream_branch} was {was}{_short(remote_sha)} ({remote}/{upstream_branch}) and stays there"
            )
        _rebase(repo, upstream_branch, work_branch, original, original_sha, moved)
        rebased = True
    return UpstreamSync(
        remote=remote,
        upstream_branch=upstream_branch,
        work_branch=work_branch,
        upstream_before=local_before,
        upstream_after=remote_sha,
        work_before=work_before,
        work_after=head_commit(repo, work_branch),
        rebased=rebased,
    )


def _is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    return git(repo, "merge-base", "--is-ancestor", ancestor, descendant, check=False).ok


def _fast_forward(repo: Path, branch: str, before: str | None, target: str, remote: str, *, checked_out: bool) -> None:
    if before == target:
        return
    if before is not None and not _is_ancestor(repo, before, target):
        raise ArmjitError(
            f"local {branch} has commits that are not on {remote}/{branch}: cannot fast-forward it "
            "(merge or reset it by hand, or pass --no-sync-upstream)"
        )
    if checked_out:
        git(repo, "merge", "--ff-only", "--quiet", target)
        return
    elsewhere = parse_worktree_branches(git(repo, "worktree", "list", "--porcelain").stdout).get(branch)
    if elsewhere:
        raise ArmjitError(f"{branch} is checked out in the worktree {elsewhere}: cannot move it from here")
    if before is None:
        git(repo, "branch", "--quiet", "--track", branch, f"{remote}/{branch}")
    else:
        # The old value makes update-ref refuse if someone moved the branch meanwhile.
        git(
            repo,
            "update-ref",
            "-m",
            f"armjit: fast-forward to {remote}/{branch}",
            f"refs/heads/{branch}",
            target,
            before,
        )


def _rebase(repo: Path, upstream: str, work: str, original: str | None, original_sha: str, moved: str) -> None:
    result = git(repo, "rebase", "--quiet", upstream, work, check=False)
    if not result.ok:
        conflicts = git(repo, "diff", "--name-only", "--diff-filter=U", check=False).stdout.split()
        git(repo, "rebase", "--abort", check=False)
        _checkout(repo, original, original_sha)
        files = f" in {', '.join(conflicts[:3])}" if conflicts else ""
        raise ArmjitError(
            f"rebase of {work} onto {upstream} stopped on a conflict{files}: aborted, {work} is unchanged{moved}; "
            f"rebase by hand (git rebase {upstream} {work}) or pass --no-rebase"
        )
    _checkout(repo, original, original_sha)


def _checkout(repo: Path, branch: str | None, sha: str) -> None:
    target = branch if branch is not None else sha
    if current_branch(repo) != branch or branch is None:
        git(repo, "checkout", "--quiet", target)
