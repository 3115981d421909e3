"""Streaming parser of CinderX JIT logs: one typed view per process, one aggregate per set.

Both log dialects are read: the fork's (``JIT: /abs/path/cinderx/Jit/compiler.cpp:246 -- ...``)
and the 2026.11 release's (``JIT: cinderx/Jit/compiler.cpp:329 -- ... (code: 0x...)``), see
cinderx-workflow.md §3 and cinderx-2026.11-logs.md. Console transcripts (stderr of pyperf or
pyperformance) are read by the same scanner: aborts, failed asserts, dying benchmarks and worker
exit signals become crash signatures.

Why it is shaped like this: logs can be gigabytes, and a per-line Python loop is too slow. Bytes
are scanned in large chunks with a few C-level passes: one regex pulls every
``Finished compiling`` line, one pulls every other ``" -- "`` message except compile starts and
inlinings (both only counted with ``bytes.count``), and messages are deduplicated with a Counter
before any Python code looks at them. A chunk whose line count does not add up (lines without
``" -- "``: stderr, dumps, garbage) or that holds an order-dependent message (an abort and its
text, runtime stats) is re-read line by line. Starts are paired with finishes and failures by
count; only when the counts disagree is the file read a second time for the started names. So the
order inside a chunk, and the way a file is split, does not matter; the few messages where the
last one wins (thresholds, result codes, stats) are re-applied in order of last appearance. Files
of ``PARALLEL_MIN`` bytes or more are cut at newlines into one range per CPU: the calling process
scans one range, forked workers the others, and the tallies are added. Memory is bounded: a
line longer than ``MAX_LINE`` is skipped, and per-name tables stop growing at ``MAX_NAMES``.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import json
import os
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from armjit.errors import UsageError

__all__ = [
    "CHUNK_SIZE",
    "MAX_LINE",
    "MAX_NAMES",
    "Aggregate",
    "Crash",
    "Deopt",
    "Failure",
    "FailureSummary",
    "FunctionStats",
    "FunctionSummary",
    "ProcessLog",
    "Scanner",
    "Thresholds",
    "aggregate",
    "assign_roles",
    "log_identity",
    "read_log",
    "scan_bytes",
]

CHUNK_SIZE = 4 << 20
MAX_LINE = 1 << 20
MAX_NAMES = 100_000
# Files at least this big are split between worker processes when more than one CPU is free.
PARALLEL_MIN = 64 << 20
OVERFLOW_NAME = "<more functions than tracked>"
_OVERFLOW = OVERFLOW_NAME.encode()
_MAX_STATS_TEXT = 8 << 20

# --- fast-path patterns (bytes, whole chunks) -------------------------------------------------
# Measured on CPU time: each regex pass over a chunk costs about 1 ms/MB, a bytes.count about
# 0.3 ms/MB, so only two regex passes are made. Names may hold spaces ("__main__:<generic
# parameters of f>"): the lazy tail costs nothing for a space-free name.
_FIN = re.compile(rb"Finished compiling (\S+(?: \S+)*?) in (\d+)\xc2\xb5s, code size: (\d+) bytes")
# Rare messages: everything after " -- " but finishes, inlinings and starts (counted instead).
_OTHER = re.compile(rb" -- (?!Fin|Inl|Com)([^\r\n]*)")
_FIRST = itemgetter(0)
_SIZE = itemgetter(2)
_INLINE = b" -- Inlining function "
_START = b" -- Compiling "
_BATCH_TAIL = b" functions it calls"
_BATCH_LINES = re.compile(rb" -- Compiling (.+) along with (\d+) functions it calls")
_START_NAMES = re.compile(rb" -- Compiling ([^\r\n]*)")
_ORDERED = (b"Abort", b"Assertion failed", b"JIT runtime stats", b"Unhandled ", b"Unsupported operand")
# Messages whose last occurrence decides a value (see Scanner._scan).
_LAST_WINS = (b"Configuring JIT", b"Background compile failed", b"Stats for ")
_DUMP_HEADERS = (
    b"Initial HIR for ",
    b"HIR for ",
    b"Optimized HIR for ",
    b"LIR for ",
    b"Disassembly for ",
)

# --- message patterns (str, applied to distinct messages only) --------------------------------
_FIN_SLOW = re.compile(
    rb"^Finished compiling (.+?)(?: in (\d+)(?:\xc2\xb5|\xb5|u)s)?(?:, code size: (\d+) bytes)?"
    rb"(?: \(code: 0x[0-9A-Fa-f]+\))?\s*$"
)
_BATCH = re.compile(rb"^Compiling (.+) along with (\d+) functions it calls\s*$")
_INLINE_SLOW = re.compile(rb"^Inlining function (.+) into (.+?)\s*$")
_OPCODE = re.compile(r"^Cannot compile (.+?) to HIR because it contains unsupported opcode (\d+) \((\w+)\)")
_BANNED = re.compile(r"^Cannot compile (.+?) to HIR because it uses banned global '([^']*)'")
_CANNOT_HIR = re.compile(r"^Cannot compile (.+?) to HIR because (.+)$")
_CANNOT = re.compile(r"^Cannot compile (\S+)[: ]+(.*)$")
_FLAGS = re.compile(r"^Can't compile (.+?) with flags (0x[0-9A-Fa-f]+)")
_CANT = re.compile(r"^Can't compile (.+?) (?:as it |due to )(.+)$")
_PROHIBITED = re.compile(r"^Cannot JIT compile (.+?) as it has prohibited code flags: (0x[0-9A-Fa-f]+)")
_BACKGROUND = re.compile(r"^Background compile failed: (-?\d+) for (.+)$")
_REFUSED = re.compile(r"^Refusing to compile (.+?): (.+)$")
_NATIVE = re.compile(r"^Generating native code for (.+) failed")
_EXCEPTION = re.compile(r"^Failed to (.+)$")
_EXC_NAME = re.compile(r"\bfor '?([\w.<>]+:[\w.<>]+)'?")
_UNHANDLED = re.compile(r"Unhandled opcode (\d+) \((\w+)\)(?: in (\S+) at offset (\d+))?")
_THRESH_CALLS = re.compile(r"^Configuring JIT to compile functions after (\d+) calls")
_THRESH_BC = re.compile(r"^Configuring JIT to compile functions after (\d+) interpreted bytecodes")
_TOTAL = re.compile(r"^CinderX JIT Total Compilation Time: (\d+(?:\.\d+)?)\s*(ms|s|µs|us)?")
_STATS = re.compile(r"^Stats for (.+?): (\{.*\})\s*$")
_FLAG_SET = re.compile(r"^((?:CINDERX_JIT|PYTHONJIT)\w*) has been specified")
_THREAD = re.compile(r"^Naming thread \d+ as (\S+)")
_HEX = re.compile(r"0x[0-9A-Fa-f]+")
_QUIET = (
    "Successfully patched ",
    "Background compile worker thread exiting",
    "Patching DeoptPatchPoint",
    "Unpatching DeoptPatchPoint",
    "Couldn't open log file",
)

# --- console (stderr) crash markers, on lines without the JIT prefix --------------------------
_SIGNALS = {
    -11: "SIGSEGV",
    139: "SIGSEGV",
    -6: "SIGABRT",
    134: "SIGABRT",
    -7: "SIGBUS",
    135: "SIGBUS",
    -4: "SIGILL",
    132: "SIGILL",
    -8: "SIGFPE",
    136: "SIGFPE",
    -9: "SIGKILL",
    137: "SIGKILL",
}
_EXIT = re.compile(r"(?:exit code|exit status|exited with (?:code|status)|returncode)[:= ]+(-?\d+)", re.I)
_CONSOLE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Fatal Python error: (.+)"), "Fatal Python error: {0}"),
    (re.compile(r"Segmentation fault"), "SIGSEGV (Segmentation fault)"),
    (re.compile(r"^Aborted(?: \(core dumped\))?\s*$"), "SIGABRT (Aborted)"),
    (re.compile(r"Bus error"), "SIGBUS (Bus error)"),
    (re.compile(r"Illegal instruction"), "SIGILL (Illegal instruction)"),
    (re.compile(r"Benchmark died"), "Benchmark died"),
    (re.compile(r"Benchmark timed out"), "Benchmark timed out"),
    (re.compile(r"Assertion `(.+)' failed"), "assertion failed: {0}"),
    (re.compile(r"Assertion failed:? (.+)"), "assertion failed: {0}"),
    (re.compile(r"(Unhandled (?:call )?opcode .+|Unhandled binary op .+)"), "abort: {0}"),
    (re.compile(r"(Unsupported operand type .+)"), "abort: {0}"),
)
_PID_NAME = re.compile(r"^(?P<stem>.*?)[._-](?P<pid>\d+)(?:\.log|\.txt)?$")


# ============================================================================ records ==========
@dataclass(frozen=True)
class Thresholds:
    """Effective auto-compile thresholds, as the JIT logged them (None = not logged)."""

    calls: int | None = None
    bytecodes: int | None = None


@dataclass(frozen=True)
class FunctionStats:
    """One function's successful compiles in one process."""

    name: str
    compiles: int
    code_size: int  # the largest size seen (a recompile can differ)
    compile_us: int  # summed over the compiles

    @property
    def main(self) -> bool:
        return self.name.startswith("__main__:")


