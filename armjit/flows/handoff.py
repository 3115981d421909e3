"""Handoff: the plan first (changed files, evidence, progress summary), then commit and push."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from armjit.config import Settings
from armjit.errors import GateFailed, UsageError
from armjit.flows.iteration import (
    IterationState,
    iteration_state,
    load_manifests,
    mined_source,
)
from armjit.render import table
from armjit.seams import notes
from armjit.seams.store import RunDir, RunStore

__all__ = [
    "HandoffPlan",
    "check_commit",
    "commit_handoff",
    "evidence_rows",
    "plan_handoff",
    "push_handoff",
    "record_handoff",
]

# -- handoff -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandoffPlan:
    """What handoff would do, computed before anything is done (converge, then act)."""

    repo: Path
    branch: str
    upstream: str
    commit: str
    current_branch: str | None
    diff_stat: str
    changed_files: tuple[str, ...]
    jit_files: tuple[str, ...]
    touched: tuple[str, ...]  # changed tracked files in the working tree (repo-relative)
    notes_files: tuple[str, ...]  # notes files inside the repo (repo-relative)
    evidence: tuple[tuple[str, str, str], ...]  # (step, run, result)
    missing: tuple[str, ...]  # what push needs and the records do not show
    state: IterationState

    def summary_block(self, now: dt.datetime) -> str:
        """progress.md's handoff summary (a marked block, replaced on each handoff)."""
        lines = [
            f"## Handoff: {now:%Y-%m-%d}",
            f"- Branch `{self.branch}` @ `{self.commit[:10]}` against `{self.upstream}`: "
            f"{len(self.changed_files)} file(s) changed",
        ]
        if self.jit_files:
            lines.append("- JIT-related files: " + ", ".join(f"`{p}`" for p in self.jit_files))
        lines += ["", table(self.evidence, ["Step", "Run", "Result"], "github"), ""]
        lines.append(f"- Verify verdict: **{self.state.verdict or 'missing'}**")
        if self.missing:
            lines.append("- Missing evidence: " + ", ".join(self.missing))
        return "\n".join(lines) + "\n"


def evidence_rows(state: IterationState) -> list[tuple[str, str, str]]:
    rows = []
    for name in ("baseline", "red", "green", "verify"):
        step = state.step(name)
        result = step.detail if step.done else ("missing" + (f" ({step.detail})" if step.detail else ""))
        rows.append((name, step.run_id or "", result))
    return rows


def plan_handoff(settings: Settings, reports: Path) -> HandoffPlan:
    from armjit.seams import gitops

    if not settings.repo:
        raise UsageError("handoff needs --repo (the checkout to commit and push)")
    repo = gitops.check_repo(Path(settings.repo).expanduser(), settings.branch)
    upstream = f"{settings.upstream_remote}/{settings.upstream_branch}"
    if gitops.resolve(repo, upstream) is None:
        upstream = settings.upstream_branch
    report = gitops.repo_report(repo, settings.branch, upstream)
    notes_dir = settings.notes_path
    names = (notes.FINDINGS, notes.PROGRESS, notes.TASK_PLAN, notes.NOTES)
    inside = []
    for name in names:
        try:
            rel = (notes_dir / name).resolve().relative_to(repo.resolve())
        except ValueError:
            continue  # notes kept outside the checkout are not committed
        inside.append(rel.as_posix())
    touched = tuple(sorted({path for xy, path in gitops.dirty_paths(repo) if xy != "??"}))
    state = iteration_state(load_manifests(reports), mined_source(notes_dir, reports))
    missing = []
    if not state.step("green").done:
        missing.append("green evidence (run `invoke green -k NAME`)")
    if not state.verdict:
        missing.append("verify verdict (run `invoke verify`)")
    return HandoffPlan(
        repo=repo,
        branch=settings.branch,
        upstream=upstream,
        commit=report.commit,
        current_branch=report.head_branch,
        diff_stat=report.diff_stat,
        changed_files=report.changed_files,
        jit_files=report.jit_files,
        touched=touched,
        notes_files=tuple(inside),
        evidence=tuple(evidence_rows(state)),
        missing=tuple(missing),
        state=state,
    )


def check_commit(plan: HandoffPlan, message: str) -> None:
    """What --commit needs, checked before anything is written."""
    if not message.strip():
        raise UsageError("--commit needs a message: -m MSG")
    if plan.current_branch != plan.branch:
        raise UsageError(f"--commit: the checkout is on {plan.current_branch or 'a detached HEAD'}, not {plan.branch}")


def commit_handoff(plan: HandoffPlan, message: str, notes_dir: Path, now: dt.datetime) -> str | None:
    """Write the summary, then commit the touched files and the notes; None when nothing changed."""
    from armjit.seams import gitops

    check_commit(plan, message)
    notes.upsert_block(notes_dir / notes.PROGRESS, "handoff-summary", plan.summary_block(now))
    files = sorted({*plan.touched, *(p for p in plan.notes_files if (plan.repo / p).exists())})
    if not files:
        return None
    gitops.git(plan.repo, "add", "--", *files)
    staged = gitops.git(plan.repo, "diff", "--cached", "--name-only", "--", *files).stdout.split()
    if not staged:
        return None
    gitops.git(plan.repo, "commit", "-q", "-m", message, "--", *files)
    return gitops.head_commit(plan.repo, "HEAD")


def push_handoff(plan: HandoffPlan, remote: str) -> str:
    """Push the work branch to ``remote`` (a remote name, URL or path); one line on failure."""
    from armjit.seams import gitops

    if not remote.strip() or remote.startswith("-"):
        raise UsageError(f"--push {remote!r}: give a git remote name")
    result = gitops.git(plan.repo, "push", "--porcelain", remote, f"refs/heads/{plan.branch}", check=False)
    if not result.ok:
        lines = [ln for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        raise GateFailed(f"git push {remote} {plan.branch} failed: {lines[-1] if lines else result.exit_code}")
    return gitops.head_commit(plan.repo, plan.branch)


def record_handoff(
    reports: Path, plan: HandoffPlan, *, committed: str | None, pushed: str | None, forced: bool, now: dt.datetime
) -> RunDir:
    """The handoff's run record: what was committed and pushed, and on which evidence."""
    run, record = RunStore(reports / "runs").new_run("handoff", now, plan.commit[:8], "handoff")
    record.status = "ok"
    record.commits = {"branch": plan.branch, "commit": committed or plan.commit, "upstream": plan.upstream}
    record.details |= {
        "committed": committed,
        "pushed": pushed,
        "forced": forced,
        "missing": list(plan.missing),
        "changed_files": list(plan.changed_files),
        "jit_files": list(plan.jit_files),
        "evidence": [list(row) for row in plan.evidence],
        "iteration_verdict": plan.state.verdict,
    }
    run.save(record)
    return run
