# ruff: noqa  (the workload exactly as it ran to make the fixture)
"""An n-body step loop (float arithmetic over a few bodies), timed by pyperf."""
import pyperf

SOLAR_MASS = 39.47841760435743
DAYS = 365.24


def make_bodies():
    bodies = []
    for i in range(5):
        x, y, z = 1.0 + i, 0.5 * i, -0.25 * i
        vx, vy, vz = 0.01 * i, 0.02 - 0.003 * i, 0.001 * i
        bodies.append(([x, y, z], [vx * DAYS, vy * DAYS, vz * DAYS], SOLAR_MASS / (i + 1)))
    return bodies


def combinations(items):
    out = []
    for i in range(len(items) - 1):
        for j in range(i + 1, len(items)):
            out.append((items[i], items[j]))
    return out


def advance(dt, n, bodies, pairs):
    for _ in range(n):
        for ([x1, y1, z1], v1, m1), ([x2, y2, z2], v2, m2) in pairs:
            dx, dy, dz = x1 - x2, y1 - y2, z1 - z2
            mag = dt * ((dx * dx + dy * dy + dz * dz) ** -1.5)
            b1m, b2m = m1 * mag, m2 * mag
            v1[0] -= dx * b2m
            v1[1] -= dy * b2m
            v1[2] -= dz * b2m
            v2[0] += dx * b1m
            v2[1] += dy * b1m
            v2[2] += dz * b1m
        for r, [vx, vy, vz], _m in bodies:
            r[0] += dt * vx
            r[1] += dt * vy
            r[2] += dt * vz


def energy(bodies, pairs):
    e = 0.0
    for ((x1, y1, z1), v1, m1), ((x2, y2, z2), v2, m2) in pairs:
        dx, dy, dz = x1 - x2, y1 - y2, z1 - z2
        e -= (m1 * m2) / ((dx * dx + dy * dy + dz * dz) ** 0.5)
    for _r, [vx, vy, vz], m in bodies:
        e += m * (vx * vx + vy * vy + vz * vz) / 2.0
    return e


def bench_nbody(loops, iterations):
    bodies = make_bodies()
    pairs = combinations(bodies)
    t0 = pyperf.perf_counter()
    for _ in range(loops):
        energy(bodies, pairs)
        advance(0.01, iterations, bodies, pairs)
        energy(bodies, pairs)
    return pyperf.perf_counter() - t0


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.bench_time_func("nbody", bench_nbody, 20)
