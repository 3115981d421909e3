"""Validate armjit's paired verdict on this machine, next to pyperf compare_to on the same samples.

Workload: pyperformance's richards body run as a pyperf worker (bench/_workload_richards.py),
with an injected busy loop (same code in every arm, size set by ARMJIT_BUSY_ITERS) that makes
an iteration slower by a chosen share.

What is measured (once, the expensive part): a pool of K "super-blocks". Each super-block runs
one fresh worker process per arm, A (no injection), A' (no injection), and one slowed arm per
share (default 5%, 10% and 100%, i.e. 2x), in a seeded random order, back to back, all with the same
--loops/-n/-w. Any (A, X) pair inside a super-block is therefore a block of the paired design:
two fresh processes, close in time, in random relative order. Super-blocks run one after the other, so
the pool is in run order.

What is resampled (cheap): a trial with P blocks draws P distinct super-blocks at random from
the pool and judges A->X with armjit.analysis.stats.judge_paired (δ = 1%, 10,000 bootstrap resamples).
A/A uses A->A'. Trials overlap in the pool (they share super-blocks), so they are not
independent; the fully disjoint trials (K // P of them) are reported too. For pyperf
compare_to, the same P processes per arm are merged into one pyperf JSON per arm and
`python -m pyperf compare_to` judges them ("Significant" or "Not significant").

Verdicts are judged as `invoke ab` judges them: blocks in run order, the drift gate on.

Clock: the default is pyperf's own timer, the wall clock, because that is what `ab` and `verify`
measure. On a shared 2-core machine it also measures other jobs (time spent waiting for a CPU);
`--clock cpu` (the process CPU clock) leaves that out and shows the verdict without contention.

Load: `--hogs N` starts N CPU-bound processes for the measurement, each bounded in time
(`--hog-seconds`) and stopped when the measurement ends, fails or is interrupted.

Run: .venv/bin/python bench/validate_verdicts.py --max-minutes 13   (measure for 13 minutes, then judge)
     .venv/bin/python bench/validate_verdicts.py --max-minutes 13 --hogs 2   (the same under two CPU hogs)
     .venv/bin/python bench/validate_verdicts.py --pool-file pool.json   (measure once, re-analyse)
The README's statistics section has the commands and the table of the last validation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))  # its helper module beside it, also when loaded by path (the tests)

from _sequential_trials import matched_pyperf_power, replay  # noqa: E402

from armjit.analysis import stats  # noqa: E402
from armjit.analysis.measure import parse_cachegrind  # noqa: E402
from armjit.cinderx.counters import CACHEGRIND  # noqa: E402
from armjit.flows.ab_blocks import EXTRA_VALUES  # noqa: E402
from armjit.render import table  # noqa: E402

WORKLOAD = HERE / "_workload_richards.py"
BUSY_ENV = "ARMJIT_BUSY_ITERS"
CLOCK_ENV = "ARMJIT_CLOCK"
# Each hog checks its own deadline, so even a hog whose parent was killed with SIGKILL ends.
HOG_CODE = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


@contextlib.contextmanager
def cpu_hogs(n: int, seconds: float) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``n`` busy processes for at most ``seconds``; stopped on leaving, however that happens."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(n):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", HOG_CODE, str(seconds)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        if procs:
            print(
                f"hogs: {n} CPU hogs for at most {seconds:.0f} s, pids {' '.join(str(p.pid) for p in procs)}",
                file=sys.stderr,
                flush=True,
            )
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _exit_on_sigterm() -> None:
    """SIGTERM (and SIGHUP) end the script through the normal exit path, so ``finally`` blocks
    (the hogs' stop) run as they do for Ctrl-C."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, handler)


def calibrate(python: str) -> tuple[float, float]:
    """Seconds per richards iteration and per busy unit, measured in a fresh process."""
    code = (
        "import sys, time, statistics\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "import _workload_richards as w\n"
        "r = w.load_richards().Richards()\n"
        "for _ in range(5): r.run(1)\n"
        "rt = []\n"
        "for _ in range(30):\n"
        "    t = time.perf_counter(); r.run(1); rt.append(time.perf_counter() - t)\n"
        "bt = []\n"
        "for _ in range(15):\n"
        "    t = time.perf_counter(); w.busy(200000); bt.append((time.perf_counter() - t) / 200000)\n"
        "print(statistics.median(rt), statistics.median(bt))\n"
    )
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def run_process(
    python: str, units: int, args: argparse.Namespace, out: Path, seed: int = 0, prefix: Sequence[str] = ()
) -> dict[str, Any]:
    """One fresh worker process; returns its measured values (or its instruction count), its
    wall time and its CPU share (CPU time of the process over its wall time). ``prefix``: a
    command the worker runs under (``taskset -c 1``)."""
    if args.metric == "instructions":
        return _count_per_value(python, units, args, out)
    env = dict(os.environ, **{BUSY_ENV: str(units), CLOCK_ENV: args.clock})
    cmd = [python, str(WORKLOAD), "--worker", "--loops", str(args.loops), "-n", str(args.values)]
    cmd += ["-w", str(args.warmups), "-o", str(out)]
    cmd = [*prefix, *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    data = json.loads(out.read_text(encoding="utf-8"))
    values = data["benchmarks"][0]["runs"][-1]["values"]
    return {"values": values, "wall": wall, "cpu_share": cpu / wall, "units": units, "json": data}


def _count_per_value(python: str, units: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """As ``ab --metric instructions`` counts: two workers under cachegrind, one with
    EXTRA_VALUES values more, subtracted per value; one hash seed for the whole pool."""
    env = dict(os.environ, **{BUSY_ENV: str(units), CLOCK_ENV: args.clock, "PYTHONHASHSEED": str(args.seed)})
    counts = []
    t0 = time.perf_counter()
    for values in (args.values, args.values + EXTRA_VALUES):
        cmd = [*CACHEGRIND.split(), python, str(WORKLOAD), "--worker", "--loops", str(args.loops)]
        cmd += ["-n", str(values), "-w", str(args.warmups), "-o", str(out)]
        done = subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        count = parse_cachegrind(done.stderr)
        if count is None:
            raise RuntimeError("cachegrind printed no instruction count")
        counts.append(count)
        out.unlink(missing_ok=True)  # pyperf -o appends: each count gets a file of its own
    wall = time.perf_counter() - t0
    data = {"benchmarks": [{"runs": [{"values": [(counts[1] - counts[0]) / EXTRA_VALUES]}]}]}
    per_value = float(data["benchmarks"][0]["runs"][0]["values"][0])
    return {"values": [per_value], "wall": wall, "cpu_share": 1.0, "units": units, "json": data}


def measure_pool(args: argparse.Namespace, arms: dict[str, int]) -> dict[str, Any]:
    python = sys.executable
    rng = random.Random(args.seed)
    superblocks: list[dict[str, Any]] = []
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pool):
            if args.max_minutes and time.perf_counter() - t_start > args.max_minutes * 60:
                print(f"  time budget of {args.max_minutes:g} min reached after {i} super-blocks", file=sys.stderr)
                break
            order = list(arms)
            rng.shuffle(order)
            sb: dict[str, Any] = {"order": order}
            for arm in order:
                sb[arm] = run_process(python, arms[arm], args, Path(tmp) / f"{i}_{arm}.json", seed=args.seed + i)
            superblocks.append(sb)
            if (i + 1) % 10 == 0:
                el = time.perf_counter() - t_start
                print(f"  pool {i + 1}/{args.pool} super-blocks, {el:.0f} s", file=sys.stderr, flush=True)
    return {
        "arms": arms,
        "superblocks": superblocks,
        "wall": time.perf_counter() - t_start,
        "settings": {k: getattr(args, k) for k in ("loops", "values", "warmups", "seed", "clock", "hogs", "metric")},
        "load": {"start": load_start, "end": os.getloadavg()},
    }


def arm_json(processes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One pyperf file for an arm: the first process's file with every process's run."""
    base = json.loads(json.dumps(processes[0]["json"]))
    base["benchmarks"][0]["runs"] = [p["json"]["benchmarks"][0]["runs"][-1] for p in processes]
    return base


def pyperf_significant(python: str, a: dict[str, Any], b: dict[str, Any]) -> tuple[bool, float]:
    """(significant, ratio to/from) from `pyperf compare_to a b` on the given arms (the ratio is
    1.0 when compare_to hides a result as not significant)."""
    with tempfile.TemporaryDirectory() as tmp:
        pa, pb = Path(tmp) / "a.json", Path(tmp) / "b.json"
        pa.write_text(json.dumps(a), encoding="utf-8")
        pb.write_text(json.dumps(b), encoding="utf-8")
        out = subprocess.run(
            [python, "-m", "pyperf", "compare_to", str(pa), str(pb)], capture_output=True, text=True, check=True
        ).stdout
    # one benchmark per file: either "... -> ...: 1.05x slower" or "... hidden because not significant"
    # (older pyperf: "Not significant!")
    significant = "not significant" not in out.lower()
    match = re.search(r"([\d.]+)x (slower|faster)", out)
    if not significant or not match:
        return significant, 1.0
    factor = float(match.group(1))
    return significant, factor if match.group(2) == "slower" else 1.0 / factor


def rate(hits: int, n: int) -> str:
    return f"{hits}/{n} = {hits / n:.0%}" if n else "-"


def analyse(pool: dict[str, Any], args: argparse.Namespace) -> None:
    arms: dict[str, int] = pool["arms"]
    sbs: list[dict[str, Any]] = pool["superblocks"]
    k = len(sbs)
    meds = [{arm: stats.process_median(sb[arm]["values"]) for arm in arms} for sb in sbs]
    proc_wall = statistics.fmean(sb[arm]["wall"] for sb in sbs for arm in arms)
    conditions = [arm for arm in arms if arm != "A"]
    # The effect each arm really has, from the whole pool (all K blocks): the reference that a
    # trial's interval should cover.
    truth = {
        c: stats.paired_estimate([stats.Block(m["A"], m[c]) for m in meds], seed=args.seed).ratio for c in conditions
    }
    print(f"\npool: {k} super-blocks x {len(arms)} arms = {k * len(arms)} processes in {pool['wall']:.0f} s")
    load = pool.get("load") or {}
    print(
        f"process: --loops {args.loops} -n {args.values} -w {args.warmups}, {args.clock} clock; "
        f"mean wall {proc_wall:.2f} s/process; {args.hogs} CPU hogs; load average (1 min) "
        f"{(load.get('start') or ['?'])[0]} at start, {(load.get('end') or ['?'])[0]} at end"
    )
    cvs = {arm: stats.cv([m[arm] for m in meds]) for arm in arms}
    print("CV of process medians: " + ", ".join(f"{arm} {v:.1%}" for arm, v in cvs.items()))
    print("whole-pool ratio to/from: " + ", ".join(f"{c} {truth[c]:.4f}" for c in conditions))
    rng = random.Random(args.seed + 1)
    rows = []
    pyperf_runs: dict[tuple[int, str], list[tuple[bool, float]]] = {}
    python = sys.executable
    for p in args.blocks:
        if p > k:
            continue
        # Sorted: a trial's blocks keep the order in which they ran, so the drift gate sees the
        # first and the second half of a run as `ab` does.
        draws = [sorted(rng.sample(range(k), p)) for _ in range(args.trials)]
        disjoint = [list(range(j * p, (j + 1) * p)) for j in range(k // p)]
        for cond in conditions:
            aa = cond == "A'"
            want = None if aa else "regression"
            res: dict[str, int] = {"hit": 0, "cover": 0, "pp": 0, "dis": 0, "slow": 0, "drift": 0}
            halfwidths = []
            aa_ratios = []
            for n_trial, idx in enumerate(draws):
                blocks = [stats.Block(meds[i]["A"], meds[i][cond]) for i in idx]
                j = stats.judge_paired(blocks, delta=args.delta, seed=args.seed + n_trial, check_drift=not aa)
                v = j.decision.verdict
                res["drift"] += "drift:" in j.decision.reason
                hit = v in ("real improvement", "regression") if aa else v == want
                res["hit"] += hit
                # the interval says "slower" (a regression, or "possible small regression" below δ)
                res["slow"] += j.estimate.ci_lo > 1.0
                res["cover"] += j.estimate.ci_lo <= truth[cond] <= j.estimate.ci_hi
                halfwidths.append(j.estimate.half_width_log)
                aa_ratios.append(j.estimate.ratio)
            for n_trial, idx in enumerate(disjoint):
                blocks = [stats.Block(meds[i]["A"], meds[i][cond]) for i in idx]
                j = stats.judge_paired(blocks, delta=args.delta, seed=args.seed + n_trial, check_drift=not aa)
                v = j.decision.verdict
                res["dis"] += v in ("real improvement", "regression") if aa else v == want
            pp_trials = draws[: args.pyperf_trials] if args.metric == "time" else []

            def one(idx: list[int], cond: str = cond) -> tuple[bool, bool]:
                a = arm_json([sbs[i]["A"] for i in idx])
                b = arm_json([sbs[i][cond] for i in idx])
                return pyperf_significant(python, a, b)

            with ThreadPoolExecutor(max_workers=2) as ex:
                pp = list(ex.map(one, pp_trials))
            res["pp"] = sum(sig for sig, _ in pp) if aa else sum(sig and r > 1 for sig, r in pp)
            pyperf_runs[(p, cond)] = pp
            share = 0 if aa else float(cond[1:])
            label = "A/A (0%)" if aa else f"+{share:g}% slower" + (f" ({1 + share / 100:g}x)" if share >= 100 else "")
            what = "false verdicts" if aa else "detected (regression)"
            rows.append(
                [
                    label,
                    p,
                    f"{truth[cond]:.4f}",
                    what,
                    rate(res["hit"], args.trials),
                    rate(res["slow"], args.trials),
                    rate(res["drift"], args.trials),
                    rate(res["dis"], len(disjoint)),
                    f"{statistics.median(halfwidths) * 100:.2f}%",
                    rate(res["cover"], args.trials),
                    rate(res["pp"], len(pp_trials)),
                    f"{2 * p * proc_wall / 60:.1f} min",
                ]
            )
            if aa:
                print(f"P={p}: A/A noise floor (97.5% of |ln r|) = {stats.noise_floor(aa_ratios, minimum=0.0):.2%}")
    headers = [
        "injected",
        "blocks P",
        "pool ratio to/from (lower is better)",
        "armjit counts",
        "armjit rate (overlapping trials)",
        "CI entirely > 1",
        "inconclusive by drift",
        "armjit rate (disjoint trials)",
        "median CI half-width",
        "CI covers pool ratio",
        "pyperf compare_to significant",
        "wall per A/B run",
    ]
    print()
    print(table(rows, headers, fmt="github"))
    matched = []
    for (p, cond), pp in pyperf_runs.items():
        if cond == "A'" or (p, "A'") not in pyperf_runs:
            continue
        threshold, false, power = matched_pyperf_power(pyperf_runs[(p, "A'")], pp, target=0.05)
        matched.append([cond, p, len(pp), f"{threshold:.1%}", f"{false:.0%}", f"{power:.0%}"])
    if matched:
        print("\npyperf compare_to at an A/A false-positive rate <= 5% (its --min-speed raised until it is):\n")
        heads = ["injected", "processes per arm", "trials", "--min-speed needed", "A/A false", "detected"]
        print(table(matched, heads, fmt="github"))
    analyse_sequential(pool, args, meds, conditions, truth, proc_wall)


def analyse_sequential(
    pool: dict[str, Any],
    args: argparse.Namespace,
    meds: list[dict[str, float]],
    conditions: list[str],
    truth: dict[str, float],
    proc_wall: float,
) -> None:
    """--until-decided replayed on the pool, for each budget; with the CPU share recorded, also
    with the blocks of starved processes left out (as ab drops them)."""
    if not args.budgets:
        return
    sbs = pool["superblocks"]
    block_seconds = 2 * proc_wall
    has_shares = all("cpu_share" in sb[arm] for sb in sbs for arm in pool["arms"])
    gap = args.cpu_share_gap

    def fed(sb: dict[str, Any], cond: str) -> bool:
        # As `ab --cpu-share-gap`: the block's two CPU shares within the gap of each other.
        a, x = sb["A"]["cpu_share"], sb[cond]["cpu_share"]
        return bool(max(a, x) / min(a, x) <= 1 + gap)

    variants = ["all blocks"] + ([f"shares > {gap:.0%} apart dropped"] if gap and has_shares else [])
    rows = []
    for name in variants:
        for budget in args.budgets:
            budget_blocks = max(2, int(budget * 60 / block_seconds))
            for cond in conditions:
                aa = cond == "A'"
                keep = [i for i, sb in enumerate(sbs) if name == "all blocks" or fed(sb, cond)]
                pairs = [(meds[i]["A"], meds[i][cond]) for i in keep]
                row = replay(
                    pairs, aa=aa, delta=args.delta, budget_blocks=budget_blocks, trials=args.trials, seed=args.seed
                )
                rows.append(
                    [
                        f"{name} ({len(keep)} of {len(sbs)})",
                        f"{budget:g} min ({budget_blocks} blocks)",
                        "A/A" if aa else f"{cond} (pool {truth[cond]:.4f})",
                        ("false: " if aa else "detected: ") + rate(row.hits, row.trials),
                        rate(row.equivalent, row.trials),
                        rate(row.undecided, row.trials),
                        rate(row.exhausted, row.trials),
                        f"{statistics.median(row.blocks):.0f}",
                        f"{row.minutes(block_seconds):.1f} min",
                    ]
                )
    heads = ["pool", "budget", "injected", "armjit --until-decided", "equivalent", "budget spent", "pool too small"]
    heads += ["median blocks", "median time"]
    print(
        f"\n--until-decided replayed ({args.trials} trials each, δ = {args.delta:.2%}, {block_seconds:.1f} s/block):\n"
    )
    print(table(rows, heads, fmt="github"))
    shares = [sb[arm]["cpu_share"] for sb in sbs for arm in pool["arms"] if "cpu_share" in sb[arm]]
    if shares:
        q = sorted(shares)
        print(f"CPU share of the processes: median {statistics.median(q):.0%}, 5th percentile {q[len(q) // 20]:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=200, help="super-blocks to measure")
    parser.add_argument("--max-minutes", type=float, help="stop measuring super-blocks after this many minutes")
    parser.add_argument("--shares", type=float, nargs="+", default=[0.05, 0.10, 1.0], help="injected slowdowns")
    parser.add_argument("--blocks", type=int, nargs="+", default=[10, 20, 30], help="block counts to judge")
    parser.add_argument("--trials", type=int, default=300, help="resampled trials per block count and arm")
    parser.add_argument("--pyperf-trials", type=int, default=30, help="of those, judged by pyperf compare_to")
    # One worker process is about 1.4 s on a busy 2-core machine at these settings.
    parser.add_argument("--loops", type=int, default=1)
    parser.add_argument("--values", type=int, default=5)
    parser.add_argument("--warmups", type=int, default=1)
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall", help="timer of the workload (wall: pyperf's, as ab uses)"
    )
    parser.add_argument("--hogs", type=int, default=0, help="CPU hog processes to run during the measurement")
    parser.add_argument(
        "--hog-seconds", type=float, default=3600, help="upper bound on each hog's life, should the script not stop it"
    )
    parser.add_argument(
        "--metric", choices=("time", "instructions"), default="time", help="instructions: each worker under cachegrind"
    )
    parser.add_argument(
        "--budgets", type=float, nargs="*", default=[], help="replay --until-decided with these budgets (minutes)"
    )
    parser.add_argument(
        "--cpu-share-gap",
        type=float,
        default=0.25,
        help="replay also without blocks whose two CPU shares differ by more than this (as ab drops them)",
    )
    parser.add_argument("--seed", type=int, default=stats.DEFAULT_SEED)
    parser.add_argument("--delta", type=float, default=stats.MIN_DELTA, help="practical threshold δ for the verdicts")
    parser.add_argument("--pool-file", type=Path, help="load this pool if it exists, else measure and save it")
    args = parser.parse_args()
    if args.hogs < 0:
        parser.error("--hogs must be >= 0")
    _exit_on_sigterm()
    if args.pool_file and args.pool_file.exists():
        pool = json.loads(args.pool_file.read_text(encoding="utf-8"))
        for key, default in (
            ("loops", None),
            ("values", None),
            ("warmups", None),
            ("clock", "cpu"),
            ("hogs", 0),
            ("metric", "time"),
        ):
            setattr(args, key, pool["settings"].get(key, default))
    else:
        # The hogs run for the calibration too, so the injected shares are sized under the same load.
        with cpu_hogs(args.hogs, args.hog_seconds):
            t_iter, t_unit = calibrate(sys.executable)
            arms = {"A": 0, "A'": 0} | {f"B{s * 100:g}": round(s * t_iter / t_unit) for s in args.shares}
            print(
                f"calibration: richards {t_iter * 1e3:.2f} ms/iteration, busy unit {t_unit * 1e9:.1f} ns; arms {arms}"
            )
            pool = measure_pool(args, arms)
        if args.pool_file:
            args.pool_file.write_text(json.dumps(pool), encoding="utf-8")
    analyse(pool, args)
    print(f"\nδ = {args.delta:.1%}, {stats.RESAMPLES} bootstrap resamples, default blocks {stats.DEFAULT_BLOCKS}")


if __name__ == "__main__":
    main()
