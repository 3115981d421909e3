# ruff: noqa  (the workload exactly as it ran to make the fixture)
"""A process that dies (SIGSEGV sent to itself) while the JIT's background thread compiles.

It calls a few functions past the auto-compile threshold, then watches its own JIT log and sends
itself SIGSEGV as soon as the log's last compile line is a start with no finish after it.
"""
import os
import signal
import sys
import time

import cinderx.jit as jit

jit.enable()
sys.path.insert(0, os.path.dirname(__file__))
import bench_nbody  # noqa: E402

log = os.environ["PYTHONJITLOGFILE"].replace("{pid}", str(os.getpid()))
bodies = bench_nbody.make_bodies()
pairs = bench_nbody.combinations(bodies)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    bench_nbody.advance(0.01, 1, bodies, pairs)
    bench_nbody.energy(bodies, pairs)
    with open(log, encoding="utf-8", errors="replace") as handle:
        lines = [line for line in handle if " -- Compiling " in line or " -- Finished compiling " in line]
    if lines and " -- Compiling " in lines[-1] and " along with " not in lines[-1]:
        os.kill(os.getpid(), signal.SIGSEGV)
os.kill(os.getpid(), signal.SIGSEGV)
