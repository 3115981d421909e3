"""An nbody-like benchmark: one timed function whose work is all inline loops, as a pyperf script.

Its one ``__main__`` function is called once per value, warmup and calibration step, never 50
times in a process: under autojit (compile after 50 calls) it compiles nothing, as pyperformance's
``bench_nbody`` under the real JIT. Usage as with any pyperf Runner script, for example:
``python bench/bm_nbody.py --processes 2 --values 2 --warmups 1 -o out.json``
"""

from __future__ import annotations

import pyperf

BODIES = (
    # x, y, z, vx, vy, vz, mass
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 39.47],
    [4.84, -1.16, -0.10, 0.61, 2.81, -0.02, 0.037],
    [8.34, 4.12, -0.40, -1.01, 1.82, 0.008, 0.011],
    [12.89, -15.11, -0.22, 1.08, 0.87, -0.01, 0.0017],
    [15.38, -25.92, 0.18, 0.98, 0.59, -0.03, 0.002],
)
STEPS = 200


def bench_nbody(loops: int) -> float:
    """``loops`` times: STEPS steps of pairwise gravity, all inline (no Python calls inside)."""
    start = pyperf.perf_counter()
    for _ in range(loops):
        bodies = []
        for body in BODIES:  # not a comprehension: that is a function call before Python 3.12
            bodies.append(body[:])
        for _ in range(STEPS):
            for i in range(len(bodies)):
                a = bodies[i]
                for j in range(i + 1, len(bodies)):
                    b = bodies[j]
                    dx, dy, dz = a[0] - b[0], a[1] - b[1], a[2] - b[2]
                    mag = 0.01 * (dx * dx + dy * dy + dz * dz) ** -1.5
                    a[3] -= dx * b[6] * mag
                    a[4] -= dy * b[6] * mag
                    a[5] -= dz * b[6] * mag
                    b[3] += dx * a[6] * mag
                    b[4] += dy * a[6] * mag
                    b[5] += dz * a[6] * mag
            for body in bodies:
                body[0] += 0.01 * body[3]
                body[1] += 0.01 * body[4]
                body[2] += 0.01 * body[5]
        for body in bodies:  # a loop, not a generator: no Python call inside the timed work
            if abs(body[0]) > 1e6:
                raise RuntimeError("the bodies flew apart: the interpreter or JIT miscomputed")
    return pyperf.perf_counter() - start


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "nbody-like inline loops (armjit fixture)"
    runner.bench_time_func("nbody", bench_nbody)
