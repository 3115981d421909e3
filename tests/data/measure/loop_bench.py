"""A pyperf benchmark whose work is known exactly: LOOP_N iterations of an integer loop per value,
plus LOOP_SLEEP seconds of sleep (time that is wall clock but not CPU time)."""

import os
import time

import pyperf

N = int(os.environ.get("LOOP_N", "20000"))
SLEEP = float(os.environ.get("LOOP_SLEEP", "0"))


def work(loops: int) -> float:
    t0 = pyperf.perf_counter()
    for _ in range(loops):
        acc = 0
        for i in range(N):
            acc ^= i * 7
        if SLEEP:
            time.sleep(SLEEP)
    return pyperf.perf_counter() - t0


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.bench_time_func("loop", work)