@dataclass(frozen=True)
class Failure:
    """Why one function did not compile in one process (the most specific reason seen)."""

    function: str
    kind: str  # unsupported-opcode, banned-global, code-flags, prohibited-flags, hir, refused,
    # native-codegen, exception, unhandled-opcode, background, unmatched
    detail: str = ""
    opcode: int | None = None
    opcode_name: str | None = None
    events: int = 1
    result_code: int | None = None  # "Background compile failed: N"

    @property
    def reason(self) -> str:
        return failure_reason(self.kind, self.detail, self.opcode, self.opcode_name)


@dataclass(frozen=True)
class Crash:
    signature: str
    events: int = 1


@dataclass(frozen=True)
class Deopt:
    function: str
    reason: str
    description: str
    count: int


@dataclass(frozen=True)
class ProcessLog:
    """Everything one log file (one process, or one console transcript) says."""

    source: str
    pid: int | None
    group: str
    role: str  # parent, calibration, worker, single, process
    bytes_read: int
    lines: int
    unrecognised: int
    compile_starts: int
    functions: tuple[FunctionStats, ...]
    failures: tuple[Failure, ...]
    crashes: tuple[Crash, ...]
    thresholds: Thresholds
    inlines: int = 0
    batches: int = 0
    batch_callees: int = 0
    total_compile_ms: float | None = None
    exits: int = 0
    deopts: tuple[Deopt, ...] = ()
    hir_instructions: tuple[tuple[str, int], ...] = ()
    jit_flags: tuple[str, ...] = ()
    threads: tuple[str, ...] = ()
    jit_lines: int = 0
    blank_lines: int = 0
    dump_lines: int = 0
    invalid_utf8_lines: int = 0
    nul_bytes: int = 0
    overlong_lines: int = 0
    truncated: bool = False
    crlf: bool = False
    notes: tuple[str, ...] = ()

    @property
    def compiled(self) -> int:
        return sum(f.compiles for f in self.functions)

    @property
    def compiled_main(self) -> int:
        return sum(f.compiles for f in self.functions if f.main)

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def is_jit_log(self) -> bool:
        return self.jit_lines > 0

    def with_role(self, role: str) -> ProcessLog:
        return dataclasses.replace(self, role=role)


