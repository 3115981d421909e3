"""task_plan.md's tables are rendered from the state beside the notes; markdown is never read back,
except once from notes written before the state file existed."""

from __future__ import annotations

import json
from pathlib import Path

from markdown_it import MarkdownIt

from armjit.flows import task_plan
from armjit.render import table
from armjit.render.tables import markdown_header, markdown_row
from armjit.seams import notes

BOM = b"\xef\xbb\xbf"
GBK_LINE = "- 远端：/root/work/arm-sync/richards_autojit50.json".encode("gbk")
# task_plan.md as the code before the state file left it: a hand-written top (BOM, GBK, CRLF)
# and armjit's blocks with the hand-built tables of that code, one pipe escaped.
OLD_TASK_PLAN = (
    BOM
    + b"# Task plan\r\n"
    + GBK_LINE
    + b"\r\n"
    + b"<!-- armjit:begin decisions -->\r\n## Decisions Made\r\n\r\n| Decision | Rationale |\r\n|---|---|\r\n"
    + b"| Use stubs | saves 12 bytes \\| call |\r\n<!-- armjit:end decisions -->\r\n"
    + b"<!-- armjit:begin errors -->\r\n## Errors Encountered\r\n\r\n| Error | Attempt | Resolution |\r\n"
    + b"|---|---|---|\r\n| green: the test failed (x) | 2 | open |\r\n"
    + b"| baseline: jit-gate | 1 | baseline r1 passed |\r\n"
    + b"<!-- armjit:end errors -->\r\n"
    + b"hand-written tail \xff\r\n"
)


def _cells(markdown: str) -> list[list[str]]:
    """Rows of the first table as a CommonMark parser with GFM tables reads them."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    rows: list[list[str]] = []
    for token in tokens:
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline" and rows:
            rows[-1].append(token.content)
    return rows


def test_a_cell_with_a_pipe_and_a_newline_stays_one_row_of_the_right_width() -> None:
    signature = "SIGSEGV in jit::Compile | frame 0\nframe 1 | jit::emit"
    rendered = table([("richards", signature, 3)], ["bench", "crash signature", "count"], "github")
    assert len(rendered.splitlines()) == 3  # header, rule, one row
    rows = _cells(rendered)
    assert rows[0] == ["bench", "crash signature", "count"]
    assert len(rows) == 2 and len(rows[1]) == 3 and rows[1][0] == "richards" and rows[1][2] == "3"
    # the parser gives the pipes back as text; the line break is an inline <br>
    assert rows[1][1] == "SIGSEGV in jit::Compile | frame 0<br>frame 1 | jit::emit"
    # a table grown a row at a time escapes the same way
    grown = "\n".join(
        [*markdown_header(["bench", "crash signature", "count"]), markdown_row(["richards", signature, 3])]
    )
    assert _cells(grown) == rows
    # the console table is not escaped
    assert "jit::Compile | frame 0" in table([("richards", signature, 3)], ["a", "b", "c"])


def test_old_task_plan_is_imported_once_then_rendered_from_the_state(tmp_path: Path) -> None:
    path = tmp_path / "task_plan.md"
    path.write_bytes(OLD_TASK_PLAN)
    imported = task_plan.load(tmp_path)
    assert imported.decisions == (task_plan.Decision("Use stubs", "saves 12 bytes | call"),)
    assert [(e.step, e.attempt, e.is_open) for e in imported.errors] == [("green", 2, True), ("baseline", 1, False)]
    assert not (tmp_path / notes.STATE).exists()  # reading never writes

    assert task_plan.record_error(tmp_path, "green", "the test failed (y) | again") == 3
    state = json.loads((tmp_path / notes.STATE).read_text(encoding="utf-8"))
    assert state["schema_version"] == 1 and state["errors"][0]["attempt"] == 3
    assert state["decisions"] == [{"text": "Use stubs", "why": "saves 12 bytes | call"}]

    # From now on the state is the truth: a hand edit inside armjit's block is not read back.
    text = path.read_bytes().replace(b"(y) \\| again", b"EDITED")
    path.write_bytes(text)
    assert task_plan.load(tmp_path).errors[0].message == "the test failed (y) | again"
    assert task_plan.resolve_errors(tmp_path, "green", "GREEN met in run r2") == 1
    task_plan.add_decision(tmp_path, "Keep the gate", "it caught a dead mode")

    data = path.read_bytes()
    # Every byte outside armjit's blocks is as it was (BOM, GBK line, CRLF, the invalid tail byte).
    assert data.startswith(OLD_TASK_PLAN[: OLD_TASK_PLAN.index(b"<!-- armjit:begin")])
    assert data.endswith(b"<!-- armjit:end errors -->\r\nhand-written tail \xff\r\n")
    errors = _cells(notes.read_block(path, "errors") or "")
    assert errors[1:] == [
        ["green: the test failed (y) | again", "3", "GREEN met in run r2"],
        ["baseline: jit-gate", "1", "baseline r1 passed"],
    ]
    assert _cells(notes.read_block(path, "decisions") or "")[-1] == ["Keep the gate", "it caught a dead mode"]


def test_a_new_error_streak_starts_after_the_old_one_closed(tmp_path: Path) -> None:
    assert task_plan.record_error(tmp_path, "baseline", "build failed") == 1
    assert task_plan.resolve_errors(tmp_path, "baseline", "fixed") == 1
    assert task_plan.resolve_errors(tmp_path, "baseline", "again") == 0
    assert task_plan.record_error(tmp_path, "baseline", "gate failed\nsecond line") == 1
    rows = _cells(notes.read_block(tmp_path / "task_plan.md", "errors") or "")
    assert rows[1:] == [["baseline: build failed", "1", "fixed"], ["baseline: gate failed<br>second line", "1", "open"]]
