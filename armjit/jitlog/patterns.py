"""How lines are told apart: byte patterns for whole chunks, text patterns for distinct messages.

The chunk patterns and the scanner's line count go together: every JIT line is exactly one of a
finish (``FIN``), a start (``START``) or another message (``OTHER``, inlinings included), and a
chunk where those do not add up is read line by line (see scanner.py).
"""

from __future__ import annotations

import re

__all__ = [
    "BACKGROUND",
    "BANNED",
    "BATCH",
    "BATCH_LINES",
    "BATCH_TAIL",
    "CANNOT",
    "CANNOT_HIR",
    "CANT",
    "CONSOLE",
    "DUMP_HEADERS",
    "EXCEPTION",
    "EXC_NAME",
    "EXIT",
    "FIN",
    "FIN_SLOW",
    "FLAGS",
    "FLAG_SET",
    "HEX",
    "INLINE",
    "INLINE_SLOW",
    "LAST_WINS",
    "NATIVE",
    "OPCODE",
    "ORDERED",
    "OTHER",
    "PID_NAME",
    "PROHIBITED",
    "QUIET",
    "REFUSED",
    "SIGNALS",
    "START",
    "START_NAMES",
    "STATS",
    "THREAD",
    "THRESH_BC",
    "THRESH_CALLS",
    "TOTAL",
    "UNHANDLED",
]

# --- fast-path patterns (bytes, whole chunks) -------------------------------------------------
# Measured on CPU time: each regex pass over a chunk costs about 1 ms/MB, a bytes.count about
# 0.3 ms/MB, so only two regex passes are made. Names may hold spaces ("__main__:<generic
# parameters of f>"): the lazy tail costs nothing for a space-free name.
FIN = re.compile(rb"Finished compiling (\S+(?: \S+)*?) in (\d+)\xc2\xb5s, code size: (\d+) bytes")
# Other messages: everything after " -- " but finishes and starts (counted instead). Inlinings
# are among them: deduplicated by the Counter, their (callee, caller) pairs cost one dict entry.
OTHER = re.compile(rb" -- (?!Fin|Com)([^\r\n]*)")
INLINE = b" -- Inlining function "
INLINE_SLOW = re.compile(rb"^Inlining function (.+?) into (.+?)\s*$")
START = b" -- Compiling "
BATCH_TAIL = b" functions it calls"
BATCH_LINES = re.compile(rb" -- Compiling (.+) along with (\d+) functions it calls")
START_NAMES = re.compile(rb" -- Compiling ([^\r\n]*)")
ORDERED = (b"Abort", b"Assertion failed", b"JIT runtime stats", b"Unhandled ", b"Unsupported operand")
# Messages whose last occurrence decides a value (see scanner.Scanner._scan).
LAST_WINS = (b"Configuring JIT", b"Background compile failed", b"Stats for ")
DUMP_HEADERS = (
    b"Initial HIR for ",
    b"HIR for ",
    b"Optimized HIR for ",
    b"LIR for ",
    b"Disassembly for ",
)


# --- message patterns (str, applied to distinct messages only) --------------------------------
FIN_SLOW = re.compile(
    rb"^Finished compiling (.+?)(?: in (\d+)(?:\xc2\xb5|\xb5|u)s)?(?:, code size: (\d+) bytes)?"
    rb"(?: \(code: 0x[0-9A-Fa-f]+\))?\s*$"
)
BATCH = re.compile(rb"^Compiling (.+) along with (\d+) functions it calls\s*$")
OPCODE = re.compile(r"^Cannot compile (.+?) to HIR because it contains unsupported opcode (\d+) \((\w+)\)")
BANNED = re.compile(r"^Cannot compile (.+?) to HIR because it uses banned global '([^']*)'")
CANNOT_HIR = re.compile(r"^Cannot compile (.+?) to HIR because (.+)$")
CANNOT = re.compile(r"^Cannot compile (\S+)[: ]+(.*)$")
FLAGS = re.compile(r"^Can't compile (.+?) with flags (0x[0-9A-Fa-f]+)")
CANT = re.compile(r"^Can't compile (.+?) (?:as it |due to )(.+)$")
PROHIBITED = re.compile(r"^Cannot JIT compile (.+?) as it has prohibited code flags: (0x[0-9A-Fa-f]+)")
BACKGROUND = re.compile(r"^Background compile failed: (-?\d+) for (.+)$")
REFUSED = re.compile(r"^Refusing to compile (.+?): (.+)$")
NATIVE = re.compile(r"^Generating native code for (.+) failed")
EXCEPTION = re.compile(r"^Failed to (.+)$")
EXC_NAME = re.compile(r"\bfor '?([\w.<>]+:[\w.<>]+)'?")
UNHANDLED = re.compile(r"Unhandled opcode (\d+) \((\w+)\)(?: in (\S+) at offset (\d+))?")
THRESH_CALLS = re.compile(r"^Configuring JIT to compile functions after (\d+) calls")
THRESH_BC = re.compile(r"^Configuring JIT to compile functions after (\d+) interpreted bytecodes")
TOTAL = re.compile(r"^CinderX JIT Total Compilation Time: (\d+(?:\.\d+)?)\s*(ms|s|µs|us)?")
STATS = re.compile(r"^Stats for (.+?): (\{.*\})\s*$")
FLAG_SET = re.compile(r"^((?:CINDERX_JIT|PYTHONJIT)\w*) has been specified")
THREAD = re.compile(r"^Naming thread \d+ as (\S+)")
HEX = re.compile(r"0x[0-9A-Fa-f]+")
QUIET = (
    "Successfully patched ",
    "Background compile worker thread exiting",
    "Patching DeoptPatchPoint",
    "Unpatching DeoptPatchPoint",
    "Couldn't open log file",
)


# --- console (stderr) crash markers, on lines without the JIT prefix --------------------------
SIGNALS = {
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
EXIT = re.compile(r"(?:exit code|exit status|exited with (?:code|status)|returncode)[:= ]+(-?\d+)", re.I)
CONSOLE: tuple[tuple[re.Pattern[str], str], ...] = (
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

# --- file names of per-process logs: jit_1234.log -> stem "jit", pid 1234 ----------------------
PID_NAME = re.compile(r"^(?P<stem>.*?)[._-](?P<pid>\d+)(?:\.log|\.txt)?$")
