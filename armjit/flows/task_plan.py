"""task_plan.md's Decisions Made and Errors Encountered tables, kept as data.

The rows live in the iteration state beside the notes (``.armjit-state.json``, read and written by
armjit.seams.notes); task_plan.md's blocks are rendered from it and never parsed back. Notes
written before the state file existed are read once: when there is no state file, the rows are
imported from task_plan.md's blocks, and the next write saves them as state.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from armjit.errors import UsageError
from armjit.render import table
from armjit.seams import notes

__all__ = [
    "DECISIONS_HEADER",
    "ERRORS_HEADER",
    "OPEN",
    "Decision",
    "ErrorRow",
    "PlanState",
    "add_decision",
    "load",
    "record_error",
    "resolve_errors",
    "save",
]

DECISIONS_HEADER = ("Decision", "Rationale")
ERRORS_HEADER = ("Error", "Attempt", "Resolution")
OPEN = "open"
_TITLES = {"decisions": "## Decisions Made", "errors": "## Errors Encountered"}
# A legacy cell ends at a pipe that is not escaped.
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True)
class Decision:
    text: str
    why: str


@dataclass(frozen=True)
class ErrorRow:
    """One failing streak of a step: its latest message, how many attempts failed, how it ended."""

    step: str
    message: str
    attempt: int = 1
    resolution: str = OPEN

    @property
    def is_open(self) -> bool:
        return self.resolution == OPEN


@dataclass(frozen=True)
class PlanState:
    decisions: tuple[Decision, ...] = ()
    errors: tuple[ErrorRow, ...] = ()
    # Where the iteration stood when task_plan.md's phases were last rendered (armjit.flows.iteration).
    phases: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer armjit wrote; kept as they are


def load(notes_dir: Path) -> PlanState:
    """The state beside the notes; without a state file, the rows of an older task_plan.md."""
    data = notes.read_state(notes_dir)
    if data is None:
        return _import_markdown(notes_dir / notes.TASK_PLAN)
    try:
        decisions = tuple(Decision(str(d["text"]), str(d["why"])) for d in data.get("decisions", []))
        errors = tuple(
            ErrorRow(str(e["step"]), str(e["message"]), int(e["attempt"]), str(e["resolution"]))
            for e in data.get("errors", [])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{notes_dir / notes.STATE}: malformed iteration state ({exc!r}); fix or delete it") from None
    phases = data.get("phases") if isinstance(data.get("phases"), dict) else None
    extra = {k: v for k, v in data.items() if k not in ("decisions", "errors", "phases", "schema_version")}
    return PlanState(decisions, errors, phases, extra)


def save(notes_dir: Path, state: PlanState) -> None:
    """Write the state, then render task_plan.md's tables from it (a table with no rows yet is
    left out, so a new task_plan.md grows the blocks in the order they are first used).

    task_plan.md is checked first, so damaged markers stop the write before the state changes."""
    path = notes_dir / notes.TASK_PLAN
    notes.ensure_writable([path, notes_dir / notes.STATE])
    data = {
        **state.extra,
        "decisions": [asdict(d) for d in state.decisions],
        "errors": [asdict(e) for e in state.errors],
        "phases": state.phases,
    }
    notes.write_state(notes_dir, data)
    for block, rows in (("decisions", state.decisions), ("errors", state.errors)):
        if rows:
            notes.upsert_block(path, block, _render(state, block))


def _render(state: PlanState, block: str) -> str:
    if block == "decisions":
        body = table([(d.text, d.why) for d in state.decisions], DECISIONS_HEADER, "github")
    else:
        rows = [(f"{e.step}: {e.message}", str(e.attempt), e.resolution) for e in state.errors]
        body = table(rows, ERRORS_HEADER, "github")
    return f"{_TITLES[block]}\n\n{body}\n"


def add_decision(notes_dir: Path, text: str, why: str) -> None:
    """A row in task_plan.md's Decisions Made table."""
    if not text.strip():
        raise UsageError("decide: give the decision as TEXT")
    if not why.strip():
        raise UsageError("decide: give the reason with --why")
    state = load(notes_dir)
    save(notes_dir, replace(state, decisions=(*state.decisions, Decision(text.strip(), why.strip()))))


def record_error(notes_dir: Path, step: str, message: str) -> int:
    """Add or update the Errors Encountered row of ``step`` and return its attempt count.

    While a step keeps failing its one open row is updated (latest message, attempt + 1); once
    the step succeeds ``resolve_errors`` closes the row, and the next failure starts a new one.
    """
    state = load(notes_dir)
    errors = list(state.errors)
    for index in reversed(range(len(errors))):
        row = errors[index]
        if row.step == step and row.is_open:
            errors[index] = replace(row, message=message, attempt=row.attempt + 1)
            break
    else:
        errors.append(ErrorRow(step, message))
        index = len(errors) - 1
    save(notes_dir, replace(state, errors=tuple(errors)))
    return errors[index].attempt


def resolve_errors(notes_dir: Path, step: str, resolution: str) -> int:
    """Close ``step``'s open error rows with ``resolution``; returns how many were closed."""
    state = load(notes_dir)
    closing = [e.step == step and e.is_open for e in state.errors]
    if not any(closing):
        return 0
    errors = tuple(replace(e, resolution=resolution) if c else e for e, c in zip(state.errors, closing, strict=True))
    save(notes_dir, replace(state, errors=errors))
    return sum(closing)


# -- task_plan.md written before the state file ---------------------------------------------------


def _legacy_rows(body: str | None) -> list[list[str]]:
    """The data rows of a markdown table in an armjit block (header and ``|---|`` skipped)."""
    lines = [ln.strip() for ln in (body or "").splitlines() if ln.strip().startswith("|")]
    return [[c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(ln.strip("|"))] for ln in lines[2:]]


def _import_markdown(path: Path) -> PlanState:
    decisions = tuple(Decision(r[0], r[1]) for r in _legacy_rows(notes.read_block(path, "decisions")) if len(r) == 2)
    errors = []
    for row in _legacy_rows(notes.read_block(path, "errors")):
        if len(row) != 3:
            continue
        step, _, message = row[0].partition(": ")
        errors.append(ErrorRow(step, message, int(row[1]) if row[1].isdigit() else 1, row[2]))
    return PlanState(decisions, tuple(errors))
