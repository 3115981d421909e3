"""armjit.seams.notes on real files: marked blocks only, every other byte unchanged."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from armjit.errors import UsageError
from armjit.seams import notes

BOM = b"\xef\xbb\xbf"
# A findings.md as the team keeps it: BOM, UTF-8 headings, a GBK task log, CRLF and LF mixed.
GBK_HEADING = "## 2026-02-28 ARM P0：autojit 低阈值崩溃矩阵（richards）".encode("gbk")
GBK_LINE = "- 远端：/root/work/arm-sync/richards_autojit50.json".encode("gbk")
HAND_WRITTEN = (
    BOM
    + b"# Findings & Decisions\r\n"
    + "## Research Findings — 研究\r\n".encode()
    + b"\r\n"
    + GBK_HEADING
    + b"\r\n"
    + GBK_LINE
    + b"\n"
    + b"| Decision | Rationale |\r\n|---|---|\r\n| keep | it |"
)


def _blocks_removed(data: bytes, block_id: str) -> bytes:
    """The file's bytes with block ``block_id`` (markers included) cut out."""
    begin = notes.begin_marker(block_id).encode()
    end = notes.end_marker(block_id).encode()
    start = data.index(begin)
    stop = data.index(end) + len(end)
    return data[:start] + data[stop:]


def test_new_file_is_created_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "findings.md"
    notes.upsert_block(path, "baseline:run-1", "### Iteration: x\n- Date: 2026-02-16\n")
    assert path.read_bytes() == (
        b"<!-- armjit:begin baseline:run-1 -->\n### Iteration: x\n- Date: 2026-02-16\n"
        b"<!-- armjit:end baseline:run-1 -->\n"
    )
    assert notes.read_block(path, "baseline:run-1") == "### Iteration: x\n- Date: 2026-02-16\n"
    assert notes.read_block(path, "other") is None
    assert notes.read_block(tmp_path / "missing.md", "baseline:run-1") is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_bom_gbk_crlf_file_keeps_every_byte_outside_the_block(tmp_path: Path) -> None:
    path = tmp_path / "findings.md"
    path.write_bytes(HAND_WRITTEN)

    notes.upsert_block(path, "verify", "From -> To: `0.1785 s` -> `0.1692 s` (`-5.21%`)\n")
    first = path.read_bytes()
    # Appended after one line ending (the file did not end with one), in the file's dominant style.
    assert first.startswith(HAND_WRITTEN + b"\r\n<!-- armjit:begin verify -->\r\n")
    assert first.endswith(b"<!-- armjit:end verify -->\r\n")

    # The engineer writes after the block; armjit then replaces the block with a longer, non-ASCII body.
    tail = b"\r\n" + GBK_LINE + b"\r\nmore prose, no final newline"
    path.write_bytes(first + tail)
    before = path.read_bytes()
    notes.upsert_block(path, "verify", "结论: real improvement\n| mode | value |\n|---|---|\n| autojit | 0.16 |\n")
    after = path.read_bytes()

    assert after != before
    assert _blocks_removed(after, "verify") == _blocks_removed(before, "verify")
    assert after.startswith(HAND_WRITTEN + b"\r\n")
    assert after.endswith(tail)
    assert GBK_HEADING in after and after.count(BOM) == 1
    assert (
        notes.read_block(path, "verify") == "结论: real improvement\n| mode | value |\n|---|---|\n| autojit | 0.16 |\n"
    )

    # A shorter body, then an empty one: still only the block changes.
    notes.upsert_block(path, "verify", "")
    emptied = path.read_bytes()
    assert _blocks_removed(emptied, "verify") == _blocks_removed(before, "verify")
    assert notes.read_block(path, "verify") == ""


def test_same_body_twice_is_byte_identical_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "progress.md"
    path.write_bytes(HAND_WRITTEN + b"\n")
    notes.upsert_block(path, "session", "## Session: 2026-02-25\n")
    once = path.read_bytes()
    notes.upsert_block(path, "session", "## Session: 2026-02-25\n")
    assert path.read_bytes() == once
    # The file is mostly CRLF, so the block is too.
    block = b"<!-- armjit:begin session -->\r\n## Session: 2026-02-25\r\n<!-- armjit:end session -->\r\n"
    assert once == HAND_WRITTEN + b"\n" + block
    assert sorted(p.name for p in tmp_path.iterdir()) == ["progress.md"]


