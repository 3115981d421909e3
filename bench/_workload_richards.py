"""pyperformance's richards benchmark with an injected busy loop, as a pyperf Runner script.

The same code runs for both arms: ``ARMJIT_BUSY_ITERS`` (default 0) sets how many units of
deterministic CPU work (a pure-Python integer loop, not a sleep) are added to every timed
iteration, so a "B" arm that is slower by a chosen share can be made without changing the binary.
``ARMJIT_CLOCK=cpu`` times with the process CPU clock instead of the wall clock (pyperf's
default), which leaves out the time the process waits for a CPU on an oversubscribed machine.
Both variables are read in the process that times, so run the script as a pyperf worker
(``--worker``) or list them in ``--inherit-environ``.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pyperf
import pyperformance

BUSY_ENV = "ARMJIT_BUSY_ITERS"
CLOCK_ENV = "ARMJIT_CLOCK"
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def load_richards() -> ModuleType:
    """The benchmark body exactly as pyperformance ships it (its ``__main__`` block does not run)."""
    path = Path(pyperformance.__file__).parent / "data-files" / "benchmarks" / "bm_richards" / "run_benchmark.py"
    spec = importlib.util.spec_from_file_location("_bm_richards", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def busy(units: int) -> int:
    """Deterministic CPU work whose cost is linear in ``units``."""
    acc = 0
    for i in range(units):
        acc ^= i * 7
    return acc


def time_loops(loops: int, richards: Any, units: int, clock: Any = time.perf_counter) -> float:
    """One pyperf value: ``loops`` iterations of richards plus the busy loop, timed together."""
    t0 = clock()
    for _ in range(loops):
        richards.run(1)
        busy(units)
    return float(clock() - t0)


def main() -> None:
    units = int(os.environ.get(BUSY_ENV, "0"))
    clock_name = os.environ.get(CLOCK_ENV, "wall")
    runner = pyperf.Runner()
    runner.metadata["description"] = "pyperformance richards + injected busy loop"
    runner.metadata["armjit_busy_iters"] = units
    runner.metadata["armjit_clock"] = clock_name
    runner.bench_time_func("richards_busy", time_loops, load_richards().Richards(), units, CLOCKS[clock_name])


if __name__ == "__main__":
    main()
