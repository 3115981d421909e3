"""Local git operations on the target repository (what ``sync_upstream.ps1`` and the head of
``push_to_arm.ps1`` did), plus the identity of the source that a deploy ships.

Parsing is pure (``parse_*``, ``jit_files``, ``describe_lines``); everything else is a thin call
to ``git`` through :func:`armjit.seams.hosts.local_command`. Bad input (no repo, not a repo, no branch,
a dirty tree for the upstream sync) is a one-line :class:`UsageError`; a git step that fails on
good input (fetch without network, a rebase conflict) is a one-line :class:`ArmjitError`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from armjit.errors import ArmjitError, UsageError
from armjit.seams.hosts import CommandResult, local_command

__all__ = [
    "JIT_DIRS",
    "RepoReport",
    "SourceState",
    "changed_between",
    "changed_since",
    "check_repo",
    "code_tree",
    "current_branch",
    "describe",
    "describe_lines",
    "dirty_hash",
    "dirty_paths",
    "git",
    "git_bytes",
    "head_commit",
    "jit_files",
    "last_line",
    "notes_in",
    "numstat",
    "parse_porcelain",
    "parse_worktree_branches",
    "repo_report",
    "resolve",
    "source_state",
    "tree_diff",
    "worktree_files",
]

# Changed files under these directories are listed separately (push_to_arm.ps1 step 3).
JIT_DIRS = ("cinderx/Jit/", "cinderx/StaticPython/")
# Never let the engineer's git configuration open an editor or a pager in the middle of a run.
_QUIET_ENV = {"GIT_EDITOR": "true", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


# -- running git -------------------------------------------------------------------------------


def git(repo: Path, *args: str, env: Mapping[str, str] | None = None, check: bool = True) -> CommandResult:
    """``git -C repo args...``; with ``check`` a failure is one line naming the command."""
    result = local_command(["git", "-C", str(repo), *args], env={**_QUIET_ENV, **(env or {})})
    if check and not result.ok:
        raise ArmjitError(f"git {' '.join(args[:3])} failed in {repo}: {last_line(result.stderr or result.stdout)}")
    return result


def git_bytes(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> bytes:
    """Raw stdout of a git command (hashing needs the exact bytes, not decoded text)."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args],
            env={**os.environ, **_QUIET_ENV, **(env or {})},
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise UsageError("git is not installed on this machine") from None
    if proc.returncode != 0:
        message = last_line(proc.stderr.decode("utf-8", "replace"))
        raise ArmjitError(f"git {' '.join(args[:3])} failed in {repo}: {message}")
    return proc.stdout


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


# -- checks ------------------------------------------------------------------------------------


def check_repo(repo: Path, branch: str | None = None) -> Path:
    """The top of the checkout at ``repo``; one-line UsageError when it cannot be used."""
    if not repo.exists():
        raise UsageError(f"--repo {repo}: no such directory")
    if not repo.is_dir():
        raise UsageError(f"--repo {repo}: not a directory")
    inside = git(repo, "rev-parse", "--is-inside-work-tree", "--show-toplevel", check=False)
    answer = inside.stdout.split("\n")
    if not inside.ok or answer[0].strip() != "true" or len(answer) < 2:
        reason = last_line(inside.stderr) if "dubious ownership" in inside.stderr else "not a git checkout"
        raise UsageError(f"--repo {repo}: {reason}")
    top = Path(answer[1])
    # A subdirectory of some other checkout must not silently ship the whole parent repository.
    if top.resolve() != repo.resolve():
        raise UsageError(f"--repo {repo} is inside the git checkout {top}, not its top: pass --repo {top}")
    if branch is not None and resolve(repo, f"refs/heads/{branch}") is None:
        known = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads", check=False).stdout.split()
        hint = f" (branches: {', '.join(known[:8])}{', ...' if len(known) > 8 else ''})" if known else ""
        raise UsageError(f"--branch {branch}: no such branch in {repo}{hint}")
    return top


def resolve(repo: Path, ref: str) -> str | None:
    """The commit ``ref`` names, or None."""
    result = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    sha = result.stdout.strip()
    return sha if result.ok and sha else None


def head_commit(repo: Path, ref: str = "HEAD") -> str:
    """The commit of a branch (``ref`` without ``refs/heads/`` is tried as a branch first)."""
    sha = resolve(repo, f"refs/heads/{ref}") if not ref.startswith("refs/") and ref != "HEAD" else None
    sha = sha or resolve(repo, ref)
    if sha is None:
        raise UsageError(f"{ref}: no such branch or commit in {repo}")
    return sha


def current_branch(repo: Path) -> str | None:
    """The checked-out branch, None when HEAD is detached."""
    result = git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return (result.stdout.strip() or None) if result.ok else None


