"""A JIT stand-in as a pyperf Runner script: two benchmarks, an interpreter mode and a "compiled" mode.

CPython 3.11 has no JIT, so the JIT mode runs each benchmark's kernel through a faster, builtin
implementation ("compiled"), plus a share of interpreted glue, as a JIT-compiled function still calls
back into the interpreter. The environment sets what the mode and the code change are:

- ``STANDIN_MODE``: ``nojit`` (everything interpreted) or ``jitlist``;
- ``STANDIN_JITLIST``: the benchmarks whose kernel is "compiled" in jitlist mode (default: all;
  empty: nothing compiles, so jitlist runs the interpreter, like a jitlist whose compiles fail);
- ``STANDIN_JIT_EXTRA``: extra work of the compiled kernels only, as a share (0.3: 30% more),
  a slowed JIT that leaves the interpreter unchanged;
- ``STANDIN_INTERP_EXTRA``: extra work of the interpreted code only, in both modes, a change
  to the interpreter.

Run with ``--inherit-environ STANDIN_MODE,STANDIN_JITLIST,STANDIN_JIT_EXTRA,STANDIN_INTERP_EXTRA``
(pyperf strips the workers' environment). It made ``control/*.json``; see ../README.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from itertools import repeat

import pyperf

N = 40_000


def floats_interpreted(n: int) -> float:
    x, y, total = 0.5, 1.5, 0.0
    for _ in range(n):
        x = x * 0.999999 + 0.001
        y = y * 1.000001 - 0.001
        total += x * y
    return total


def floats_compiled(n: int) -> float:
    # A loop in C over values made and freed one at a time: compute-bound like the interpreted
    # loop, as JIT-compiled code is (no large working set that load could evict from the caches).
    return sum(map(float.__mul__, repeat(0.999999, n), repeat(1.000001, n)))


def ints_interpreted(n: int) -> int:
    total = 0
    for i in range(n):
        total += (i * i) % 7
    return total


def ints_compiled(n: int) -> int:
    return sum(map(int.__mod__, range(n), repeat(7, n)))


KERNELS: dict[str, tuple[Callable[[int], float], Callable[[int], float]]] = {
    "floats": (floats_interpreted, floats_compiled),
    "ints": (ints_interpreted, ints_compiled),
}


def share(name: str) -> float:
    return float(os.environ.get(name) or 0.0)


def make(name: str) -> Callable[[], float]:
    interpreted, compiled = KERNELS[name]
    mode = os.environ.get("STANDIN_MODE", "nojit")
    listed = os.environ.get("STANDIN_JITLIST")
    is_compiled = mode == "jitlist" and (listed is None or name in listed.split(","))
    interp_n = int(N * (1 + share("STANDIN_INTERP_EXTRA")))
    if not is_compiled:
        return lambda: interpreted(interp_n)
    compiled_n = int(N // 4 * (1 + share("STANDIN_JIT_EXTRA")))
    glue_n = interp_n // 5  # the interpreted share of a compiled benchmark

    def run() -> float:
        return compiled(compiled_n) + interpreted(glue_n)

    return run


def main() -> None:
    runner = pyperf.Runner()
    runner.metadata["description"] = "JIT stand-in (armjit test data): STANDIN_MODE " + os.environ.get(
        "STANDIN_MODE", "nojit"
    )
    for name in KERNELS:
        runner.bench_func(name, make(name))


if __name__ == "__main__":
    main()
