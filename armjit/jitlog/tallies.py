"""Mutable tallies of one log (or one byte range of it), and their conversion to a ProcessLog.

The scanner only adds to a Tallies; byte ranges scanned apart (parallel.py) are merged by
addition; ``to_process_log`` turns the sum into the frozen record once, at the end.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from armjit.jitlog import limits
from armjit.jitlog.formats import FormatTable, LogFormat, shipped_table
from armjit.jitlog.patterns import HEX
from armjit.jitlog.records import Crash, Deopt, Failure, FunctionStats, ProcessLog, Thresholds

__all__ = ["NOT_JIT", "Tallies", "to_process_log"]

NOT_JIT = "not a CinderX JIT log (no 'JIT: <file>:<line> -- ' lines)"

# Most specific reason wins when one function fails for several logged reasons in one process.
_RANK = {"background": 1, "unmatched": 0}


class Tallies:
    """Mutable tallies of one log (or one byte range of it); ranges merge by addition."""

    def __init__(self) -> None:
        self.bytes = 0
        self.lines = 0
        self.jit_lines = 0
        self.unrecognised = 0
        self.blank = 0
        self.dump_lines = 0
        self.invalid_utf8 = 0
        self.nul = 0
        self.overlong = 0
        self.truncated = False
        self.crlf = False
        # Successful compiles by name: count, summed µs, and compiles per (name, code size): the
        # largest and the summed size come from those pairs (sizes as logged bytes, or int).
        self.fin_n: Counter[bytes] = Counter()
        self.fin_us: dict[bytes, int] = {}
        self.fin_sizes: Counter[tuple[bytes, bytes | int]] = Counter()
        # Compile starts: named ones, plus plain "Compiling X" lines only counted on the fast path.
        self.starts: Counter[bytes] = Counter()
        self.anon_starts = 0
        # Failure lines that follow a "Compiling X" (HIR refusals, codegen errors): used to check
        # that every start is accounted for without knowing the names.
        self.start_failures = 0
        self.inlines = 0
        self.batches = 0
        self.batch_callees = 0
        self.inlined: Counter[tuple[bytes, bytes]] = Counter()  # (callee, caller) -> lines
        # Messages no pattern of the scanner knows, verbatim -> lines (see to_process_log).
        self.texts: Counter[str] = Counter()
        # name -> [kind, detail, opcode, opname, events, result_code, message]
        self.fail: dict[str, list[Any]] = {}
        self.crashes: Counter[str] = Counter()
        self.calls: int | None = None
        self.bytecodes: int | None = None
        self.total_ms: float | None = None
        self.exits = 0
        self.deopts: Counter[tuple[str, str, str]] = Counter()
        self.hir: dict[str, int] = {}
        self.flags: set[str] = set()
        self.threads: set[str] = set()
        self.notes: list[str] = []

    @property
    def unexplained_starts(self) -> int:
        """Starts minus finishes minus failures that follow a start (0 when all are paired)."""
        starts = self.anon_starts + sum(self.starts.values())
        return starts - sum(self.fin_n.values()) - self.start_failures

    def merge(self, other: Tallies) -> None:
        """Add ``other`` (the next byte range of the same file) into this state."""
        for name in (
            "bytes",
            "lines",
            "jit_lines",
            "unrecognised",
            "blank",
            "dump_lines",
            "invalid_utf8",
            "nul",
            "overlong",
            "inlines",
            "batches",
            "batch_callees",
            "exits",
            "anon_starts",
            "start_failures",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.truncated = self.truncated or other.truncated
        self.crlf = self.crlf or other.crlf
        self.fin_n.update(other.fin_n)
        for key, us in other.fin_us.items():
            self.fin_us[key] = self.fin_us.get(key, 0) + us
        self.inlined.update(other.inlined)
        for text, n in other.texts.items():
            self.add_text(text, n)
        self.fin_sizes.update(other.fin_sizes)
        self.starts.update(other.starts)
        self.cap()
        for name, rec in other.fail.items():
            self.add_failure(name, rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], message=rec[6])
        self.crashes.update(other.crashes)
        self.calls = other.calls if other.calls is not None else self.calls
        self.bytecodes = other.bytecodes if other.bytecodes is not None else self.bytecodes
        if other.total_ms is not None:
            self.total_ms = (self.total_ms or 0.0) + other.total_ms
        self.deopts.update(other.deopts)
        for name, value in other.hir.items():
            self.add_hir(name, value)
        self.flags |= other.flags
        self.threads |= other.threads
        self.notes.extend(n for n in other.notes if n not in self.notes)

    # -- recorders ------------------------------------------------------------------------------
    def add_finish(self, name: bytes, n: int, us: int, size: int) -> None:
        self.fin_n[name] += n
        self.fin_us[name] = self.fin_us.get(name, 0) + us
        self.fin_sizes[(name, size)] += n

    def add_text(self, text: str, n: int) -> None:
        if text in self.texts or len(self.texts) < limits.MAX_NAMES:
            self.texts[text] += n

    def cap(self) -> None:
        """Fold names beyond MAX_NAMES into one bucket, so memory stays bounded."""
        for table in (self.fin_n, self.starts):
            if len(table) <= limits.MAX_NAMES:
                continue
            extra = [k for k in itertools.islice(table, limits.MAX_NAMES, None) if k != limits.OVERFLOW]
            for key in extra:
                table[limits.OVERFLOW] += table.pop(key)
                if table is self.fin_n:
                    self.fin_us[limits.OVERFLOW] = self.fin_us.get(limits.OVERFLOW, 0) + self.fin_us.pop(key, 0)
            if table is self.fin_n and extra:
                folded = set(extra)
                for pair in [p for p in self.fin_sizes if p[0] in folded]:
                    self.fin_sizes[(limits.OVERFLOW, pair[1])] += self.fin_sizes.pop(pair)

    def add_failure(
        self,
        name: str,
        kind: str,
        detail: str = "",
        opcode: int | None = None,
        opname: str | None = None,
        events: int = 1,
        code: int | None = None,
        *,
        message: str = "",
    ) -> None:
        rec = self.fail.get(name)
        if rec is None:
            if len(self.fail) >= limits.MAX_NAMES:
                name = limits.OVERFLOW_NAME
                rec = self.fail.get(name)
            if rec is None:
                self.fail[name] = [kind, detail, opcode, opname, events, code, message]
                return
        rec[4] += events
        if code is not None:
            rec[5] = code
        if kind != "background" and _RANK.get(rec[0], 2) < _RANK.get(kind, 2):
            rec[0:4] = [kind, detail, opcode, opname]
            rec[6] = message

    def add_crash(self, signature: str, events: int = 1) -> None:
        signature = HEX.sub("0x…", signature.strip())[:300]
        if signature in self.crashes or len(self.crashes) < 10_000:
            self.crashes[signature] += events

    def add_hir(self, name: str, value: int) -> None:
        if name in self.hir or len(self.hir) < limits.MAX_NAMES:
            self.hir[name] = value

    def add_deopt(self, key: tuple[str, str, str], count: int) -> None:
        if key in self.deopts or len(self.deopts) < limits.MAX_NAMES:
            self.deopts[key] += count


def to_process_log(
    st: Tallies, source: str, pid: int | None, group: str, role: str, formats: FormatTable | None = None
) -> ProcessLog:
    """The frozen record of a finished scan; names are decoded here, per table entry, not per line.

    ``formats`` (the JIT's own format strings, default: the shipped table) recognise the messages
    the scanner's patterns do not know, and give every failure line its format.
    """
    invalid = st.invalid_utf8
    table = formats if formats is not None else shipped_table()

    def name(raw: bytes) -> str:
        nonlocal invalid
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            invalid += 1
            return raw.decode("utf-8", errors="replace")

    largest: dict[bytes, int] = {}
    summed: dict[bytes, int] = {}
    for (key, size), n in st.fin_sizes.items():
        largest[key] = max(largest.get(key, 0), int(size))
        summed[key] = summed.get(key, 0) + int(size) * n
    functions = tuple(
        sorted(
            (
                FunctionStats(name(k), n, largest.get(k, 0), st.fin_us.get(k, 0), summed.get(k, 0))
                for k, n in st.fin_n.items()
            ),
            key=lambda f: f.name,
        )
    )
    matched = {text: table.match(text) for text in st.texts}
    known = sum(n for text, n in st.texts.items() if matched[text] is not None)
    failures = _failures(st, {f.name: f.compiles for f in functions}, name, matched, table)
    return ProcessLog(
        source=source,
        pid=pid,
        group=group,
        role=role,
        bytes_read=st.bytes,
        lines=st.lines,
        unrecognised=st.unrecognised - known,
        compile_starts=st.anon_starts + sum(st.starts.values()),
        functions=functions,
        failures=failures,
        crashes=tuple(Crash(s, n) for s, n in sorted(st.crashes.items())),
        thresholds=Thresholds(st.calls, st.bytecodes),
        inlines=st.inlines,
        batches=st.batches,
        batch_callees=st.batch_callees,
        total_compile_ms=st.total_ms,
        exits=st.exits,
        deopts=tuple(Deopt(f, r, d, n) for (f, r, d), n in sorted(st.deopts.items())),
        hir_instructions=tuple(sorted(st.hir.items())),
        inlined=tuple(sorted((name(a), name(b), n) for (a, b), n in st.inlined.items())),
        jit_flags=tuple(sorted(st.flags)),
        threads=tuple(sorted(st.threads)),
        jit_lines=st.jit_lines,
        blank_lines=st.blank,
        dump_lines=st.dump_lines,
        invalid_utf8_lines=invalid,
        nul_bytes=st.nul,
        overlong_lines=st.overlong,
        truncated=st.truncated,
        crlf=st.crlf,
        notes=_notes(st, invalid),
    )


Matched = dict[str, tuple[LogFormat, tuple[str, ...]] | None]


def _naming(matched: Matched) -> dict[str, list[tuple[str, LogFormat | None]]]:
    """Function name -> the messages that name it (a field of their format, else a name-like token).

    Starts, finishes, batch headers and the inliner's notes name a function too, but never say why
    it did not compile, so they are left out.
    """
    index: dict[str, list[tuple[str, LogFormat | None]]] = {}
    for text, hit in matched.items():
        if hit is None:
            values: Iterable[str] = _NAME_TOKEN.findall(text)
            fmt = None
        else:
            fmt, fields = hit
            if fmt.role != "message":
                continue
            values = (v.strip("'\"") for v in fields)
        for value in dict.fromkeys(values):
            index.setdefault(value, []).append((text, fmt))
    return index


_NAME_TOKEN = re.compile(r"[^\s'\"(),]+:[^\s'\"(),]+")


def _failures(
    st: Tallies, finished: dict[str, int], name: Callable[[bytes], str], matched: Matched, table: FormatTable
) -> tuple[Failure, ...]:
    """Logged failures, plus starts that never finished (by name when the names are known).

    A start with no finish takes as its reason any line that names it (verbatim, the most specific
    format first); with none it is "unmatched" (no reason logged).
    """
    fail = {n: list(r) for n, r in st.fail.items()}
    unexplained = st.unexplained_starts
    if st.anon_starts and unexplained > 0:
        # Names of plain starts were only counted and no second pass was possible.
        fail.setdefault("<unnamed>", ["unmatched", "", None, None, unexplained, None, ""])
    elif not st.anon_starts:
        index = _naming(matched) if st.starts else {}
        for raw, started in st.starts.items():
            fname = name(raw)
            missing = started - finished.get(fname, 0)
            if missing <= 0 or (fname in fail and fail[fname][0] != "background"):
                continue
            said = sorted(index.get(fname, []), key=lambda h: (-(h[1].literal if h[1] else 0), h[0]))
            code = fail[fname][5] if fname in fail else None
            if said:
                fail[fname] = ["logged", said[0][0], None, None, missing, code, said[0][0]]
            elif fname not in fail:
                fail[fname] = ["unmatched", "", None, None, missing, None, ""]
    out = []
    for n, r in sorted(fail.items()):
        hit = table.match(r[6]) if r[6] else None
        fmt, src = (hit[0].text, hit[0].source) if hit else ("", "")
        out.append(Failure(n, r[0], r[1], r[2], r[3], r[4], r[5], r[6], fmt, src))
    return tuple(out)


def _notes(st: Tallies, invalid: int) -> tuple[str, ...]:
    """What a reader should know about the file itself (empty, binary, truncated, shared)."""
    notes = list(st.notes)
    if st.bytes == 0:
        notes.append("empty file")
    elif st.jit_lines == 0:
        notes.append(NOT_JIT)
    if st.nul:
        notes.append(f"binary data ({st.nul} NUL bytes)")
    if invalid:
        notes.append(f"{invalid} lines are not valid UTF-8 (shown with U+FFFD)")
    if st.truncated:
        notes.append("last line has no newline (truncated write?)")
    if st.overlong:
        notes.append(f"{st.overlong} lines longer than {limits.MAX_LINE >> 20} MiB skipped")
    if st.exits > 1:
        notes.append(f"{st.exits} JIT shutdowns in one file: several processes wrote it (use {{pid}} in the log path)")
    return tuple(notes)
