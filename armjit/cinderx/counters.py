"""Commands that count the instructions one benchmark worker retires (pure: shell text and parsing).

The worker runs as ``python BENCH --worker`` so that no runner process is counted and pyperf
spawns nothing: the count is one process's, from start to exit (interpreter start, imports, JIT
compiles, warmups and measured values); ``ab`` subtracts two of them to keep the measured values
only (armjit.flows.ab_blocks). Sources, best first:

- ``perf``: the hardware counter, ``perf stat -x, -e instructions:u`` (full speed; needs a PMU,
  which VMs often lack: perf prints ``<not supported>``);
- ``cachegrind``: ``valgrind --tool=cachegrind --cache-sim=no --smc-check=all-non-file``, a
  simulated count (20-50x slower; ``--smc-check=all-non-file`` makes valgrind notice code the JIT
  writes into anonymous memory, without which JIT-compiled code would run stale translations).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from armjit.analysis.measure import parse_cachegrind, parse_perf_stat

__all__ = [
    "CACHEGRIND",
    "COUNTER_SOURCES",
    "PERF",
    "counter_probe_command",
    "instructions_command",
    "parse_count",
    "pick_source",
]

q = shlex.quote
PERF = "perf stat -x, -e instructions:u --"
CACHEGRIND = "valgrind --tool=cachegrind --cache-sim=no --smc-check=all-non-file --cachegrind-out-file=/dev/null"
COUNTER_SOURCES = ("perf", "cachegrind")


def counter_probe_command() -> str:
    """Which counters the host has: perf's answer for a trivial command, and valgrind's path."""
    return (
        "echo perf-begin; (perf stat -x, -e instructions:u -- true) 2>&1 || echo perf-missing; echo perf-end; "
        "echo valgrind=$(command -v valgrind || true)"
    )


def pick_source(stdout: str) -> tuple[str | None, str]:
    """The source to use from the probe's output, and why (for the run record and the report)."""
    perf_part = stdout.split("perf-begin", 1)[-1].split("perf-end", 1)[0]
    perf_count = parse_perf_stat(perf_part)
    valgrind = ""
    for line in stdout.splitlines():
        if line.startswith("valgrind="):
            valgrind = line.partition("=")[2].strip()
    if perf_count is not None:
        return "perf", "hardware counter (perf stat -e instructions:u)"
    why = "perf: not installed" if "perf-missing" in perf_part or not perf_part.strip() else "perf: <not supported>"
    if valgrind:
        return "cachegrind", f"simulated count (valgrind cachegrind); {why}"
    return None, f"no instruction counter on the host ({why}; valgrind: not installed)"


def instructions_command(
    source: str,
    *,
    python: str,
    bench_file: str,
    env: Mapping[str, str],
    loops: int,
    values: int,
    warmups: int,
) -> str:
    """One worker process under the counter; its count goes to stderr."""
    if source not in COUNTER_SOURCES:
        raise ValueError(f"unknown instruction counter {source!r}")
    if loops < 1:
        raise ValueError("an instruction count needs fixed loops")
    prefix = PERF if source == "perf" else CACHEGRIND
    assigns = " ".join(f"{k}={q(v)}" for k, v in env.items())
    worker = f"{q(python)} {q(bench_file)} --worker --loops {loops} --values {values} --warmups {warmups}"
    return f"env {assigns} {prefix} {worker} > /dev/null"


def parse_count(source: str, stderr: str) -> int | None:
    return parse_perf_stat(stderr) if source == "perf" else parse_cachegrind(stderr)