def failure_reason(kind: str, detail: str, opcode: int | None, opcode_name: str | None) -> str:
    """A short, groupable reason text."""
    if kind in ("unsupported-opcode", "unhandled-opcode"):
        verb = "unsupported" if kind == "unsupported-opcode" else "unhandled (abort)"
        return f"{verb} opcode {opcode} ({opcode_name})"
    texts = {
        "banned-global": f"banned global '{detail}'",
        "code-flags": f"code flags {detail}",
        "prohibited-flags": f"prohibited code flags {detail}",
        "hir": f"HIR: {detail}",
        "cannot": f"cannot compile: {detail}",
        "refused": f"refused: {detail}",
        "native-codegen": "native code generation failed",
        "exception": f"exception: {detail}",
        "background": f"background compile failed ({detail})",
        "unmatched": "started, never finished (crash or silent failure)",
    }
    return texts.get(kind, f"{kind}: {detail}" if detail else kind)


# Most specific reason wins when one function fails for several logged reasons in one process.
_RANK = {"background": 1, "unmatched": 0}


# ============================================================================ scanner ==========
class _State:
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
        # Successful compiles by name: count, summed µs, size of the last compile (bytes or int).
        self.fin_n: Counter[bytes] = Counter()
        self.fin_us: dict[bytes, int] = {}
        self.fin_size: dict[bytes, bytes | int] = {}
        # Compile starts: named ones, plus plain "Compiling X" lines only counted on the fast path.
        self.starts: Counter[bytes] = Counter()
        self.anon_starts = 0
        # Failure lines that follow a "Compiling X" (HIR refusals, codegen errors): used to check
        # that every start is accounted for without knowing the names.
        self.start_failures = 0
        self.inlines = 0
        self.batches = 0
        self.batch_callees = 0
        # name -> [kind, detail, opcode, opname, events, result_code]
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

    def merge(self, other: _State) -> None:
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
        self.fin_size.update(other.fin_size)
        self.starts.update(other.starts)
        self.cap()
        for name, rec in other.fail.items():
            self._fail(name, rec[0], rec[1], rec[2], rec[3], rec[4], rec[5])
        self.crashes.update(other.crashes)
        self.calls = other.calls if other.calls is not None else self.calls
        self.bytecodes = other.bytecodes if other.bytecodes is not None else self.bytecodes
        if other.total_ms is not None:
            self.total_ms = (self.total_ms or 0.0) + other.total_ms
        self.deopts.update(other.deopts)
        for name, value in other.hir.items():
            self._hir(name, value)
        self.flags |= other.flags
        self.threads |= other.threads
        self.notes.extend(n for n in other.notes if n not in self.notes)

    # -- recorders ------------------------------------------------------------------------------
    def _finish(self, name: bytes, n: int, us: int, size: int) -> None:
        self.fin_n[name] += n
        self.fin_us[name] = self.fin_us.get(name, 0) + us
        self.fin_size[name] = size

    def cap(self) -> None:
        """Fold names beyond MAX_NAMES into one bucket, so memory stays bounded."""
        for table in (self.fin_n, self.starts):
            if len(table) <= MAX_NAMES:
                continue
            extra = [k for k in itertools.islice(table, MAX_NAMES, None) if k != _OVERFLOW]
            for key in extra:
                table[_OVERFLOW] += table.pop(key)
                if table is self.fin_n:
                    self.fin_us[_OVERFLOW] = self.fin_us.get(_OVERFLOW, 0) + self.fin_us.pop(key, 0)
                    self.fin_size[_OVERFLOW] = self.fin_size.pop(key, 0)

    def _fail(
        self,
        name: str,
        kind: str,
        detail: str = "",
        opcode: int | None = None,
        opname: str | None = None,
        events: int = 1,
        code: int | None = None,
    ) -> None:
        rec = self.fail.get(name)
        if rec is None:
            if len(self.fail) >= MAX_NAMES:
                name = OVERFLOW_NAME
                rec = self.fail.get(name)
            if rec is None:
                self.fail[name] = [kind, detail, opcode, opname, events, code]
                return
        rec[4] += events
        if code is not None:
            rec[5] = code
        if kind != "background" and _RANK.get(rec[0], 2) < _RANK.get(kind, 2):
            rec[0:4] = [kind, detail, opcode, opname]

    def _crash(self, signature: str, events: int = 1) -> None:
        signature = _HEX.sub("0x…", signature.strip())[:300]
        if signature in self.crashes or len(self.crashes) < 10_000:
            self.crashes[signature] += events

    def _hir(self, name: str, value: int) -> None:
        if name in self.hir or len(self.hir) < MAX_NAMES:
            self.hir[name] = value


