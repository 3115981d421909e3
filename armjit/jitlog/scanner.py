"""The streaming scanner: bytes in any pieces -> Tallies, a few C-level passes per chunk.

A chunk is read with two regex passes and a few ``bytes.count`` calls, and its messages are
deduplicated with a Counter before any Python code looks at them. A chunk whose line count does
not add up (lines without ``" -- "``: stderr, dumps, garbage) or that holds an order-dependent
message (an abort and its text, runtime stats) is re-read line by line (``_slow``). Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from operator import itemgetter

from armjit.jitlog import limits
from armjit.jitlog.patterns import (
    BACKGROUND,
    BANNED,
    BATCH,
    BATCH_LINES,
    BATCH_TAIL,
    CANNOT,
    CANNOT_HIR,
    CANT,
    CONSOLE,
    DUMP_HEADERS,
    EXC_NAME,
    EXCEPTION,
    EXIT,
    FIN,
    FIN_SLOW,
    FLAG_SET,
    FLAGS,
    HEX,
    INLINE_SLOW,
    LAST_WINS,
    NATIVE,
    OPCODE,
    ORDERED,
    OTHER,
    PROHIBITED,
    QUIET,
    REFUSED,
    SIGNALS,
    START,
    STATS,
    THREAD,
    THRESH_BC,
    THRESH_CALLS,
    TOTAL,
    UNHANDLED,
)
from armjit.jitlog.records import ProcessLog
from armjit.jitlog.runtime_stats import add_runtime_stats, instructions
from armjit.jitlog.tallies import Tallies, to_process_log

__all__ = ["Scanner"]

# Fields of a FIN match (name, µs, size), taken by C-level map/zip in Scanner._scan.
_FIRST = itemgetter(0)
_SIZE = itemgetter(2)


class Scanner:
    """Feed bytes in any pieces; ``result()`` gives the ProcessLog. Pure: no I/O."""

    def __init__(self, source: str = "<bytes>", *, chunk_size: int = limits.CHUNK_SIZE) -> None:
        self.source = source
        self.chunk_size = chunk_size
        self.state = Tallies()
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
        if len(self._carry) > limits.MAX_LINE:
            # A "line" this long is not a log line; count it once and drop it (bounded memory).
            self.state.overlong += 1
            self.state.lines += 1
            self.state.unrecognised += 1
            self._carry = b""
            self._skipping = True

    def result(self, *, pid: int | None = None, group: str = "", role: str = "single") -> ProcessLog:
        self.flush()
        return to_process_log(self.state, self.source, pid, group, role)

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
        starts = count(START, start, end)
        fin = FIN.findall(buf, start, end)
        other = OTHER.findall(buf, start, end)
        # Every line must be exactly one of: finish, start, inlining, rare message. Otherwise the
        # chunk holds something else (stderr, a dump, odd spellings) and is read line by line.
        if len(fin) + len(other) + starts != lines:
            self._slow(buf, start, end)
            return
        messages = Counter(other)
        if any(m.startswith(ORDERED) for m in messages):
            self._slow(buf, start, end)
            return
        st = self.state
        st.lines += lines
        st.jit_lines += lines
        if count(BATCH_TAIL, start, end):
            for _name, callees in BATCH_LINES.findall(buf, start, end):
                starts -= 1
                st.batches += 1
                st.batch_callees += int(callees)
        st.anon_starts += starts
        # C-level passes for the count and the (name, size) pairs (zip reuses its pair tuple); one
        # plain loop for the summed µs (measured: faster than map/deque compositions or defaultdict).
        st.fin_n.update(map(_FIRST, fin))
        st.fin_sizes.update(zip(map(_FIRST, fin), map(_SIZE, fin), strict=True))
        acc = st.fin_us
        get = acc.get
        for name, us, _size in fin:
            acc[name] = get(name, 0) + int(us)
        if len(st.fin_n) > limits.MAX_NAMES:
            st.cap()
        for msg, k in messages.items():
            self._message(msg, k, None)
        # Distinct messages were applied in order of first appearance, which is what "first
        # reason wins" needs; "last value wins" (thresholds, result codes, stats) needs the order
        # of last appearance, so those few are applied once more in that order, with no count.
        if len(messages) > 1 and any(m.startswith(LAST_WINS) for m in messages):
            for msg in reversed(dict.fromkeys(reversed(other))):
                if msg.startswith(LAST_WINS):
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
                    st.add_crash(self._abort)
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
                st.add_crash(f"{self._abort}: {text}")
                self._abort = None
            else:
                self._console(line)

    # -- messages -------------------------------------------------------------------------------
    def _message(self, msg: bytes, k: int, loc: bytes | None) -> None:
        st = self.state
        if msg.startswith(b"Compiling "):
            batch = BATCH.match(msg)
            if batch:
                st.batches += k
                st.batch_callees += k * int(batch.group(2))
            else:
                st.starts[msg[10:].rstrip()] += k
                if len(st.starts) > limits.MAX_NAMES:
                    st.cap()
            return
        if msg.startswith(b"Finished compiling "):
            m = FIN_SLOW.match(msg)
            if m:
                st.add_finish(m.group(1), k, int(m.group(2) or 0) * k, int(m.group(3) or 0))
            else:
                st.unrecognised += k
            return
        if msg.startswith(b"Inlining function "):
            st.inlines += k
            m = INLINE_SLOW.match(msg)
            if m and ((m[1], m[2]) in st.inlined or len(st.inlined) < limits.MAX_NAMES):
                st.inlined[(m[1], m[2])] += k
            return
        if msg.startswith(DUMP_HEADERS):
            self._dump = loc is not None
            return
        text = _text(st, msg, k).rstrip()
        if not self._rare(text, k, loc):
            # Kept for the end of the scan: a known format recognises it, and a line naming a
            # function that never finished compiling is that function's reason (tallies.py).
            st.unrecognised += k
            st.add_text(text, k)

    def _rare(self, text: str, k: int, loc: bytes | None) -> bool:
        """Handle one distinct rare message; False if it is not a known JIT message."""
        # One flat if/elif chain on purpose: the order is the matching rule (a "Cannot compile"
        # refusal is tried from the most specific pattern down, first match wins) and it runs
        # once per distinct message, not per line; split up, the order would be hidden.
        st = self.state
        if text.startswith(QUIET):  # the most frequent rare messages: no regex needed
            return True
        where = _location(loc)
        if text.startswith("Cannot compile "):
            st.start_failures += k
            if m := OPCODE.match(text):
                st.add_failure(m[1], "unsupported-opcode", m[3], int(m[2]), m[3], k, message=text)
            elif m := BANNED.match(text):
                st.add_failure(m[1], "banned-global", m[2], events=k, message=text)
            elif m := CANNOT_HIR.match(text):
                st.add_failure(m[1], "hir", m[2], events=k, message=text)
            elif m := CANNOT.match(text):
                st.add_failure(m[1], "cannot", m[2], events=k, message=text)
            else:
                return False
        elif text.startswith("Can't compile "):
            if m := FLAGS.match(text):
                st.add_failure(m[1], "code-flags", m[2], events=k, message=text)
            elif m := CANT.match(text):
                st.add_failure(m[1], "cannot", m[2], events=k, message=text)
            else:
                return False
        elif m := PROHIBITED.match(text):
            st.add_failure(m[1], "prohibited-flags", m[2], events=k, message=text)
        elif m := BACKGROUND.match(text):
            st.add_failure(m[2], "background", m[1], events=k, code=int(m[1]), message=text)
        elif m := REFUSED.match(text):
            st.add_failure(m[1], "refused", HEX.sub("0x…", m[2])[:120], events=k, message=text)
        elif m := NATIVE.match(text):
            st.start_failures += k
            st.add_failure(m[1], "native-codegen", events=k, message=text)
        elif m := THRESH_BC.match(text):
            st.bytecodes = int(m[1])
        elif m := THRESH_CALLS.match(text):
            st.calls = int(m[1])
        elif m := TOTAL.match(text):
            st.total_ms = (st.total_ms or 0.0) + _to_ms(float(m[1]), m[2] or "ms") * k
            st.exits += k
        elif m := STATS.match(text):
            st.add_hir(m[1], instructions(m[2]))
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
                st.add_crash(f"{head}: {detail}", k)
            elif loc is not None:
                self._abort = head  # the message follows on the next line(s)
            else:
                st.add_crash(head, k)
        elif text.startswith("Assertion failed"):
            cond = text[len("Assertion failed") :].lstrip(": ").strip()
            st.add_crash(f"assertion failed at {where}: {cond}" if where else f"assertion failed: {cond}", k)
        elif text.startswith(("Unhandled ", "Unsupported operand type")):
            self._unhandled(text, k)
            st.add_crash(f"abort: {text}", k)
        elif m := EXCEPTION.match(text):
            st.start_failures += k
            name = EXC_NAME.search(text)
            st.add_failure(
                name[1] if name else "<unknown>", "exception", HEX.sub("0x…", text)[:160], events=k, message=text
            )
        elif m := FLAG_SET.match(text):
            st.flags.add(m[1])
        elif m := THREAD.match(text):
            st.threads.add(m[1])
        else:
            return False
        return True

    def _unhandled(self, text: str, k: int) -> None:
        m = UNHANDLED.search(text)
        if m and m[3]:
            self.state.add_failure(m[3], "unhandled-opcode", m[2], int(m[1]), m[2], k)

    def _console(self, line: bytes) -> None:
        st = self.state
        text = _text(st, line, 1).strip()
        m = EXIT.search(text)
        if m:
            code = int(m[1])
            sig = SIGNALS.get(code)
            if sig:
                st.add_crash(f"worker exit {sig} ({code})")
                return
        for pattern, template in CONSOLE:
            found = pattern.search(text)
            if found:
                self._unhandled(text, 1)
                st.add_crash(template.format(*found.groups()))
                return
        st.unrecognised += 1

    # -- runtime stats (PYTHONJITDUMPSTATS): a Python literal after the header line --------------
    def _stats_line(self, line: bytes) -> None:
        if self._stats is None:
            return
        self._stats_size += len(line)
        if self._stats_size > limits.MAX_STATS_TEXT:
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
        add_runtime_stats(self.state, text)


def _text(st: Tallies, raw: bytes, k: int) -> str:
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
