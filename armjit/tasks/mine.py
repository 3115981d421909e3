"""``invoke mine [RUN|PATH...]``: what the JIT compiled, refused and choked on (plan step 2)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from armjit import notes
from armjit.errors import UsageError
from armjit.mine import (
    candidate_table,
    collect,
    diff,
    diff_json,
    findings_block,
    render_diff,
    render_report,
    report_json,
)
from armjit.mine import (
    mine as mine_logs,
)
from armjit.store import RunStore, new_run_id
from armjit.tasks._common import friendly_errors, reports_root
from armjit.tasks._variadic import variadic_task

__all__ = ["TASKS", "mine"]

FINDINGS_BLOCK = "mine-findings"
CANDIDATES_BLOCK = "mine-candidates"
DIFF_BLOCK = "mine-diff"
DEFAULT_TOP = 10


@variadic_task(
    "refs",
    help={
        "refs": "run ids, run directories, JIT log files or log directories (default: the latest run)",
        "json": "print the data as JSON instead of tables (writes no notes)",
        "top": f"length of the top-N lists (default {DEFAULT_TOP}; with --json: all unless given)",
        "diff": "compare exactly two runs or log sets, function by function",
        "notes-dir": "where notes.md and task_plan.md are (default: reports/)",
        "notes": "write the findings block into notes.md and candidates into task_plan.md",
    },
)
@friendly_errors
def mine(
    c: Any,
    refs: list[str] | None = None,
    json_: bool = False,
    top: int = 0,
    diff_: bool = False,
    notes_dir: str = "",
    notes_: bool = True,
) -> None:
    """Mine JIT logs: compiles per mode, code sizes, failures, unsupported opcodes, crashes."""
    refs = list(refs or [])
    if top < 0:
        raise UsageError("--top must be a positive number")
    reports = reports_root(getattr(c, "config", None))
    store = RunStore(reports / "runs")
    target = Path(notes_dir) if notes_dir else reports
    if diff_:
        if len(refs) != 2:
            raise UsageError(f"--diff needs exactly two runs or log sets, got {len(refs)}")
        (label_a, inputs_a), (label_b, inputs_b) = collect([refs[0]], store), collect([refs[1]], store)
        a, b = mine_logs(label_a, inputs_a).overall, mine_logs(label_b, inputs_b).overall
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
    report = mine_logs(label, inputs)
    if json_:
        print(json.dumps(report_json(report, top or None), indent=2))
        return
    print(render_report(report, top or DEFAULT_TOP), end="")
    if notes_:
        note_path, plan_path = target / notes.NOTES, target / notes.TASK_PLAN
        # Both files are checked before either is written: no half-written notes.
        notes.ensure_writable([note_path, plan_path])
        notes.upsert_block(note_path, FINDINGS_BLOCK, findings_block(report, top or DEFAULT_TOP))
        notes.upsert_block(plan_path, CANDIDATES_BLOCK, candidate_table(report, top or DEFAULT_TOP))
        print(f"notes: {note_path}, {plan_path}")
        # Plan step 2 leaves a run record like every other step (invoke status reads it).
        stamp = dt.datetime.now(dt.UTC)
        record = store.create(new_run_id(stamp, "mine"))
        summary = report_json(report, top or DEFAULT_TOP)
        record.save_manifest(
            {
                "run_id": record.run_id,
                "kind": "mine",
                "status": "ok",
                "started": stamp.isoformat(timespec="seconds"),
                "source": label,
                "summary": {k: summary[k] for k in ("processes", "compiled", "failed", "unrecognised_lines")},
            }
        )


TASKS = [mine]
