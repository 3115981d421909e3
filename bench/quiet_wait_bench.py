"""Does waiting for a quiet host before each block (``ab --quiet-wait``) make paired blocks quieter,
and what does the wait cost?

Issue 14 asks to consider waiting for a quiet host and keep it only where it measurably helps.
This measures it side by side on this machine, with a neighbour whose load comes and goes: it
runs ``--neighbour-cpus`` busy processes for a random 3-12 s, then rests for a random 3-12 s,
over and over (a colleague's builds and test runs on a shared server). Each round runs two A/A
blocks of fresh richards workers (the validation bench's workload) in a seeded random order:
one at once ("free"), one after the same probe ``ab`` uses (armjit.analysis.host_load) has seen a
CPU free of other runnable work, or the limit has passed ("waited").

Per variant it prints the spread that decides a paired verdict's power, the standard deviation
of the blocks' log-ratios, and what that spread costs in time: the blocks and minutes (wait
included) a ±1% interval would need, at 1.96 sd / sqrt(blocks).

Run: .venv/bin/python bench/quiet_wait_bench.py --max-minutes 10
"""

from __future__ import annotations

import argparse
import contextlib
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from validate_verdicts import run_process  # noqa: E402

from armjit.analysis import host_load, stats  # noqa: E402
from armjit.render import table  # noqa: E402

VARIANTS = ("free", "waited")
# The neighbour: busy periods of N processes, each bounded by its own deadline (so that none
# outlives a killed bench), and rests between them; the whole of it ends at argv[2].
NEIGHBOUR_CODE = """\
import random, subprocess, sys, time
n, end, seed = int(sys.argv[1]), time.monotonic() + float(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
hog = "import sys, time\\nend = time.monotonic() + float(sys.argv[1])\\nwhile time.monotonic() < end:\\n    pass\\n"
while time.monotonic() < end:
    busy = min(rng.uniform(3, 12), max(end - time.monotonic(), 0))
    procs = [subprocess.Popen([sys.executable, "-c", hog, str(busy)]) for _ in range(n)]
    for p in procs:
        p.wait()
    time.sleep(min(rng.uniform(3, 12), max(end - time.monotonic(), 0)))
"""


@contextlib.contextmanager
def neighbour(cpus: int, seconds: float, seed: int) -> Iterator[None]:
    proc = subprocess.Popen([sys.executable, "-c", NEIGHBOUR_CODE, str(cpus), str(seconds), str(seed)])
    try:
        yield
    finally:
        proc.terminate()  # its hogs end at their own deadline, at most 12 s later
        proc.wait(timeout=30)


def probe() -> host_load.HostLoad | None:
    done = subprocess.run(["sh", "-c", host_load.PROBE_COMMAND], capture_output=True, text=True, check=False)
    return host_load.parse_probe(done.stdout)


def wait_for_quiet(limit: float) -> float:
    """As ``ab --quiet-wait`` waits (the same loop); the seconds waited."""
    found = host_load.wait_until_quiet(probe, limit)
    if found.load is None:
        raise SystemExit("this machine has no /proc/loadavg: nothing to measure")
    return found.seconds


def measure(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Per variant, one entry per block: the two processes' medians and shares, the wait, the time."""
    rng = random.Random(args.seed)
    blocks: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            if time.perf_counter() - started > args.max_minutes * 60:
                break
            order = list(VARIANTS)
            rng.shuffle(order)
            for variant in order:
                t0 = time.perf_counter()
                waited = wait_for_quiet(args.limit) if variant == "waited" else 0.0
                pair = []
                for arm in rng.sample(["A", "A'"], 2):
                    p = run_process(sys.executable, 0, args, Path(tmp) / f"{i}-{variant}-{arm}.json")
                    pair.append((arm, statistics.median(p["values"]), p["cpu_share"]))
                pair.sort()
                blocks[variant].append(
                    {
                        "a": pair[0][1],
                        "b": pair[1][1],
                        "shares": [pair[0][2], pair[1][2]],
                        "waited": waited,
                        "seconds": time.perf_counter() - t0,
                    }
                )
            if (i + 1) % 10 == 0:
                print(f"  {i + 1} rounds, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return blocks


def summary(items: list[dict[str, Any]]) -> list[str]:
    logs = [math.log(b["b"] / b["a"]) for b in items]
    shares = [s for b in items for s in b["shares"]]
    sd = statistics.stdev(logs)
    seconds = statistics.mean(b["seconds"] for b in items)
    need = math.ceil((1.96 * sd / 0.01) ** 2)
    est = stats.paired_estimate([stats.Block(b["a"], b["b"], "AB") for b in items])
    starved = sum(abs(b["shares"][0] - b["shares"][1]) > 0.25 for b in items)
    return [
        str(len(items)),
        f"{sd:.1%}",
        f"±{(est.ci_hi - est.ci_lo) / 2:.1%}",
        f"{statistics.median(shares):.0%}",
        f"{starved}",
        f"{sum(b['waited'] > 0.5 for b in items)}, {statistics.mean(b['waited'] for b in items):.1f} s",
        f"{seconds:.1f} s",
        f"{need} ({need * seconds / 60:.0f} min)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--max-minutes", type=float, default=10.0)
    parser.add_argument("--limit", type=float, default=30.0, help="the longest wait before a block (--quiet-wait)")
    parser.add_argument("--neighbour-cpus", type=int, default=2, help="busy processes in the neighbour's busy periods")
    parser.add_argument("--loops", type=int, default=1)
    parser.add_argument("--values", type=int, default=5)
    parser.add_argument("--warmups", type=int, default=1)
    parser.add_argument("--seed", type=int, default=stats.DEFAULT_SEED)
    args = parser.parse_args()
    args.clock, args.metric = "wall", "time"
    if probe() is None:
        parser.error("this machine has no /proc/loadavg: nothing to measure")
    with neighbour(args.neighbour_cpus, args.max_minutes * 60 + 120, args.seed):
        blocks = measure(args)
    rows = [[variant, *summary(items)] for variant, items in blocks.items()]
    headers = [
        "blocks",
        "n",
        "sd of block log-ratio",
        "95% CI of median ratio",
        "CPU share",
        "starved (shares > 25% apart)",
        "waited: blocks, mean wait",
        "time per block",
        "blocks (time) for ±1%",
    ]
    print(
        f"\nA/A, richards, {args.values} values x {args.loops} loops; neighbour: {args.neighbour_cpus} busy processes"
        f" for 3-12 s, then 3-12 s of rest; wait limit {args.limit:g} s"
    )
    print(table(rows, headers, "github"))


if __name__ == "__main__":
    main()
