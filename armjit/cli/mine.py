"""``invoke mine [--source RUN|PATH ...]``: what the JIT compiled, refused and choked on (plan step 2)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from invoke import Context

from armjit.analysis.mine import collect, diff, diff_json, report_json
from armjit.analysis.mine import (
    mine as mine_logs,
)
from armjit.cli._task import OUTPUT, armjit_task
from armjit.config import Settings
from armjit.errors import UsageError
from armjit.jitlog import FormatTable
from armjit.render.mine_tables import candidate_table, mining_notes_block, render_diff, render_report
from armjit.seams import notes
from armjit.seams.jit_source import JIT_DIRS, has_jit_sources, tree_formats
from armjit.seams.store import RunStore

__all__ = ["TASKS", "mine"]

FINDINGS_BLOCK = "mine-findings"
CANDIDATES_BLOCK = "mine-candidates"
DIFF_BLOCK = "mine-diff"
DEFAULT_TOP = 10


@armjit_task(
    settings=("repo", *OUTPUT),
    iterable=["source"],
    help={
        "source": "RUN|PATH: a run id, run directory, JIT log file or log directory; repeat for several "
        "(default: the latest run)",
        "json": "print the data as JSON instead of tables (writes no notes)",
        "top": f"length of the top-N lists (default {DEFAULT_TOP}; with --json: all unless given)",
        "diff": "compare exactly two --source runs or log sets, function by function",
        "notes": "write the findings block into notes.md and candidates into task_plan.md",
    },
)
def mine(
    c: Context,
    settings: Settings,
    setting_sources: dict[str, str],
    source: list[str] | None = None,
    json_: bool = False,
    top: int = 0,
    diff_: bool = False,
    notes_: bool = True,
) -> None:
    """Mine JIT logs: compiles per mode, code sizes, failures, unsupported opcodes, crashes."""
    refs = list(source or [])
    if top < 0:
        raise UsageError("--top must be a positive number")
    store = RunStore(settings.reports_path / "runs")
    target = settings.notes_path
    formats = _formats(settings)
    if diff_:
        if len(refs) != 2:
            raise UsageError(f"--diff needs exactly two --source runs or log sets, got {len(refs)}")
        (label_a, inputs_a), (label_b, inputs_b) = collect([refs[0]], store), collect([refs[1]], store)
        a = mine_logs(label_a, inputs_a, formats=formats).overall
        b = mine_logs(label_b, inputs_b, formats=formats).overall
        result = diff(a, b)
        if json_:
            print(json.dumps(diff_json(result), indent=2))
            return
        print(render_diff(result, top or DEFAULT_TOP), end="")
        if notes_:
            path = target / notes.NOTES
            notes.ensure_writable([path])
            body = f"## Compiled code: {label_a} -> {label_b}\n\n" + render_diff(result, top or DEFAULT_TOP, "github")
            notes.upsert_block(path, DIFF_BLOCK, body)
            print(f"notes: {path}")
        return
    label, inputs = collect(refs, store)
    report = mine_logs(label, inputs, formats=formats)
    if json_:
        print(json.dumps(report_json(report, top or None), indent=2))
        return
    print(render_report(report, top or DEFAULT_TOP), end="")
    if notes_:
        note_path, plan_path = target / notes.NOTES, target / notes.TASK_PLAN
        # Both files are checked before either is written: no half-written notes.
        notes.ensure_writable([note_path, plan_path])
        notes.upsert_block(note_path, FINDINGS_BLOCK, mining_notes_block(report, top or DEFAULT_TOP))
        notes.upsert_block(plan_path, CANDIDATES_BLOCK, candidate_table(report, top or DEFAULT_TOP))
        print(f"notes: {note_path}, {plan_path}")
        # Plan step 2 leaves a run record like every other step (invoke status reads it).
        run, record = store.new_run("mine", dt.datetime.now(dt.UTC), "mine")
        summary = report_json(report, top or DEFAULT_TOP)
        record.status = "ok"
        record.details["source"] = label
        record.details["summary"] = {k: summary[k] for k in ("processes", "compiled", "failed", "unrecognised_lines")}
        run.save(record)


def _formats(settings: Settings) -> FormatTable | None:
    """The JIT's format strings of the tree being built (``--repo`` with cinderx/Jit), read now;
    else None: the table shipped for the released versions."""
    if not settings.repo:
        return None
    root = Path(settings.repo).expanduser()
    if not has_jit_sources(root):
        return None
    return tree_formats(root, f"the tree at --repo ({JIT_DIRS[0]})")


TASKS = [mine]