def test_lf_file_gets_lf_block_and_one_separator(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes(b"# Notes\n## Findings\n- a")
    notes.upsert_block(path, "mine", "x\r\ny")
    assert (
        path.read_bytes() == b"# Notes\n## Findings\n- a\n<!-- armjit:begin mine -->\nx\ny\n<!-- armjit:end mine -->\n"
    )


def test_replacing_one_block_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "task_plan.md"
    path.write_bytes(BOM + b"# Task Plan\r\n")
    notes.upsert_block(path, "a", "one\n")
    notes.upsert_block(path, "b", "two\n")
    path.write_bytes(path.read_bytes() + b"hand\r\n")
    notes.upsert_block(path, "a", "ONE\nmore\n")
    assert path.read_bytes() == (
        BOM
        + b"# Task Plan\r\n"
        + b"<!-- armjit:begin a -->\r\nONE\r\nmore\r\n<!-- armjit:end a -->\r\n"
        + b"<!-- armjit:begin b -->\r\ntwo\r\n<!-- armjit:end b -->\r\n"
        + b"hand\r\n"
    )
    assert notes.read_block(path, "b") == "two\n"


def test_block_at_the_very_start_after_a_bom_keeps_the_bom(tmp_path: Path) -> None:
    path = tmp_path / "findings.md"
    path.write_bytes(BOM + b"<!-- armjit:begin x -->\nold\n<!-- armjit:end x -->\n" + GBK_LINE)
    notes.upsert_block(path, "x", "new")
    assert path.read_bytes() == BOM + b"<!-- armjit:begin x -->\nnew\n<!-- armjit:end x -->\n" + GBK_LINE


def test_append_row_writes_the_header_once(tmp_path: Path) -> None:
    path = tmp_path / "progress.md"
    path.write_bytes(BOM + GBK_HEADING + b"\r\n")
    header = ["## Test Results", "| Test | Input | Expected | Actual | Status |", "|---|---|---|---|---|"]
    notes.append_row(path, "tests", header, "| red test_x | -k x | fail | fail | ok |")
    notes.append_row(path, "tests", header, "| green test_x | -k x | pass | pass | ok |")
    assert notes.read_block(path, "tests") == "\n".join(
        [*header, "| red test_x | -k x | fail | fail | ok |", "| green test_x | -k x | pass | pass | ok |", ""]
    )
    assert path.read_bytes().startswith(BOM + GBK_HEADING + b"\r\n<!-- armjit:begin tests -->\r\n## Test Results\r\n")
    with pytest.raises(UsageError, match="one line"):
        notes.append_row(path, "tests", header, "two\nlines")


def test_file_mode_and_symlink_are_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.md"
    real.write_bytes(b"# x\n")
    real.chmod(0o664)
    link = tmp_path / "findings.md"
    link.symlink_to(real)
    notes.upsert_block(link, "b", "body")
    assert link.is_symlink()
    assert real.read_bytes() == b"# x\n<!-- armjit:begin b -->\nbody\n<!-- armjit:end b -->\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o664


@pytest.mark.parametrize("kind", ["directory", "parent-is-file"])
def test_unreadable_notes_file_is_one_line_usage_error_and_nothing_is_written(tmp_path: Path, kind: str) -> None:
    if kind == "directory":
        path = tmp_path / "findings.md"
        path.mkdir()
        (path / "keep").write_bytes(b"k")
    else:
        parent = tmp_path / "repo"
        parent.write_bytes(b"not a directory")
        path = parent / "findings.md"
    snapshot = {p: (p.read_bytes() if p.is_file() else None) for p in tmp_path.rglob("*")}

    for call in (
        lambda: notes.upsert_block(path, "b", "x"),
        lambda: notes.read_block(path, "b"),
        lambda: notes.append_row(path, "b", ["h"], "r"),
        lambda: notes.ensure_writable([tmp_path / "ok.md", path]),
    ):
        with pytest.raises(UsageError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message and str(path) in message
    assert {p: (p.read_bytes() if p.is_file() else None) for p in tmp_path.rglob("*")} == snapshot


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes files regardless of their mode")
def test_permission_denied_is_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "findings.md"
    path.write_bytes(b"x")
    path.chmod(0)
    with pytest.raises(UsageError, match="cannot read"):
        notes.upsert_block(path, "b", "x")


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"<!-- armjit:begin b -->\nx\n", "without its end"),
        (b"x\n<!-- armjit:end b -->\n", "without its begin"),
        (b"<!-- armjit:begin b -->\n<!-- armjit:end b -->\n<!-- armjit:begin b -->\n<!-- armjit:end b -->\n", "twice"),
        (b"<!-- armjit:begin a -->\n<!-- armjit:begin b -->\n<!-- armjit:end b -->\n<!-- armjit:end a -->\n", "inside"),
    ],
)
def test_damaged_markers_refuse_before_writing(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "findings.md"
    path.write_bytes(BOM + content)
    with pytest.raises(UsageError, match=why):
        notes.upsert_block(path, "b", "new")
    with pytest.raises(UsageError, match=why):
        notes.ensure_writable([path])
    assert path.read_bytes() == BOM + content


def test_markers_must_be_on_their_own_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    quoted = b"see `<!-- armjit:begin b -->` in the docs\r\n"
    path.write_bytes(quoted)
    notes.upsert_block(path, "b", "x")
    assert path.read_bytes() == quoted + b"<!-- armjit:begin b -->\r\nx\r\n<!-- armjit:end b -->\r\n"
    assert notes.read_block(path, "b") == "x\n"


@pytest.mark.parametrize("block_id", ["", "has space", "a--b", "-lead", "x>y"])
def test_bad_block_ids_are_refused(tmp_path: Path, block_id: str) -> None:
    with pytest.raises(UsageError, match="block id"):
        notes.upsert_block(tmp_path / "n.md", block_id, "x")
    assert not (tmp_path / "n.md").exists()


def test_body_with_markers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="markers"):
        notes.upsert_block(tmp_path / "n.md", "b", "x\n<!-- armjit:end b -->\n")
    assert not (tmp_path / "n.md").exists()


