"""Markdown notes (findings.md, progress.md, task_plan.md, notes.md): armjit's marked blocks only.

A block is the text between two marker lines::

    <!-- armjit:begin ID -->
    ...
    <!-- armjit:end ID -->

Engineers keep these files by hand, and real ones start with a UTF-8 BOM, mix GBK lines into
UTF-8, and use CRLF or LF. So the file is handled as bytes: only marker lines are ever decoded,
a block is replaced in place or appended at the end, and every other byte stays as it was.
This is the only module that writes notes files; writes are atomic, and a file that cannot be
read or written (or whose markers are damaged) is a one-line ``UsageError`` before anything is
written.

Beside the markdown lives ``.armjit-state.json``: the iteration state that armjit's tables are
rendered from (decisions, errors, phases), so nothing is ever parsed back out of markdown.
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armjit.errors import UsageError
from armjit.seams.safepaths import check_local_dir
from armjit.seams.store import atomic_write_bytes

__all__ = [
    "FINDINGS",
    "NOTES",
    "PROGRESS",
    "STATE",
    "TASK_PLAN",
    "append_row",
    "begin_marker",
    "end_marker",
    "ensure_writable",
    "read_block",
    "read_state",
    "upsert_block",
    "write_state",
]

FINDINGS = "findings.md"
PROGRESS = "progress.md"
TASK_PLAN = "task_plan.md"
NOTES = "notes.md"
STATE = ".armjit-state.json"
STATE_SCHEMA = 1

_BOM = b"\xef\xbb\xbf"
# Read, change, write: hosts of a fleet finish on several threads and write the same notes files.
_UPDATE = threading.RLock()
# No spaces (the marker is split on them) and no "--" (it would end the HTML comment early).
_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]*$")
_MARKER = re.compile(rb"^<!-- armjit:(begin|end) (\S+) -->$")
_NEW_FILE_MODE = 0o644


@dataclass(frozen=True)
class _Block:
    """Byte offsets of one block: ``start``..``stop`` covers the begin line up to the end marker's
    last byte (its line ending stays outside, so a replacement keeps it); the body lies between
    ``body_start`` and ``body_stop``; ``newline`` is the begin line's own line ending."""

    start: int
    stop: int
    body_start: int
    body_stop: int
    newline: bytes


def begin_marker(block_id: str) -> str:
    return f"<!-- armjit:begin {_checked_id(block_id)} -->"


def end_marker(block_id: str) -> str:
    return f"<!-- armjit:end {_checked_id(block_id)} -->"


def read_block(path: Path, block_id: str) -> str | None:
    """The body of block ``block_id`` (LF line endings), or None if the file or the block is absent."""
    _checked_id(block_id)
    data = _read(path)
    if data is None:
        return None
    block = _scan(path, data).get(block_id)
    if block is None:
        return None
    body = data[block.body_start : block.body_stop]
    # Only armjit writes inside a block (as UTF-8); a hand edit in another encoding is shown, not fatal.
    return body.decode("utf-8", errors="replace").replace("\r\n", "\n")


def upsert_block(path: Path, block_id: str, body: str) -> None:
    """Add block ``block_id`` at the end of ``path`` or replace its body; no other byte changes.

    The file is created if missing. The body gets a final newline and the file's line ending style.
    """
    _checked_id(block_id)
    _checked_body(body)
    with _UPDATE:
        _upsert(path, block_id, body)


def _upsert(path: Path, block_id: str, body: str) -> None:
    data = _read(path) or b""
    blocks = _scan(path, data)
    block = blocks.get(block_id)
    if block is not None:
        text = _render(block_id, body, block.newline, trailing=False)
        new = data[: block.start] + text + data[block.stop :]
    else:
        newline = _dominant_newline(data)
        sep = newline if data and not data.endswith(b"\n") else b""
        new = data + sep + _render(block_id, body, newline, trailing=True)
    _write(path, new)


def append_row(path: Path, block_id: str, header_lines: Sequence[str], row: str) -> None:
    """Append one line (a table row, a bullet) to block ``block_id``; a new block starts with
    ``header_lines`` (for example a heading, the table header and its ``|---|`` line)."""
    if "\n" in row or "\r" in row:
        raise UsageError(f"a row for notes block {block_id} must be one line: {row[:60]!r}")
    with _UPDATE:
        current = read_block(path, block_id)
        if current is None:
            current = "".join(f"{line}\n" for line in header_lines)
        elif current and not current.endswith("\n"):
            current += "\n"
        upsert_block(path, block_id, current + row + "\n")


def read_state(notes_dir: Path) -> dict[str, Any] | None:
    """The iteration state beside the notes, or None when there is none yet."""
    path = notes_dir / STATE
    try:
        raw = _read(path)
        if raw is None:
            return None
        data = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read the iteration state {path}: {exc}; fix or delete it") from None
    if not isinstance(data, dict) or not isinstance(data.get("schema_version"), int):
        raise UsageError(f"{path} is not an armjit iteration state (no schema_version); fix or delete it")
    if data["schema_version"] > STATE_SCHEMA:
        raise UsageError(f"{path} was written by a newer armjit (schema {data['schema_version']}); upgrade armjit")
    return data


def write_state(notes_dir: Path, data: dict[str, Any]) -> None:
    """Replace the iteration state atomically (readers see the old or the new file, never half)."""
    text = json.dumps({**data, "schema_version": STATE_SCHEMA}, indent=2, sort_keys=True) + "\n"
    _write(notes_dir / STATE, text.encode("utf-8"))


