"""Handoff: the plan first (changed files, evidence, progress summary), then commit and push."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    "check_force",
    "commit_handoff",
    "evidence_problems",
    "evidence_rows",
    "plan_handoff",
    "push_handoff",
    "record_handoff",
    "refusal",
    "regressions",
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
    notes_in_repo: tuple[str, ...] = ()  # every path armjit's notes may take in the checkout
    notes_changed: tuple[str, ...] = ()  # the notes files with uncommitted changes (or untracked)
    commit_files: tuple[str, ...] = ()  # what --commit commits (the notes only with --with-notes)
    commit_numstat: tuple[tuple[str, str, str], ...] = ()  # (added, deleted, path) of that commit
    problems: tuple[str, ...] = ()  # why the evidence does not cover what would be pushed
    with_notes: bool = False

    def summary_block(self, now: dt.datetime, forced: str = "") -> str:
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
        if self.problems:
            lines.append("- Evidence that does not cover the pushed code: " + "; ".join(self.problems))
        if forced:
            lines.append(f"- Forced past the evidence checks (--force): {forced}")
        return "\n".join(lines) + "\n"


def evidence_rows(state: IterationState) -> list[tuple[str, str, str]]:
    rows = []
    for name in ("baseline", "red", "green", "verify"):
        step = state.step(name)
        result = step.detail if step.done else ("missing" + (f" ({step.detail})" if step.detail else ""))
        rows.append((name, step.run_id or "", result))
    return rows


def plan_handoff(settings: Settings, reports: Path, *, commit: bool = False, with_notes: bool = False) -> HandoffPlan:
    """What handoff would commit and push, and whether the evidence covers it. Writes nothing
    (the throwaway trees it builds to compare code live in git's object store, never a ref)."""
    from armjit.seams import gitops

    if not settings.repo:
        raise UsageError("handoff needs --repo (the checkout to commit and push)")
    repo = gitops.check_repo(Path(settings.repo).expanduser(), settings.branch)
    upstream = f"{settings.upstream_remote}/{settings.upstream_branch}"
    if gitops.resolve(repo, upstream) is None:
        upstream = settings.upstream_branch
    report = gitops.repo_report(repo, settings.branch, upstream)
    notes_dir = settings.notes_path
    in_repo = tuple(gitops.notes_in(repo, notes_dir))
    notes_files = tuple(p for p in in_repo if Path(p).name != notes.STATE)
    dirty = gitops.dirty_paths(repo)
    touched = tuple(sorted({path for xy, path in dirty if xy != "??"}))
    notes_changed = tuple(sorted({path for _, path in dirty if path in notes_files}))
    code = [p for p in touched if p not in in_repo]
    if with_notes:
        code += [p for p in notes_changed if p not in code]
    commit_files = tuple(sorted(code))
    manifests = load_manifests(reports)
    state = iteration_state(manifests, mined_source(notes_dir, reports))
    missing = []
    if not state.step("green").done:
        missing.append("green evidence (run `invoke green -k NAME`)")
    if not state.verdict:
        missing.append("verify verdict (run `invoke verify`)")
    numstat: list[tuple[str, str, str]] = []
    if commit and commit_files:
        after = gitops.code_tree(repo, None, paths=commit_files)
        numstat = gitops.numstat(repo, "HEAD^{tree}", after)
    # The code the push carries: the branch head, or HEAD plus what --commit adds.
    if commit and report.head_branch == settings.branch:
        pushed = gitops.code_tree(repo, None, paths=commit_files, exclude=in_repo)
        pushed_label = f"{report.head[:8]}" + (" + the files to commit" if commit_files else "")
    else:
        pushed = gitops.code_tree(repo, report.commit, exclude=in_repo)
        pushed_label = report.commit[:8]
    by_id = {str(m.get("run_id")): m for m in manifests}
    problems = evidence_problems(repo, state, by_id, pushed, pushed_label, in_repo)
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
        notes_files=notes_files,
        evidence=tuple(evidence_rows(state)),
        missing=tuple(missing),
        state=state,
        notes_in_repo=in_repo,
        notes_changed=notes_changed,
        commit_files=commit_files,
        commit_numstat=tuple(numstat),
        problems=tuple(problems),
        with_notes=with_notes,
    )


# -- does the evidence cover the pushed code? ---------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """What a green or verify record measured: a code tree, or the clean commit whose tree it is."""

    tree: str | None
    commit: str | None
    label: str  # as the refusal names it: a short commit, maybe "+ uncommitted changes"
    unknown: str = ""  # why the record cannot say (then tree and commit are None)