def test_ensure_writable_accepts_good_and_missing_files(tmp_path: Path) -> None:
    good = tmp_path / "findings.md"
    good.write_bytes(HAND_WRITTEN)
    notes.ensure_writable([good, tmp_path / "progress.md", tmp_path / "new" / "dir" / "task_plan.md"])
    assert good.read_bytes() == HAND_WRITTEN
    assert not (tmp_path / "progress.md").exists() and not (tmp_path / "new").exists()


def test_a_notes_file_that_links_into_a_system_tree_is_refused_before_any_write(tmp_path: Path) -> None:
    # The link names a file that does not exist under /etc: were the guard to fail, the test
    # would see the write land there, but nothing existing could be overwritten.
    link = tmp_path / "task_plan.md"
    link.symlink_to("/etc/armjit-test-never-written/task_plan.md")
    with pytest.raises(UsageError, match=r"written at /etc/armjit-test-never-written/task_plan\.md") as caught:
        notes.upsert_block(link, "phases", "x\n")
    assert "\n" not in str(caught.value)
    assert not Path("/etc/armjit-test-never-written").exists()
    folder = tmp_path / "notes-link"
    folder.symlink_to("/etc")
    with pytest.raises(UsageError, match=r"inside /etc|system directory"):
        notes.ensure_writable([folder / notes.TASK_PLAN])
    with pytest.raises(UsageError, match="system directory"):
        notes.read_block(folder / "armjit-test-never-there.md", "phases")


@pytest.mark.parametrize("kind", ["fifo", "device", "socket", "directory"])
def test_a_notes_file_that_is_not_a_regular_file_is_refused_in_one_line(tmp_path: Path, kind: str) -> None:
    import socket

    path = tmp_path / "findings.md"
    holder = None
    if kind == "fifo":
        os.mkfifo(path)  # reading it would wait for a writer forever
    elif kind == "device":
        path.symlink_to("/dev/zero")  # reading it would never end
    elif kind == "socket":
        holder = socket.socket(socket.AF_UNIX)
        holder.bind(str(path))
    else:
        path.mkdir()
    try:
        for call in (
            lambda: notes.upsert_block(path, "x", "y\n"),
            lambda: notes.read_block(path, "x"),
            lambda: notes.ensure_writable([path]),
        ):
            with pytest.raises(UsageError, match=r"not a regular file|/dev is a system directory") as caught:
                call()
            assert "\n" not in str(caught.value)
    finally:
        if holder is not None:
            holder.close()


def test_the_iteration_state_is_refused_when_it_is_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / notes.STATE)
    with pytest.raises(UsageError, match="FIFO, not a regular file"):
        notes.read_state(tmp_path)
