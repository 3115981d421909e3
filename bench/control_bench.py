"""Validate verify's nojit control: pairs of real pyperf runs where only the load changed, and JIT-only changes.

Each "run" measures two modes one after the other, as a baseline does: nojit (the interpreter)
and jitlist, with tests/data/control/standin_bench.py (two benchmarks, floats and ints; CPython has
no JIT, so jitlist runs a faster builtin kernel plus interpreted glue; see that file). A pair is
two runs, from and to, each under its own load: none, or ``--hogs`` CPU-bound processes for the
whole run. The scenarios:

- same code, quiet -> hogs and hogs -> quiet: no change; neither verdict may claim one;
- the jitlist compiles nothing (``STANDIN_JITLIST=``), the issue's case: a JIT-only regression
  of about 2x, with the load changed as well;
- the compiled kernels 30% slower (``STANDIN_JIT_EXTRA=0.3``) or faster (from 0.3 to 0): a JIT-only
  change of about 20% of the jitlist time, with the load changed;
- the interpreter 30% slower (``STANDIN_INTERP_EXTRA=0.3``): a change the control measures too,
  so its controlled ratio is wrong by construction and the rule must not trust it.

Every pair is judged by armjit.analysis.compare as verify judges two unpaired runs: the raw
cross-run verdict per mode and benchmark, and the drift-cancelled (controlled) one; the control
scope is what the changed files would say (JIT-only for all but the interpreter change). The
table prints per pair and benchmark: how far nojit moved, the raw jitlist verdict and the
controlled one, and which one carries the claim; then per scenario how often each one claimed.

Run: .venv/bin/python bench/control_bench.py --trials 3 --hogs 2
     .venv/bin/python bench/control_bench.py --trials 1 --save DIR   (keep the pyperf files)
     .venv/bin/python bench/control_bench.py --trials 1 --judge DIR  (judge kept files again, no measuring)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from validate_verdicts import cpu_hogs  # noqa: E402

from armjit.analysis import compare, control, pyperf_data, stats  # noqa: E402
from armjit.render import table  # noqa: E402

WORKLOAD = HERE.parent / "tests" / "data" / "control" / "standin_bench.py"
ENV_NAMES = ("STANDIN_MODE", "STANDIN_JITLIST", "STANDIN_JIT_EXTRA", "STANDIN_INTERP_EXTRA")
MODES = ("nojit", "jitlist")
JIT_ONLY = control.scope_of_changes(["cinderx/Jit/codegen/gen_asm.cpp"], between="the runs")
TOUCHES_INTERPRETER = control.scope_of_changes(["cinderx/Interpreter/cinder_eval.c"], between="the runs")


@dataclass(frozen=True)
class Scenario:
    name: str
    from_env: dict[str, str]
    to_env: dict[str, str]
    from_hogs: bool
    to_hogs: bool
    truth: str  # what the jitlist rows really did: none | regression | improvement | interpreter
    scope: control.ControlScope = JIT_ONLY


SCENARIOS = (
    Scenario("same code, quiet -> hogs", {}, {}, False, True, "none"),
    Scenario("same code, hogs -> quiet", {}, {}, True, False, "none"),
    Scenario("jitlist compiles nothing, quiet -> hogs", {}, {"STANDIN_JITLIST": ""}, False, True, "regression"),
    Scenario("jitlist compiles nothing, quiet -> quiet", {}, {"STANDIN_JITLIST": ""}, False, False, "regression"),
    Scenario("JIT kernels +30%, hogs -> quiet", {}, {"STANDIN_JIT_EXTRA": "0.3"}, True, False, "regression"),
    Scenario("JIT kernels back from +30%, quiet -> hogs", {"STANDIN_JIT_EXTRA": "0.3"}, {}, False, True, "improvement"),
    Scenario(
        "interpreter +30%, quiet -> quiet",
        {},
        {"STANDIN_INTERP_EXTRA": "0.3"},
        False,
        False,
        "interpreter",
        TOUCHES_INTERPRETER,
    ),
)


def run_mode(mode: str, env: dict[str, str], out: Path, args: argparse.Namespace) -> Path:
    """One pyperf run of the stand-in in one mode (fresh worker processes, as a baseline step)."""
    cmd = [
        sys.executable,
        str(WORKLOAD),
        "-p",
        str(args.processes),
        "-n",
        str(args.values),
        "-w",
        str(args.warmups),
        "--loops",
        str(args.loops),
        "--inherit-environ",
        ",".join(ENV_NAMES),
        "--quiet",
        "-o",
        str(out),
    ]
    full = {**os.environ, "STANDIN_MODE": mode, **env}
    if "STANDIN_JITLIST" not in env:
        full.pop("STANDIN_JITLIST", None)
    subprocess.run(cmd, env=full, check=True, stdout=subprocess.DEVNULL)
    return out


def measure_run(label: str, env: dict[str, str], hogs: int, folder: Path, args: argparse.Namespace) -> compare.Input:
    """Both modes, one after the other, under one load; as compare loads a run. With ``--judge``,
    the files a ``--save`` kept are judged again instead (no measurement)."""
    files = {}
    if args.judge:
        files = {mode: args.judge / f"{label}-{mode}.json" for mode in MODES}
        if not all(path.is_file() for path in files.values()):
            raise SystemExit(f"--judge {args.judge}: no saved run {label}")
        hogs = 0
    with cpu_hogs(hogs, 900):
        if hogs:
            time.sleep(2)  # let the hogs take their CPUs before the first process starts
        for mode in MODES:
            if not args.judge:
                files[mode] = run_mode(mode, env, folder / f"{label}-{mode}.json", args)
    modes: dict[str | None, compare.ModeData] = {
        m: compare.ModeData(m, pyperf_data.load(path), runner="pyperf") for m, path in files.items()
    }
    return compare.Input(label, True, "local", modes)


def load_of(side: compare.Input) -> str:
    """The median 1-minute load average the workers of both modes recorded."""
    loads = []
    for m in side.modes.values():
        if m.data is not None:
            for bench in json.loads(m.data.path.read_text())["benchmarks"]:
                loads += [r["metadata"]["load_avg_1min"] for r in bench["runs"] if "load_avg_1min" in r["metadata"]]
    return f"{statistics.median(loads):.1f}" if loads else "?"


def claimed(verdict: str) -> bool:
    return verdict in ("real improvement", "regression")


def correct(truth: str, verdict: str) -> bool:
    if truth == "none":
        return not claimed(verdict)
    return verdict == {"regression": "regression", "improvement": "real improvement"}.get(truth, "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2, help="pairs of runs per scenario")
    parser.add_argument("--hogs", type=int, default=2, help="CPU hogs in the loaded runs")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--values", type=int, default=3)
    parser.add_argument("--warmups", type=int, default=1)
    parser.add_argument("--loops", type=int, default=32, help="about 60 ms per nojit value, 30 ms per jitlist value")
    parser.add_argument("--only", default="", help="run only the scenarios whose name contains this text")
    parser.add_argument("--save", type=Path, help="keep the pyperf files here")
    parser.add_argument("--judge", type=Path, help="judge the files a --save kept, without measuring")
    args = parser.parse_args()
    # SIGTERM ends the bench through the normal exit path, so the hogs are stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    rows = []
    tally: dict[str, Counter[str]] = {}
    residual: dict[str, list[float]] = {"raw": [], "controlled": []}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.save or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for s_index, scenario in enumerate(SCENARIOS):
            if args.only and args.only not in scenario.name:
                continue
            count = tally.setdefault(scenario.name, Counter())
            for trial in range(args.trials):
                tag = f"s{s_index}t{trial}"
                print(f"{scenario.name}, trial {trial + 1}", file=sys.stderr, flush=True)
                a = measure_run(f"{tag}-from", scenario.from_env, args.hogs if scenario.from_hogs else 0, folder, args)
                b = measure_run(f"{tag}-to", scenario.to_env, args.hogs if scenario.to_hogs else 0, folder, args)
                report = compare.compare_inputs(a, b, control_scope=scenario.scope)
                trusted = compare.compare_inputs(a, b, control_scope=JIT_ONLY)  # the control taken at its word
                for row, as_if in zip(report.comparisons, trusted.comparisons, strict=True):
                    if row.mode != "jitlist" or row.controlled is None or as_if.controlled is None:
                        continue
                    k = as_if.controlled
                    raw, ctl = row.estimate, k.estimate
                    count["rows"] += 1
                    count["raw claims"] += claimed(row.verdict)
                    count["raw right"] += correct(scenario.truth, row.verdict)
                    count["controlled claims"] += claimed(k.verdict)
                    count["controlled right"] += correct(scenario.truth, k.verdict)
                    count["claim right"] += correct(scenario.truth, row.claim)
                    if scenario.truth == "none":
                        residual["raw"].append(abs(math.log(raw.ratio)))
                        residual["controlled"].append(abs(math.log(ctl.ratio)))
                    rows.append(
                        (
                            scenario.name,
                            trial + 1,
                            row.benchmark,
                            f"{load_of(a)} -> {load_of(b)}",
                            f"{stats.pct_change(k.control_moved):+.1f}%",
                            f"{raw.ratio:.3f} [{raw.ci_lo:.3f}, {raw.ci_hi:.3f}]",
                            row.verdict,
                            f"{ctl.ratio:.3f} [{ctl.ci_lo:.3f}, {ctl.ci_hi:.3f}]",
                            k.verdict,
                            f"{row.claim} ({row.claim_from})",
                        )
                    )
    headers = [
        "scenario",
        "trial",
        "benchmark",
        "load from -> to",
        "nojit moved",
        "raw jitlist to/from [95% CI]",
        "raw verdict",
        "controlled [95% CI]",
        "controlled verdict",
        "claim (from)",
    ]
    print(table(rows, headers))
    summary = [
        (
            name,
            c["rows"],
            f"{c['raw claims']}",
            f"{c['raw right']}/{c['rows']}",
            f"{c['controlled claims']}",
            f"{c['controlled right']}/{c['rows']}",
            f"{c['claim right']}/{c['rows']}",
        )
        for name, c in tally.items()
    ]
    print()
    print(
        table(
            summary,
            ["scenario", "rows", "raw claims", "raw right", "controlled claims", "controlled right", "claim right"],
        )
    )
    for kind, logs in residual.items():
        if logs:
            worst = math.expm1(max(logs))
            middle = math.expm1(statistics.median(logs))
            print(f"same code, |ratio - 1| of the {kind} jitlist ratio: median {middle:.1%}, max {worst:.1%}")
    print(
        f"\n{args.processes} processes x {args.values} values x {args.loops} loops, {args.warmups} warmup(s) per mode; "
        f"{args.hogs} CPU hogs in the loaded runs; δ controlled = {control.CONTROL_MIN_DELTA:.0%}; "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
