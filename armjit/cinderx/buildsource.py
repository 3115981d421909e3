"""What one side of a comparison builds from the target repo: its working tree, a branch or a commit.

An explicit value rather than ``None`` standing for "the working tree": that meaning did not
survive the hop from ``verify`` to ``ab``, where ``None`` became "the work branch" and the
uncommitted change under test was never shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from armjit.errors import UsageError
from armjit.seams import gitops

__all__ = ["BuildSource", "Kind"]

Kind = Literal["worktree", "branch", "commit"]


@dataclass(frozen=True)
class BuildSource:
    """``kind`` says what is shipped; ``ref`` names the branch or commit (empty for the working
    tree, which is whatever is checked out in the repo, plus its uncommitted and untracked files)."""

    kind: Kind
    ref: str = ""

    def __post_init__(self) -> None:
        if (self.kind == "worktree") == bool(self.ref):
            raise ValueError(f"a {self.kind} source {'takes no' if self.ref else 'needs a'} ref")

    @classmethod
    def worktree(cls) -> BuildSource:
        return cls("worktree")

    @classmethod
    def branch(cls, name: str) -> BuildSource:
        return cls("branch", name)

    @classmethod
    def commit(cls, sha: str) -> BuildSource:
        return cls("commit", sha)

    @classmethod
    def of_ref(cls, repo: Path, ref: str) -> BuildSource:
        """A branch of ``repo`` when ``ref`` names one, else the commit it names."""
        if gitops.resolve(repo, f"refs/heads/{ref}") is not None:
            return cls.branch(ref)
        if gitops.resolve(repo, ref) is None:
            raise UsageError(f"{ref!r} is neither a branch nor a commit in {repo}")
        return cls.commit(ref)

    @property
    def is_worktree(self) -> bool:
        return self.kind == "worktree"

    def sync_ref(self) -> str | None:
        """The ``ref`` argument of ``sync.sync_tree`` (which ignores it for the working tree)."""
        return None if self.is_worktree else self.ref

    def label(self) -> str:
        if self.is_worktree:
            return "working tree"
        return self.ref[:10] if self.kind == "commit" else self.ref

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "ref": self.ref}