def ensure_writable(paths: Iterable[Path]) -> None:
    """Fail fast (before a long run) if a notes file cannot be read, parsed or written."""
    for path in paths:
        data = _read(path)
        if data is not None:
            _scan(path, data)
            if not os.access(path, os.W_OK):
                raise UsageError(f"notes file {path} is not writable; fix its permissions or choose --notes-dir")
        folder = _existing_ancestor(_target(path).parent)
        if not folder.is_dir():
            raise UsageError(f"cannot create notes file {path}: {folder} is not a directory")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"cannot write notes file {path}: directory {folder} is not writable")


def _checked_id(block_id: str) -> str:
    if not _ID_OK.match(block_id) or "--" in block_id:
        raise UsageError(f"notes block id {block_id!r} may only hold letters, digits and ._:@/+=- (no '--')")
    return block_id


def _checked_body(body: str) -> None:
    if "<!-- armjit:" in body:
        raise UsageError("a notes block body may not contain armjit markers ('<!-- armjit:')")


def _target(path: Path) -> Path:
    """The file a write really lands in, once it passed the guard: a symlink (of the file or of
    a folder on the way) is followed to what it names, and that is judged like --notes-dir (not
    a system tree, not another user's home); what exists there must be a regular file."""
    real = Path(os.path.realpath(path))
    try:
        check_local_dir(real.parent, what=f"notes file {path.name} in")
    except UsageError as exc:
        raise UsageError(f"notes file {path} refused: it is written at {real}, and {_why(exc)}") from None
    _regular_or_absent(path, real)
    return real


def _why(exc: UsageError) -> str:
    return str(exc).split(" refused: ", 1)[-1]


def _regular_or_absent(path: Path, real: Path) -> None:
    """Refuse a FIFO, device, socket or directory (reading one would hang or never end)."""
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot read notes file {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else ("a socket" if stat.S_ISSOCK(mode) else "a directory" if stat.S_ISDIR(mode) else "not a regular file")
        )
        raise UsageError(f"notes file {path} refused: it is {kind}, not a regular file")


def _existing_ancestor(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _read(path: Path) -> bytes | None:
    target = _target(path)
    try:
        return target.read_bytes()
    except FileNotFoundError:
        return None  # created on the first write (through a dangling symlink too)
    except OSError as exc:
        raise UsageError(f"cannot read notes file {path}: {exc.strerror or exc}") from None


def _write(path: Path, data: bytes) -> None:
    target = _target(path)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = _NEW_FILE_MODE
    except OSError as exc:
        raise UsageError(f"cannot write notes file {path}: {exc.strerror or exc}") from None
    try:
        atomic_write_bytes(target, data)
        # The temp file is created 0600; keep the mode the engineer's file had.
        target.chmod(mode)
    except OSError as exc:
        raise UsageError(f"cannot write notes file {path}: {exc.strerror or exc}") from None


def _lines(data: bytes) -> Iterable[tuple[int, int, bytes]]:
    """(start, end, line ending) of each line; ``end`` excludes the line ending."""
    pos = 0
    size = len(data)
    while pos < size:
        nl = data.find(b"\n", pos)
        if nl < 0:
            yield pos, size, b""
            return
        if nl > pos and data[nl - 1 : nl] == b"\r":
            yield pos, nl - 1, b"\r\n"
        else:
            yield pos, nl, b"\n"
        pos = nl + 1


def _scan(path: Path, data: bytes) -> dict[str, _Block]:
    """Every armjit block of the file; markers out of order or duplicated are an error."""
    blocks: dict[str, _Block] = {}
    open_id: str | None = None
    open_at = (0, 0, b"\n")
    for start, end, newline in _lines(data):
        if data[start : start + 4] != b"<!--" and not (start == 0 and data.startswith(_BOM + b"<!--")):
            continue  # the common case: not a marker, never decoded
        content_start = start + len(_BOM) if start == 0 and data.startswith(_BOM) else start
        match = _MARKER.match(data[content_start:end].strip())
        if match is None:
            continue
        kind, raw_id = match.group(1), match.group(2).decode("ascii", errors="replace")
        if kind == b"begin":
            if open_id is not None:
                raise _damaged(path, open_id, f"begin marker of {raw_id} inside it")
            if raw_id in blocks:
                raise _damaged(path, raw_id, "it appears twice")
            open_id, open_at = raw_id, (content_start, end + len(newline), newline)
        else:
            if open_id != raw_id:
                raise _damaged(path, raw_id, "end marker without its begin marker")
            blocks[raw_id] = _Block(open_at[0], end, open_at[1], start, open_at[2])
            open_id = None
    if open_id is not None:
        raise _damaged(path, open_id, "begin marker without its end marker")
    return blocks


def _damaged(path: Path, block_id: str, why: str) -> UsageError:
    return UsageError(f"notes file {path} has a damaged armjit block {block_id} ({why}); fix or delete its markers")


def _dominant_newline(data: bytes) -> bytes:
    crlf = data.count(b"\r\n")
    return b"\r\n" if crlf and crlf >= data.count(b"\n") - crlf else b"\n"


def _render(block_id: str, body: str, newline: bytes, *, trailing: bool) -> bytes:
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()  # the body's own final newline; every line gets one below
    nl = newline.decode("ascii")
    text = begin_marker(block_id) + nl + "".join(line + nl for line in lines) + end_marker(block_id)
    return (text + (nl if trailing else "")).encode("utf-8")