class Scanner:
    """Feed bytes in any pieces; ``result()`` gives the ProcessLog. Pure: no I/O."""

    def __init__(self, source: str = "<bytes>", *, chunk_size: int = CHUNK_SIZE) -> None:
        self.source = source
        self.chunk_size = chunk_size
        self.state = _State()
        self._carry = b""
        self._skipping = False  # inside an overlong line: drop bytes up to the next newline
        self._first = True
        # Order-dependent context, kept across chunks in the slow path.
        self._dump = False
        self._abort: str | None = None
        self._stats: list[str] | None = None
        self._stats_size = 0

    # -- input ----------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if not data:
            return
        st = self.state
        st.bytes += len(data)
        if self._first:
            self._first = False
            st.crlf = b"\r\n" in data[:65536]
        start = 0
        if self._skipping:
            nl = data.find(b"\n")
            if nl < 0:
                return
            self._skipping = False
            start = nl + 1
        last = data.rfind(b"\n", start)
        if last < 0:
            self._hold(data[start:] if start else data)
            return
        if self._carry:
            first = data.index(b"\n", start) + 1
            self._scan(self._carry + data[start:first], 0, len(self._carry) + first - start)
            self._carry = b""
            start = first
        pos = start
        while pos <= last:
            end = min(last + 1, pos + self.chunk_size)
            if end <= last:
                end = data.rfind(b"\n", pos, end) + 1 or data.index(b"\n", end) + 1
            self._scan(data, pos, end)
            pos = end
        if last + 1 < len(data):
            self._hold(data[last + 1 :])

    def _hold(self, tail: bytes) -> None:
        self._carry += tail
        if len(self._carry) > MAX_LINE:
            # A "line" this long is not a log line; count it once and drop it (bounded memory).
            self.state.overlong += 1
            self.state.lines += 1
            self.state.unrecognised += 1
            self._carry = b""
            self._skipping = True

    def result(self, *, pid: int | None = None, group: str = "", role: str = "single") -> ProcessLog:
        self.flush()
        return _build(self.state, self.source, pid, group, role)

    def flush(self) -> None:
        """End of input: the last line may lack its newline (a truncated write)."""
        if self._carry:
            self.state.truncated = True
            self._slow(self._carry + b"\n", 0, len(self._carry) + 1)
            self._carry = b""
        self._close_stats()

    # -- chunk scanning -------------------------------------------------------------------------
    def _scan(self, buf: bytes, start: int, end: int) -> None:
        """Lines in buf[start:end] (ends with a newline): two regex passes and a few counts."""
        if self._dump or self._abort is not None or self._stats is not None:
            self._slow(buf, start, end)
            return
        count = buf.count
        lines = count(b"\n", start, end)
        starts = count(_START, start, end)
        inlines = count(_INLINE, start, end)
        fin = _FIN.findall(buf, start, end)
        other = _OTHER.findall(buf, start, end)
        # Every line must be exactly one of: finish, start, inlining, rare message. Otherwise the
        # chunk holds something else (stderr, a dump, odd spellings) and is read line by line.
        if len(fin) + len(other) + starts + inlines != lines:
            self._slow(buf, start, end)
            return
        messages = Counter(other)
        if any(m.startswith(_ORDERED) for m in messages):
            self._slow(buf, start, end)
            return
        st = self.state
        st.lines += lines
        st.jit_lines += lines
        st.inlines += inlines
        if count(_BATCH_TAIL, start, end):
            for _name, callees in _BATCH_LINES.findall(buf, start, end):
                starts -= 1
                st.batches += 1
                st.batch_callees += int(callees)
        st.anon_starts += starts
        # C-level passes for the count and the last size (zip reuses its pair tuple); one plain
        # loop for the summed µs (measured: faster than map/deque compositions or defaultdict).
        st.fin_n.update(map(_FIRST, fin))
        st.fin_size.update(zip(map(_FIRST, fin), map(_SIZE, fin), strict=True))
        acc = st.fin_us
        get = acc.get
        for name, us, _size in fin:
            acc[name] = get(name, 0) + int(us)
        if len(st.fin_n) > MAX_NAMES:
            st.cap()
        for msg, k in messages.items():
            self._message(msg, k, None)
        # Distinct messages were applied in order of first appearance, which is what "first
        # reason wins" needs; "last value wins" (thresholds, result codes, stats) needs the order
        # of last appearance, so those few are applied once more in that order, with no count.
        if len(messages) > 1 and any(m.startswith(_LAST_WINS) for m in messages):
            for msg in reversed(dict.fromkeys(reversed(other))):
                if msg.startswith(_LAST_WINS):
                    self._message(msg, 0, None)

    def _slow(self, buf: bytes, start: int, end: int) -> None:
        """Line by line, in order: transcripts, dumps, aborts, garbage."""
        st = self.state
        block = buf[start:end]
        st.nul += block.count(b"\x00")
        lines = block.split(b"\n")
        lines.pop()  # the empty piece after the final newline
        st.lines += len(lines)
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            dash = line.find(b" -- ")
            jit = line.find(b"JIT: ") if dash > 0 else -1
            if 0 <= jit < dash:
                self._close_stats()
                self._dump = False
                if self._abort is not None:
                    st._crash(self._abort)
                    self._abort = None
                st.jit_lines += 1
                self._message(line[dash + 4 :], 1, line[jit + 5 : dash])
            elif not line.strip():
                st.blank += 1
            elif self._stats is not None:
                self._stats_line(line)
            elif self._dump:
                st.dump_lines += 1
            elif self._abort is not None:
                text = _text(st, line, 1).strip()
                self._unhandled(text, 1)
                st._crash(f"{self._abort}: {text}")
                self._abort = None
            else:
                self._console(line)

    # -- messages -------------------------------------------------------------------------------
    def _message(self, msg: bytes, k: int, loc: bytes | None) -> None:
        st = self.state
        if msg.startswith(b"Compiling "):
            batch = _BATCH.match(msg)
            if batch:
                st.batches += k
                st.batch_callees += k * int(batch.group(2))
            else:
                st.starts[msg[10:].rstrip()] += k
                if len(st.starts) > MAX_NAMES:
                    st.cap()
            return
        if msg.startswith(b"Finished compiling "):
            m = _FIN_SLOW.match(msg)
            if m:
                st._finish(m.group(1), k, int(m.group(2) or 0) * k, int(m.group(3) or 0))
            else:
                st.unrecognised += k
            return
        if msg.startswith(b"Inlining function "):
            st.inlines += k
            return
        if msg.startswith(_DUMP_HEADERS):
            self._dump = loc is not None
            return
        text = _text(st, msg, k).rstrip()
        if not self._rare(text, k, loc):
            st.unrecognised += k

    def _rare(self, text: str, k: int, loc: bytes | None) -> bool:
        """Handle one distinct rare message; False if it is not a known JIT message."""
        st = self.state
        if text.startswith(_QUIET):  # the most frequent rare messages: no regex needed
            return True
        where = _location(loc)
        if text.startswith("Cannot compile "):
            st.start_failures += k
            if m := _OPCODE.match(text):
                st._fail(m[1], "unsupported-opcode", m[3], int(m[2]), m[3], k)
            elif m := _BANNED.match(text):
                st._fail(m[1], "banned-global", m[2], events=k)
            elif m := _CANNOT_HIR.match(text):
                st._fail(m[1], "hir", m[2], events=k)
            elif m := _CANNOT.match(text):
                st._fail(m[1], "cannot", m[2], events=k)
            else:
                return False
        elif text.startswith("Can't compile "):
            if m := _FLAGS.match(text):
                st._fail(m[1], "code-flags", m[2], events=k)
            elif m := _CANT.match(text):
                st._fail(m[1], "cannot", m[2], events=k)
            else:
                return False
        elif m := _PROHIBITED.match(text):
            st._fail(m[1], "prohibited-flags", m[2], events=k)
        elif m := _BACKGROUND.match(text):
            st._fail(m[2], "background", m[1], events=k, code=int(m[1]))
        elif m := _REFUSED.match(text):
            st._fail(m[1], "refused", _HEX.sub("0x…", m[2])[:120], events=k)
        elif m := _NATIVE.match(text):
            st.start_failures += k
            st._fail(m[1], "native-codegen", events=k)
        elif m := _THRESH_BC.match(text):
            st.bytecodes = int(m[1])
        elif m := _THRESH_CALLS.match(text):
            st.calls = int(m[1])
        elif m := _TOTAL.match(text):
            st.total_ms = (st.total_ms or 0.0) + _to_ms(float(m[1]), m[2] or "ms") * k
            st.exits += k
        elif m := _STATS.match(text):
            st._hir(m[1], _instructions(m[2]))
        elif text.startswith("JIT runtime stats"):
            rest = text.split(":", 1)[1].strip() if ":" in text else ""
            self._stats = []
            self._stats_size = 0
            if rest:
                self._stats_line(rest.encode())
        elif text.startswith("Abort"):
            detail = text[5:].lstrip(": ").strip()
            self._unhandled(detail, k)
            head = f"JIT abort at {where}" if where else "JIT abort"
            if detail:
                st._crash(f"{head}: {detail}", k)
            elif loc is not None:
                self._abort = head  # the message follows on the next line(s)
            else:
                st._crash(head, k)
        elif text.startswith("Assertion failed"):
            cond = text[len("Assertion failed") :].lstrip(": ").strip()
            st._crash(f"assertion failed at {where}: {cond}" if where else f"assertion failed: {cond}", k)
        elif text.startswith(("Unhandled ", "Unsupported operand type")):
            self._unhandled(text, k)
            st._crash(f"abort: {text}", k)
        elif m := _EXCEPTION.match(text):
            st.start_failures += k
            name = _EXC_NAME.search(text)
            st._fail(name[1] if name else "<unknown>", "exception", _HEX.sub("0x…", text)[:160], events=k)
        elif m := _FLAG_SET.match(text):
            st.flags.add(m[1])
        elif m := _THREAD.match(text):
            st.threads.add(m[1])
        else:
            return False
        return True

    def _unhandled(self, text: str, k: int) -> None:
        m = _UNHANDLED.search(text)
        if m and m[3]:
            self.state._fail(m[3], "unhandled-opcode", m[2], int(m[1]), m[2], k)

    def _console(self, line: bytes) -> None:
        st = self.state
        text = _text(st, line, 1).strip()
        m = _EXIT.search(text)
        if m:
            code = int(m[1])
            sig = _SIGNALS.get(code)
            if sig:
                st._crash(f"worker exit {sig} ({code})")
                return
        for pattern, template in _CONSOLE:
            found = pattern.search(text)
            if found:
                self._unhandled(text, 1)
                st._crash(template.format(*found.groups()))
                return
        st.unrecognised += 1

    # -- runtime stats (PYTHONJITDUMPSTATS): a Python literal after the header line --------------
    def _stats_line(self, line: bytes) -> None:
        if self._stats is None:
            return
        self._stats_size += len(line)
        if self._stats_size > _MAX_STATS_TEXT:
            self.state.notes.append("JIT runtime stats too large to read; skipped")
            self._stats = None
            self._dump = True  # count the rest of the block as dump lines
            return
        self._stats.append(_text(self.state, line, 1))
        self.state.dump_lines += 1

    def _close_stats(self) -> None:
        if self._stats is None:
            return
        text = "\n".join(self._stats)
        self._stats = None
        if not text.strip():
            return
        try:
            data = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            self.state.notes.append("JIT runtime stats could not be read")
            return
        for name, reason, desc, count in _deopt_rows(data):
            key = (name, reason, desc)
            if key in self.state.deopts or len(self.state.deopts) < MAX_NAMES:
                self.state.deopts[key] += count