def parse_porcelain(text: str) -> list[tuple[str, str]]:
    """``git status --porcelain=v1 -z`` -> [(XY, path)]; a rename's source path is skipped."""
    entries: list[tuple[str, str]] = []
    fields = text.split("\0")
    i = 0
    while i < len(fields):
        item = fields[i]
        i += 1
        if len(item) < 4:
            continue
        code, path = item[:2], item[3:]
        entries.append((code, path))
        if code[0] in "RC":
            i += 1  # -z puts the original path of a rename/copy in the next field
    return entries


NOTES_FILES = frozenset({"findings.md", "progress.md", "task_plan.md", "notes.md"})


def notes_in(repo: Path, notes_dir: Path) -> list[str]:
    """armjit's notes files (and its state file) as repo-relative paths, when ``notes_dir`` is
    inside the checkout; notes kept elsewhere are no part of any commit."""
    try:
        rel = notes_dir.resolve().relative_to(repo.resolve())
    except ValueError:
        return []
    return sorted((rel / name).as_posix() for name in (*NOTES_FILES, ".armjit-state.json"))


def dirty_paths(repo: Path) -> list[tuple[str, str]]:
    """Uncommitted changes, untracked files included (what sync_upstream.ps1 refused)."""
    return parse_porcelain(git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all").stdout)


def parse_worktree_branches(text: str) -> dict[str, str]:
    """``git worktree list --porcelain`` -> {branch name: worktree path}."""
    found: dict[str, str] = {}
    path = ""
    for line in text.splitlines():
        if line.startswith("worktree "):
            path = line[len("worktree ") :]
        elif line.startswith("branch refs/heads/"):
            found[line[len("branch refs/heads/") :]] = path
    return found


# -- report data -------------------------------------------------------------------------------


def jit_files(paths: Iterable[str]) -> list[str]:
    """The paths under cinderx/Jit/ or cinderx/StaticPython/ (push_to_arm.ps1's second list)."""
    return [p for p in paths if p.startswith(JIT_DIRS)]


@dataclass(frozen=True)
class RepoReport:
    """Both heads and the delta between them (printed before a deploy, stored in run.json)."""

    branch: str
    commit: str
    subject: str
    upstream: str
    upstream_commit: str | None
    merge_base: str | None
    diff_stat: str
    changed_files: tuple[str, ...]
    jit_files: tuple[str, ...]
    head: str
    head_branch: str | None


def repo_report(repo: Path, branch: str, upstream: str) -> RepoReport:
    """Heads, ``git diff --stat upstream...branch`` and the changed files. A missing upstream
    (no remote, never fetched) is reported as such, not as an error."""
    commit = head_commit(repo, branch)
    subject = git(repo, "log", "-1", "--format=%s", commit).stdout.strip()
    upstream_commit = resolve(repo, upstream)
    base: str | None = None
    stat = ""
    changed: tuple[str, ...] = ()
    if upstream_commit is not None:
        mb = git(repo, "merge-base", upstream_commit, commit, check=False)
        base = (mb.stdout.strip() or None) if mb.ok else None
        if base is not None:
            stat = git(repo, "diff", "--stat", "--no-color", f"{upstream_commit}...{commit}").stdout.rstrip()
            names = git(repo, "diff", "--name-only", "-z", f"{upstream_commit}...{commit}").stdout
            changed = tuple(p for p in names.split("\0") if p)
    return RepoReport(
        branch=branch,
        commit=commit,
        subject=subject,
        upstream=upstream,
        upstream_commit=upstream_commit,
        merge_base=base,
        diff_stat=stat,
        changed_files=changed,
        jit_files=tuple(jit_files(changed)),
        head=head_commit(repo, "HEAD"),
        head_branch=current_branch(repo),
    )


def describe(repo: Path, branch: str, upstream: str) -> dict[str, Any]:
    """:func:`repo_report` as JSON-ready data (the run record's ``commits``)."""
    data = asdict(repo_report(repo, branch, upstream))
    data["changed_files"] = list(data["changed_files"])
    data["jit_files"] = list(data["jit_files"])
    return data


def describe_lines(data: Mapping[str, Any]) -> list[str]:
    """The lines push_to_arm.ps1 printed: both heads, the --stat delta, the JIT-related files."""
    lines = [f"WorkBranch {data['branch']} @ {data['commit']}"]
    if data.get("upstream_commit"):
        lines.append(f"Upstream {data['upstream']} @ {data['upstream_commit']}")
    else:
        lines.append(f"Upstream {data['upstream']}: not found locally (no diff shown)")
        return lines
    if data.get("merge_base") is None:
        lines.append(f"{data['branch']} and {data['upstream']} have no common history")
        return lines
    stat = str(data.get("diff_stat") or "")
    lines.extend(stat.splitlines() if stat else [f"no changes between {data['upstream']} and {data['branch']}"])
    jit = list(data.get("jit_files") or [])
    if jit:
        lines.append("Changed JIT-related files:")
        lines.extend(f"  {path}" for path in jit)
    return lines


# -- what a deploy ships -----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceState:
    """The identity of a shipped tree: a commit, plus a hash of uncommitted changes in
    working-tree mode (None when the tree is clean or only committed state was shipped)."""

    commit: str
    branch: str | None
    worktree: bool
    dirty_hash: str | None

    def label(self) -> str:
        where = f"{self.branch} @ {self.commit[:10]}" if self.branch else self.commit[:10]
        if not self.worktree:
            return where
        return f"working tree of {where}" + (f" + changes {self.dirty_hash[:12]}" if self.dirty_hash else " (clean)")


def source_state(repo: Path, ref: str | None, *, worktree: bool) -> SourceState:
    """What ``sync_tree`` ships: ``ref``'s commit, or HEAD plus the uncommitted changes."""
    if worktree:
        return SourceState(head_commit(repo, "HEAD"), current_branch(repo), True, dirty_hash(repo))
    if ref is None:
        return SourceState(head_commit(repo, "HEAD"), current_branch(repo), False, None)
    branch = ref if resolve(repo, f"refs/heads/{ref}") is not None else None
    return SourceState(head_commit(repo, ref), branch, False, None)


def worktree_files(repo: Path) -> list[str]:
    """Tracked and untracked-unignored files, as git sees them (paths with ``/``)."""
    out = git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout
    return sorted({p for p in out.split("\0") if p})


def dirty_hash(repo: Path) -> str | None:
    """sha256 over ``git diff HEAD --binary`` and every untracked-unignored file (name and
    bytes); None when there is nothing uncommitted."""
    diff = git_bytes(repo, "diff", "HEAD", "--binary", "--no-color", "--no-ext-diff", "--no-textconv")
    untracked = sorted(p for p in git_bytes(repo, "ls-files", "-z", "--others", "--exclude-standard").split(b"\0") if p)
    if not diff and not untracked:
        return None
    digest = hashlib.sha256(diff)
    for name in untracked:
        path = repo / os.fsdecode(name)
        digest.update(b"\0untracked\0" + name + b"\0")
        if path.is_symlink():
            digest.update(b"link:" + os.fsencode(path.readlink()))
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def changed_between(repo: Path, a: str, b: str) -> list[str]:
    """The files that differ between commits ``a`` and ``b``."""
    out = git(repo, "diff", "--name-only", "-z", "--no-renames", a, b).stdout
    return sorted({p for p in out.split("\0") if p})


def changed_since(repo: Path, commit: str) -> list[str]:
    """The files of the working tree (untracked-unignored included) that differ from ``commit``."""
    out = git(repo, "diff", "--name-only", "-z", "--no-renames", commit).stdout
    untracked = git(repo, "ls-files", "-z", "--others", "--exclude-standard").stdout
    return sorted({p for p in (*out.split("\0"), *untracked.split("\0")) if p})


# -- what a piece of evidence covers -------------------------------------------------------------


def code_tree(repo: Path, ref: str | None, *, exclude: Iterable[str] = (), paths: Sequence[str] | None = None) -> str:
    """The git tree id of the code, without the ``exclude`` paths (armjit's notes): ``ref``'s
    tree, or with ``ref`` None the working tree: every file git tracks (staged new ones too) as
    it is on disk, or, given ``paths``, HEAD with only those paths taken from the working tree
    (what a commit of them would hold). Untracked files are left out: a checkout that is built in
    place has untracked build trees, and they are never part of a commit. Built in a throwaway
    index: the repo's own index is never touched."""
    with tempfile.TemporaryDirectory(prefix="armjit-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if ref is None and paths is None:
            # The repo's index as the start keeps its stat cache: only changed files are hashed.
            own = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-path", "index").stdout.strip())
            if own.is_file():
                shutil.copyfile(own, env["GIT_INDEX_FILE"])
            else:
                git(repo, "read-tree", "HEAD", env=env)
            git(repo, "add", "--update", "--", ".", env=env)
        else:
            git(repo, "read-tree", ref or "HEAD", env=env)
        if ref is None and paths:
            git(repo, "add", "--all", "--", *paths, env=env)
        dropped = list(exclude)
        if dropped:
            git(repo, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", *dropped, env=env)
        return git(repo, "write-tree", env=env).stdout.strip()


def tree_diff(repo: Path, old: str, new: str) -> list[str] | None:
    """The paths that differ between two trees; None when one of them is not in the repo."""
    result = git(repo, "diff", "--name-only", "-z", "--no-renames", old, new, check=False)
    return [p for p in result.stdout.split("\0") if p] if result.ok else None


def numstat(repo: Path, old: str, new: str) -> list[tuple[str, str, str]]:
    """(added, deleted, path) per changed file between two trees or commits; ``-`` for binary."""
    out = git(repo, "diff", "--numstat", "-z", "--no-renames", old, new).stdout
    rows = []
    for item in out.split("\0"):
        parts = item.split("\t", 2)
        if len(parts) == 3:
            rows.append((parts[0], parts[1], parts[2]))
    return rows