def _measured(step: str, m: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> Measured:
    if step == "verify":
        target = by_id.get(str(m.get("to_run"))) or {}
        marker = ((target.get("deployed") or {}).get("b")) or ((target.get("commits") or {}).get("deployed")) or {}
        if not marker:
            return Measured(None, None, "", f"its measured run {m.get('to_run')} names no deployed commit")
        commit = str(marker.get("commit") or "")
        if marker.get("dirty_hash"):
            return Measured(None, None, "", f"it measured uncommitted changes on {commit[:8]}")
        return Measured(None, commit, commit[:8])
    commits = m.get("commits") or {}
    commit = str(commits.get("commit") or "")
    if commits.get("code_tree"):
        changes = " + uncommitted changes" if commits.get("dirty_hash") else ""
        return Measured(str(commits["code_tree"]), commit, f"{commit[:8]}{changes}")
    marker = m.get("deploy_marker") or {}
    commit = str(marker.get("commit") or commit)
    if marker.get("dirty_hash") or (not marker and commits.get("dirty_hash")):
        return Measured(None, None, "", f"it ran on uncommitted changes on {commit[:8]}")
    if not commit:
        return Measured(None, None, "", "it names no commit")
    return Measured(None, commit, commit[:8])


def evidence_problems(
    repo: Path,
    state: IterationState,
    by_id: dict[str, dict[str, Any]],
    pushed: str,
    pushed_label: str,
    notes_paths: tuple[str, ...],
) -> list[str]:
    """Each piece of evidence that does not cover the code the push carries, as a clause saying
    what is stale and what to run; and what verify itself shows against the change."""
    from armjit.seams import gitops

    problems = []
    for step, rerun in (("green", "invoke green -k {k}"), ("verify", "invoke verify")):
        done = state.step(step)
        m = by_id.get(str(done.run_id)) if done.done else None
        if m is None:
            continue
        found = _measured(step, m, by_id)
        tree, why = found.tree, found.unknown
        if tree is None and found.commit:  # a clean commit: its tree is the code measured
            if gitops.resolve(repo, f"{found.commit}^{{commit}}") is not None:
                tree = gitops.code_tree(repo, found.commit, exclude=notes_paths)
            else:
                why = f"its commit {found.label} is not in the repo"
        keyword = ((m.get("targeted") or {}).get("keyword")) or "NAME"
        run = f"run `{rerun.format(k=keyword)}`"
        if tree is None:
            problems.append(f"{step} {done.run_id} cannot be matched to the code ({why}): {run}")
            continue
        if tree == pushed:
            continue
        differ = gitops.tree_diff(repo, tree, pushed) or []
        shown = ", ".join(differ[:5]) + (f" and {len(differ) - 5} more" if len(differ) > 5 else "")
        problems.append(
            f"{step} is stale: recorded at {found.label} (run {done.run_id}), the push carries {pushed_label}"
            + (f"; differs: {shown}" if shown else "")
            + f": {run}"
        )
    verify = by_id.get(str(state.step("verify").run_id)) if state.step("verify").done else None
    if verify is not None:
        problems += regressions(verify)
    return problems


def regressions(verify: dict[str, Any]) -> list[str]:
    """What a verify record shows against the change: every comparison judged a regression
    (whichever verdict the report carries it under) and new failed compiles per mode. Pure."""
    found: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            here = "/".join(str(node[k]) for k in ("benchmark", "mode") if node.get(k)) or where
            for key, value in node.items():
                if key.endswith("verdict") and value == "regression" and here not in found:
                    found.append(here)
                walk(value, here)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(verify.get("report") or {}, "overall")
    clauses = []
    if found:
        clauses.append(f"verify {verify.get('run_id')} shows a regression ({', '.join(found)})")
    for mode, diff in sorted((verify.get("size_guard") or {}).items()):
        failed = (diff or {}).get("failed") or {}
        new = int(failed.get("to") or 0) - int(failed.get("from") or 0)
        if new > 0:
            clauses.append(f"verify {verify.get('run_id')} shows {new} new failed compile(s) in {mode}")
    return clauses


def refusal(plan: HandoffPlan) -> str | None:
    """The one line a push on this plan is refused with, None when the evidence covers it."""
    reasons = [*(f"missing {m}" for m in plan.missing), *plan.problems]
    if not reasons:
        return None
    return "refusing to push: " + "; ".join(reasons) + ' (or --force "why")'


def check_force(force: str | bool) -> str:
    """--force must name why: the reason is recorded in progress.md and the handoff record."""
    if force is True or (isinstance(force, str) and force and not force.strip()):
        raise UsageError('--force needs the reason it is safe to push anyway: --force "why"')
    return force.strip() if isinstance(force, str) else ""


def check_commit(plan: HandoffPlan, message: str) -> None:
    """What --commit needs, checked before anything is written."""
    if not message.strip():
        raise UsageError("--commit needs a message: -m MSG")
    if plan.current_branch != plan.branch:
        raise UsageError(f"--commit: the checkout is on {plan.current_branch or 'a detached HEAD'}, not {plan.branch}")


def commit_handoff(plan: HandoffPlan, message: str, notes_dir: Path, now: dt.datetime, forced: str = "") -> str | None:
    """Write the summary, then commit the plan's files (armjit's notes only with --with-notes);
    None when nothing changed."""
    from armjit.seams import gitops

    check_commit(plan, message)
    notes.upsert_block(notes_dir / notes.PROGRESS, "handoff-summary", plan.summary_block(now, forced))
    files = list(plan.commit_files)
    if plan.with_notes:  # the summary just written is part of the notes asked for
        files = sorted({*files, *(p for p in plan.notes_files if (plan.repo / p).exists())})
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
    reports: Path, plan: HandoffPlan, *, committed: str | None, pushed: str | None, forced: str, now: dt.datetime
) -> RunDir:
    """The handoff's run record: what was committed and pushed, and on which evidence."""
    run, record = RunStore(reports / "runs").new_run("handoff", now, plan.commit[:8], "handoff")
    record.status = "ok"
    record.commits = {"branch": plan.branch, "commit": committed or plan.commit, "upstream": plan.upstream}
    record.details |= {
        "committed": committed,
        "pushed": pushed,
        "forced": forced or None,  # the reason given with --force
        "missing": list(plan.missing),
        "stale": list(plan.problems),
        "with_notes": plan.with_notes,
        "changed_files": list(plan.changed_files),
        "jit_files": list(plan.jit_files),
        "evidence": [list(row) for row in plan.evidence],
        "iteration_verdict": plan.state.verdict,
    }
    run.save(record)
    return run
