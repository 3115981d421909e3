"""Mining JIT logs: collect a run's (or any) logs, add them up per mode, find candidates, diff two sets.

``collect`` (inputs.py) is the only part that looks at the disk (through armjit.seams.store and
jitlog.read_log); everything after it is pure: data in, frozen records out. The tables made from
these records live in armjit.render.mine_tables.
"""

from armjit.analysis.mine.attribution import UNKNOWN_BENCH, assign_benchmarks, mark_deaths
from armjit.analysis.mine.candidates import Candidate, candidates, source_area
from armjit.analysis.mine.inputs import LOG_SUFFIXES, LogInput, collect
from armjit.analysis.mine.report import MineReport, by_size, mine, report_json, unsupported_opcodes
from armjit.analysis.mine.sizediff import FunctionDiff, SizeDiff, diff, diff_json, pct_change

__all__ = [
    "LOG_SUFFIXES",
    "UNKNOWN_BENCH",
    "Candidate",
    "FunctionDiff",
    "LogInput",
    "MineReport",
    "SizeDiff",
    "assign_benchmarks",
    "by_size",
    "candidates",
    "collect",
    "diff",
    "diff_json",
    "mark_deaths",
    "mine",
    "pct_change",
    "report_json",
    "source_area",
    "unsupported_opcodes",
]
