"""CinderX JIT logs: streaming parser, typed per-process views and per-set aggregates.

Both log dialects are read: the fork's (``JIT: /abs/path/cinderx/Jit/compiler.cpp:246 -- ...``)
and the 2026.11 release's (``JIT: cinderx/Jit/compiler.cpp:329 -- ... (code: 0x...)``), see
cinderx-workflow.md §3 and cinderx-2026.11-logs.md. Console transcripts (stderr of pyperf or
pyperformance) are read by the same scanner: aborts, failed asserts, dying benchmarks and worker
exit signals become crash signatures.

Why it is shaped like this: logs can be gigabytes, and a per-line Python loop is too slow. Bytes
are scanned in large chunks with a few C-level passes: one regex pulls every
``Finished compiling`` line, one pulls every other ``" -- "`` message except compile starts (only
counted with ``bytes.count``), and messages are deduplicated with a Counter before any Python
code looks at them (inlinings included: a caller's callees cost one entry per distinct line).
A chunk whose line count does not add up (lines without ``" -- "``: stderr, dumps, garbage) or
that holds an order-dependent message (an abort and its
text, runtime stats) is re-read line by line. Starts are paired with finishes and failures by
count; only when the counts disagree is the file read a second time for the started names. So the
order inside a chunk, and the way a file is split, does not matter; the few messages where the
last one wins (thresholds, result codes, stats) are re-applied in order of last appearance. Files
of ``PARALLEL_MIN`` bytes or more are cut at newlines into one range per CPU: the calling process
scans one range, forked workers the others, and the tallies are added. Memory is bounded: a
line longer than ``MAX_LINE`` is skipped, and per-name tables stop growing at ``MAX_NAMES``.

Modules, in the order data flows through them:

- ``formats``: the JIT's own format strings, read from its C++ source (a shipped table of
  released versions, or a tree at mine time): they recognise lines and group failures
- ``limits``: the bounds above (read at call time, so lowering one reaches every reader)
- ``patterns``: how lines and messages are told apart
- ``records``: the frozen per-process records (ProcessLog and its parts)
- ``tallies``: the mutable counts one scan adds to, and their conversion to a ProcessLog
- ``runtime_stats``: the JSON and Python-literal payloads some messages carry
- ``scanner``: the streaming scanner (bytes in any pieces -> tallies)
- ``start_names``: the second pass, when compile starts do not pair up with finishes
- ``parallel``: one big file scanned by several processes
- ``files``: ``scan_bytes`` and ``read_log``, the entry points
- ``roles``: parent, calibration and worker among a run's per-pid logs
- ``summaries``: a set of logs added up (``aggregate``)
"""

from armjit.jitlog.files import log_identity, read_log, scan_bytes
from armjit.jitlog.formats import FormatTable, LogFormat, shipped_table
from armjit.jitlog.limits import CHUNK_SIZE, MAX_LINE, MAX_NAMES, OVERFLOW_NAME
from armjit.jitlog.records import Crash, Deopt, Failure, FunctionStats, ProcessLog, Thresholds
from armjit.jitlog.roles import assign_roles
from armjit.jitlog.scanner import Scanner
from armjit.jitlog.summaries import Aggregate, FailureSummary, FunctionSummary, InlineSummary, aggregate

__all__ = [
    "CHUNK_SIZE",
    "MAX_LINE",
    "MAX_NAMES",
    "OVERFLOW_NAME",
    "Aggregate",
    "Crash",
    "Deopt",
    "Failure",
    "FailureSummary",
    "FormatTable",
    "FunctionStats",
    "FunctionSummary",
    "InlineSummary",
    "LogFormat",
    "ProcessLog",
    "Scanner",
    "Thresholds",
    "aggregate",
    "assign_roles",
    "log_identity",
    "read_log",
    "scan_bytes",
    "shipped_table",
]