def _text(st: _State, raw: bytes, k: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        st.invalid_utf8 += k
        return raw.decode("utf-8", errors="replace")


def _location(loc: bytes | None) -> str:
    """``/root/work/cinderx-main/cinderx/Jit/x.cpp:12`` and ``cinderx/Jit/x.cpp:12`` -> ``Jit/x.cpp:12``."""
    if not loc:
        return ""
    text = loc.decode("utf-8", errors="replace")
    cut = text.rfind("cinderx/")
    return text[cut + 8 :] if cut >= 0 else text.rsplit("/", 1)[-1]


def _to_ms(value: float, unit: str) -> float:
    return {"s": value * 1000.0, "µs": value / 1000.0, "us": value / 1000.0}.get(unit, value)


def _instructions(text: str) -> int:
    """Size of a ``Stats for X: {json}`` record: its instruction count (summed if per-opcode)."""
    try:
        data = json.loads(text)
    except ValueError:
        return 0
    value = data.get("instructions", data) if isinstance(data, dict) else data
    if isinstance(value, dict):
        return sum(v for v in value.values() if isinstance(v, int))
    if isinstance(value, list):
        return len(value)
    return value if isinstance(value, int) else 0


def _deopt_rows(data: Any) -> Iterable[tuple[str, str, str, int]]:
    """Rows of ``{'deopt': [{'normal': {func_qualname, reason, description}, 'int': {count}}]}``."""
    entries = data.get("deopt", []) if isinstance(data, dict) else []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        normal = entry.get("normal", entry)
        ints = entry.get("int", entry)
        if not isinstance(normal, dict) or not isinstance(ints, dict):
            continue
        count = ints.get("count", 1)
        yield (
            str(normal.get("func_qualname", "?")),
            str(normal.get("reason", "?")),
            str(normal.get("description", "")),
            count if isinstance(count, int) else 1,
        )


def _build(st: _State, source: str, pid: int | None, group: str, role: str) -> ProcessLog:
    invalid = st.invalid_utf8

    def name(raw: bytes) -> str:
        nonlocal invalid
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            invalid += 1
            return raw.decode("utf-8", errors="replace")

    functions = tuple(
        sorted(
            (FunctionStats(name(k), n, int(st.fin_size.get(k, 0)), st.fin_us.get(k, 0)) for k, n in st.fin_n.items()),
            key=lambda f: f.name,
        )
    )
    finished = {f.name: f.compiles for f in functions}
    fail = {n: list(r) for n, r in st.fail.items()}
    unexplained = st.unexplained_starts
    if st.anon_starts and unexplained > 0:
        # Names of plain starts were only counted and no second pass was possible.
        fail.setdefault("<unnamed>", ["unmatched", "", None, None, unexplained, None])
    elif not st.anon_starts:
        for raw, started in st.starts.items():
            fname = name(raw)
            missing = started - finished.get(fname, 0)
            if missing > 0 and fname not in fail:
                fail[fname] = ["unmatched", "", None, None, missing, None]
    failures = tuple(Failure(n, r[0], r[1], r[2], r[3], r[4], r[5]) for n, r in sorted(fail.items()))
    notes = list(st.notes)
    if st.bytes == 0:
        notes.append("empty file")
    elif st.jit_lines == 0:
        notes.append("not a CinderX JIT log (no 'JIT: <file>:<line> -- ' lines)")
    if st.nul:
        notes.append(f"binary data ({st.nul} NUL bytes)")
    if invalid:
        notes.append(f"{invalid} lines are not valid UTF-8 (shown with U+FFFD)")
    if st.truncated:
        notes.append("last line has no newline (truncated write?)")
    if st.overlong:
        notes.append(f"{st.overlong} lines longer than {MAX_LINE >> 20} MiB skipped")
    if st.exits > 1:
        notes.append(f"{st.exits} JIT shutdowns in one file: several processes wrote it (use {{pid}} in the log path)")
    return ProcessLog(
        source=source,
        pid=pid,
        group=group,
        role=role,
        bytes_read=st.bytes,
        lines=st.lines,
        unrecognised=st.unrecognised,
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
        notes=tuple(notes),
    )


# ============================================================================ files ============
def scan_bytes(data: bytes, source: str = "<bytes>", *, pid: int | None = None, group: str = "") -> ProcessLog:
    scanner = Scanner(source)
    scanner.feed(data)
    scanner.flush()
    if _needs_names(scanner.state):
        _set_start_names(scanner.state, _start_names([data]))
    return _build(scanner.state, source, pid, group, "single")


def _needs_names(st: _State) -> bool:
    return st.anon_starts > 0 and st.unexplained_starts != 0


def _start_names(blocks: Iterable[bytes]) -> Counter[bytes]:
    """Second pass, only when starts and finishes do not pair up: every started name."""
    names: Counter[bytes] = Counter()
    carry = b""
    for block in blocks:
        data = carry + block if carry else block
        cut = data.rfind(b"\n") + 1
        names.update(_START_NAMES.findall(data, 0, cut))
        carry = data[cut:] if len(data) - cut <= MAX_LINE else b""
        _fold(names)
    names.update(_START_NAMES.findall(carry))
    return names


def _fold(table: Counter[bytes]) -> None:
    """Fold names beyond MAX_NAMES into one bucket, so memory stays bounded."""
    if len(table) > MAX_NAMES:
        for key in [k for k in itertools.islice(table, MAX_NAMES, None) if k != _OVERFLOW]:
            table[_OVERFLOW] += table.pop(key)


def _set_start_names(st: _State, names: Counter[bytes]) -> None:
    starts: Counter[bytes] = Counter()
    for raw, n in names.items():
        if not _BATCH.match(b"Compiling " + raw):
            starts[raw.rstrip()] += n
    st.starts = starts
    st.anon_starts = 0


def _file_blocks(path: Path, chunk_size: int) -> Iterable[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(chunk_size):
            yield block


def log_identity(path: Path) -> tuple[str, int | None]:
    """(group, pid) from a per-process log name: ``jit_1234.log`` -> ("jit", 1234)."""
    m = _PID_NAME.match(path.name)
    if m and m["stem"]:
        return m["stem"], int(m["pid"])
    return path.stem or path.name, None


def read_log(
    path: Path, *, jobs: int | None = None, chunk_size: int = CHUNK_SIZE, group: str | None = None
) -> ProcessLog:
    """Stream one file through the scanner; big files are split between ``jobs`` processes."""
    stem, pid = log_identity(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise UsageError(f"{path} is a directory, not a log file")
        with path.open("rb") as probe:
            probe.read(1)
    except UsageError:
        raise
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if jobs is None:
        jobs = _default_jobs()
    state: _State | None = None
    if jobs > 1 and size >= PARALLEL_MIN:
        state = _parallel(path, size, jobs, chunk_size)
    if state is None:
        scanner = Scanner(str(path), chunk_size=chunk_size)
        try:
            with path.open("rb") as handle:
                while block := handle.read(chunk_size):
                    scanner.feed(block)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
        scanner.flush()
        state = scanner.state
    if _needs_names(state):
        try:
            _set_start_names(state, _start_names(_file_blocks(path, chunk_size)))
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _build(state, str(path), pid, group if group is not None else stem, "single")


def _default_jobs() -> int:
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except AttributeError:  # not on Linux
        return max(1, min(4, os.cpu_count() or 1))


def _scan_range(path: str, start: int, end: int, chunk_size: int) -> _State:
    """One worker's share of a file: the lines between two newline-aligned offsets."""
    scanner = Scanner(path, chunk_size=chunk_size)
    with Path(path).open("rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            block = handle.read(min(chunk_size, left))
            if not block:
                break
            left -= len(block)
            scanner.feed(block)
    scanner.flush()
    return scanner.state


def _boundaries(path: Path, size: int, jobs: int) -> list[int]:
    """Split offsets just after a newline, so no line is cut between two workers."""
    cuts = [0]
    with path.open("rb") as handle:
        for i in range(1, jobs):
            pos = max(size * i // jobs, cuts[-1])
            handle.seek(pos)
            while True:
                block = handle.read(1 << 16)
                if not block:
                    pos = size
                    break
                nl = block.find(b"\n")
                if nl >= 0:
                    pos += nl + 1
                    break
                pos += len(block)
            cuts.append(pos)
    cuts.append(size)
    return cuts


def _parallel(path: Path, size: int, jobs: int, chunk_size: int) -> _State | None:
    """Scan byte ranges in worker processes and add them up; None if processes are unavailable.

    The calling process scans the first range itself while ``jobs - 1`` workers scan the others,
    so ``jobs`` CPUs are busy and no process sits waiting. Workers are forked (no re-import) and
    send back only their tallies, so the merge costs a few milliseconds.
    """
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing.context import BaseContext

    cuts = _boundaries(path, size, jobs)
    ranges = [(a, b) for a, b in itertools.pairwise(cuts) if b > a]
    if len(ranges) < 2:
        return None
    context: BaseContext
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform: the default start method re-imports the module
        context = multiprocessing.get_context()
    try:
        with ProcessPoolExecutor(max_workers=len(ranges) - 1, mp_context=context) as pool:
            futures: list[Future[_State]] = [
                pool.submit(_scan_range, str(path), a, b, chunk_size) for a, b in ranges[1:]
            ]
            total = _scan_range(str(path), *ranges[0], chunk_size)
            parts = [f.result() for f in futures]
    except (OSError, BrokenProcessPool, NotImplementedError, PermissionError):
        return None
    for part in parts:
        total.merge(part)
    # Only the last range can end without a newline; an inner "truncated" flag cannot happen.
    total.truncated = parts[-1].truncated
    return total


# ============================================================================ sets ==============
def assign_roles(logs: Sequence[ProcessLog]) -> list[ProcessLog]:
    """Tell pyperf's parent and calibration processes from workers, per group of pid logs.

    pyperf's parent starts first (lowest pid) and runs no benchmark loop, so it compiles little;
    its first child calibrates the loop count. A lowest-pid log with fewer than half the median
    compiles of the others is the parent; the next pid is then the calibration run. Logs without
    a pid (or groups too small to judge) keep the role "single"/"process".
    """
    out: list[ProcessLog] = []
    groups: dict[str, list[ProcessLog]] = {}
    for log in logs:
        groups.setdefault(log.group, []).append(log)
    roles: dict[int, str] = {}
    for members in groups.values():
        with_pid = sorted((m for m in members if m.pid is not None), key=lambda m: m.pid or 0)
        if len(with_pid) < 3:
            for m in with_pid:
                roles[id(m)] = "process"
            continue
        first, rest = with_pid[0], with_pid[1:]
        use_main = any(m.compiled_main for m in rest)

        def key(m: ProcessLog, use_main: bool = use_main) -> int:
            return m.compiled_main if use_main else m.compiled

        median = statistics.median(key(m) for m in rest)
        if median > 0 and key(first) < median / 2:
            roles[id(first)] = "parent"
            roles[id(rest[0])] = "calibration"
            for m in rest[1:]:
                roles[id(m)] = "worker"
        else:
            for m in with_pid:
                roles[id(m)] = "worker"
    for log in logs:
        role = roles.get(id(log), "single" if log.pid is None else "process")
        out.append(log.with_role(role))
    return out


@dataclass(frozen=True)
class FunctionSummary:
    name: str
    processes: int  # processes that compiled it
    compiles: int
    code_size: int  # largest size seen in any process
    min_code_size: int
    compile_us: int  # summed over all compiles

    @property
    def main(self) -> bool:
        return self.name.startswith("__main__:")

    @property
    def mean_us(self) -> int:
        return self.compile_us // self.compiles if self.compiles else 0


@dataclass(frozen=True)
class FailureSummary:
    function: str
    kind: str
    detail: str
    opcode: int | None
    opcode_name: str | None
    processes: int
    events: int

    @property
    def reason(self) -> str:
        return failure_reason(self.kind, self.detail, self.opcode, self.opcode_name)


@dataclass(frozen=True)
class Aggregate:
    """A set of logs (one mode, one run, or any files) added up; ``count`` fields = processes."""

    label: str
    logs: tuple[ProcessLog, ...]
    functions: tuple[FunctionSummary, ...]
    failures: tuple[FailureSummary, ...]
    crashes: tuple[tuple[str, int, int], ...]  # signature, processes, events
    thresholds: Thresholds
    threshold_values: tuple[tuple[str, tuple[int, ...]], ...] = field(default=())
    deopts: tuple[Deopt, ...] = ()

    @property
    def processes(self) -> tuple[ProcessLog, ...]:
        """Logs of JIT processes (console transcripts excluded)."""
        return tuple(log for log in self.logs if log.role != "console")

    @property
    def compiled(self) -> int:
        return sum(log.compiled for log in self.processes)

    @property
    def compiled_main(self) -> int:
        return sum(log.compiled_main for log in self.processes)

    @property
    def failed(self) -> int:
        return sum(log.failed for log in self.processes)

    @property
    def unrecognised(self) -> int:
        return sum(log.unrecognised for log in self.processes)

    @property
    def total_code_size(self) -> int:
        return sum(f.code_size for f in self.functions)


def aggregate(logs: Sequence[ProcessLog], label: str = "all") -> Aggregate:
    funcs: dict[str, list[int]] = {}
    fails: dict[tuple[str, str, str, int | None, str | None], list[int]] = {}
    crashes: dict[str, list[int]] = {}
    deopts: Counter[tuple[str, str, str]] = Counter()
    calls: Counter[int] = Counter()
    bytecodes: Counter[int] = Counter()
    for log in logs:
        for f in log.functions:
            rec = funcs.setdefault(f.name, [0, 0, 0, f.code_size, 0])
            rec[0] += 1
            rec[1] += f.compiles
            rec[2] = max(rec[2], f.code_size)
            rec[3] = min(rec[3], f.code_size)
            rec[4] += f.compile_us
        for x in log.failures:
            frec = fails.setdefault((x.function, x.kind, x.detail, x.opcode, x.opcode_name), [0, 0])
            frec[0] += 1
            frec[1] += x.events
        for c in log.crashes:
            crec = crashes.setdefault(c.signature, [0, 0])
            crec[0] += 1
            crec[1] += c.events
        for d in log.deopts:
            deopts[(d.function, d.reason, d.description)] += d.count
        if log.role != "console":
            if log.thresholds.calls is not None:
                calls[log.thresholds.calls] += 1
            if log.thresholds.bytecodes is not None:
                bytecodes[log.thresholds.bytecodes] += 1
    return Aggregate(
        label=label,
        logs=tuple(logs),
        functions=tuple(FunctionSummary(n, *r) for n, r in sorted(funcs.items())),
        failures=tuple(FailureSummary(*key, *r) for key, r in sorted(fails.items(), key=_fail_key)),
        crashes=tuple((s, r[0], r[1]) for s, r in sorted(crashes.items(), key=lambda i: (-i[1][0], i[0]))),
        # The value most processes logged; disagreements stay visible in threshold_values.
        thresholds=Thresholds(
            calls.most_common(1)[0][0] if calls else None,
            bytecodes.most_common(1)[0][0] if bytecodes else None,
        ),
        threshold_values=(("calls", tuple(sorted(calls))), ("bytecodes", tuple(sorted(bytecodes)))),
        deopts=tuple(Deopt(f, r, d, n) for (f, r, d), n in deopts.most_common()),
    )


def _fail_key(item: tuple[tuple[str, str, str, int | None, str | None], list[int]]) -> tuple[Any, ...]:
    (function, kind, detail, _op, _name), (processes, _events) = item
    return (-processes, kind, detail, function)
