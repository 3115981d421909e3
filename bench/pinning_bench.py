"""Does pinning the benchmark worker to one CPU (``taskset -c CPU``) make paired A/A blocks quieter?

Issue 14 asks to consider pinning and keep it only where it measurably helps. This measures it
side by side on this machine: each round runs four fresh richards workers (the validation
bench's workload) in a seeded random order: A and A' free to move, A and A' pinned to one CPU.
A round gives one free block and one pinned block of the paired design. Per variant it prints
the spread that decides a paired verdict's power: the standard deviation of the blocks'
log-ratios, the half-width of the 95% interval of the median ratio after all blocks, the CV of
the process medians, and the median CPU share of the workers.

Run: .venv/bin/python bench/pinning_bench.py --max-minutes 6            (quiet machine)
     .venv/bin/python bench/pinning_bench.py --max-minutes 6 --hogs 2   (two CPU hogs)
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from validate_verdicts import cpu_hogs, run_process  # noqa: E402

from armjit.analysis import stats  # noqa: E402
from armjit.render import table  # noqa: E402

VARIANTS = ("free", "pinned")


def measure(args: argparse.Namespace) -> dict[str, list[tuple[dict[str, float], dict[str, float]]]]:
    """Per variant, its (A, A') processes per round: median value and CPU share."""
    rng = random.Random(args.seed)
    prefixes = {"free": (), "pinned": ("taskset", "-c", str(args.cpu))}
    rounds: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {v: [] for v in VARIANTS}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            if time.perf_counter() - started > args.max_minutes * 60:
                break
            order = [(v, arm) for v in VARIANTS for arm in ("A", "A'")]
            rng.shuffle(order)
            got: dict[tuple[str, str], dict[str, float]] = {}
            for variant, arm in order:
                out = Path(tmp) / f"{i}-{variant}-{arm}.json"
                p = run_process(sys.executable, 0, args, out, prefix=prefixes[variant])
                got[(variant, arm)] = {"median": statistics.median(p["values"]), "share": p["cpu_share"]}
            for variant in VARIANTS:
                rounds[variant].append((got[(variant, "A")], got[(variant, "A'")]))
            if (i + 1) % 10 == 0:
                print(f"  {i + 1} rounds, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return rounds


def summary(pairs: list[tuple[dict[str, float], dict[str, float]]]) -> list[str]:
    logs = [math.log(b["median"] / a["median"]) for a, b in pairs]
    medians = [p["median"] for pair in pairs for p in pair]
    shares = [p["share"] for pair in pairs for p in pair]
    blocks = [stats.Block(a["median"], b["median"], "AB") for a, b in pairs]
    est = stats.paired_estimate(blocks)
    half = (est.ci_hi - est.ci_lo) / 2
    return [
        str(len(pairs)),
        f"{statistics.stdev(logs):.1%}",
        f"±{half:.1%}",
        f"{statistics.stdev(medians) / statistics.mean(medians):.1%}",
        f"{statistics.median(shares):.0%}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--max-minutes", type=float, default=6.0)
    parser.add_argument("--cpu", type=int, default=1, help="the CPU the pinned workers run on")
    parser.add_argument("--hogs", type=int, default=0)
    parser.add_argument("--loops", type=int, default=1)
    parser.add_argument("--values", type=int, default=5)
    parser.add_argument("--warmups", type=int, default=1)
    parser.add_argument("--seed", type=int, default=stats.DEFAULT_SEED)
    args = parser.parse_args()
    args.clock, args.metric = "wall", "time"
    if args.cpu not in os.sched_getaffinity(0):
        parser.error(f"--cpu {args.cpu}: this process may run on CPUs {sorted(os.sched_getaffinity(0))} only")
    load = os.getloadavg()[0]
    with cpu_hogs(args.hogs, args.max_minutes * 60 + 120):
        rounds = measure(args)
    rows = [[variant, *summary(pairs)] for variant, pairs in rounds.items()]
    headers = ["workers", "blocks", "sd of block log-ratio", "95% CI of median ratio", "CV of medians", "CPU share"]
    print(f"\nA/A, richards, {args.values} values x {args.loops} loops, {args.hogs} hogs, load {load:.1f} at start")
    print(table(rows, headers, "github"))


if __name__ == "__main__":
    main()
