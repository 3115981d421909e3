"""``invoke history`` over a generated reports directory of 1,000 run records.

Each generated run is a baseline record (run.json with host facts, settings, a commit and modes)
with one pyperf file per mode, made from a real pyperf file (tests/data/sleep-bound) whose values
are scaled per run: a slow drift, noise between runs, and a step up (a regression) every 97 runs.
Runs are spread over hosts and modes, so the history has many series. Between-run δ is stored for
every host.

Measured, each the median of ``--repeat`` calls:
- in-process: loading every record, judging every consecutive pair, rendering the table;
- the CLI (a fresh ``python -m invoke history`` process): table only (``--no-plots --no-notes``),
  with findings.md, with the trend charts, and ``--regressions`` (bootstrap rechecks). The first
  call draws every chart and runs every recheck; later calls find the PNGs (by their content
  digest) and the rechecks (in history-rechecks.json) already made;
- the everyday call after one new run: the charts of that run's host are drawn again, no others.

Target: the table over 1,000 records in under 2 s.

Run: .venv/bin/python bench/history_bench.py [--runs 1000] [--hosts 4] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from armjit.analysis import history  # noqa: E402
from armjit.analysis.history_load import INDEX, History, load_history  # noqa: E402
from armjit.analysis.noise_store import noise_path, record_between_run_noise  # noqa: E402
from armjit.render.history_report import history_table, rows_of  # noqa: E402
from armjit.render.tables import table  # noqa: E402

T = TypeVar("T")
TEMPLATE = ROOT / "tests" / "data" / "sleep-bound" / "sleep_5ms_a.json"
MODES = ("nojit", "jitlist", "autojit")


def _scaled(data: dict, factor: float, rng: random.Random) -> dict:
    out = json.loads(json.dumps(data))
    for bench in out["benchmarks"]:
        for run in bench["runs"]:
            if "values" in run:
                run["values"] = [v * factor * rng.uniform(0.99, 1.01) for v in run["values"]]
    return out


def generate(reports: Path, runs: int, hosts: int, seed: int = 1, *, first: int = 0) -> None:
    """Runs ``first`` to ``first + runs - 1`` of the generated history (a later call with a later
    ``first`` adds new runs to the same history)."""
    rng = random.Random(seed + first)
    template = json.loads(TEMPLATE.read_text())
    start = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    names = [f"arm{i + 1}" for i in range(hosts)]
    for i in range(first, first + runs):
        host = names[i % hosts]
        started = start + dt.timedelta(hours=3 * i)
        commit = f"{rng.getrandbits(160):040x}"
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{i:06x}_{commit[:8]}_{host}"
        run_dir = reports / "runs" / run_id
        (run_dir / "pyperf").mkdir(parents=True)
        level = 1.0 + 0.0005 * i + (0.15 if (i // hosts) % 97 == 96 else 0.0)
        modes = {}
        for mode in MODES:
            factor = level * {"nojit": 1.0, "jitlist": 0.7, "autojit": 0.8}[mode] * rng.uniform(0.98, 1.02)
            (run_dir / "pyperf" / f"{mode}.json").write_text(json.dumps(_scaled(template, factor, rng)))
            modes[mode] = {"pyperf_json": f"pyperf/{mode}.json", "runner": "pyperf", "benchmarks": ["sleep"]}
        manifest = {
            "schema_version": 1,
            "run_id": run_id,
            "kind": "baseline",
            "status": "ok",
            "started": started.isoformat(timespec="microseconds"),
            "settings": {"build": "source", "build_env": [], "host": host},
            "host": {"name": host, "arch": "aarch64", "python": "3.14.0", "nproc": "64"},
            "commits": {"commit": commit},
            "modes": modes,
            "finished": (started + dt.timedelta(minutes=20)).isoformat(timespec="microseconds"),
        }
        (run_dir / "run.json").write_text(json.dumps(manifest, indent=2))
    for host in names if first == 0 else ():
        for mode in MODES:
            record_between_run_noise(
                noise_path(reports),
                host=host,
                benchmark="sleep",
                mode=mode,
                delta=0.05,
                runs=("generated-a", "generated-b"),
            )


def _timed(call: Callable[[], T], repeat: int) -> tuple[tuple[float, float], tuple[float, float], T]:
    """(wall, CPU) of the first call, (wall, CPU) median of the later ones, and the last result.

    CPU is this process's plus its finished children's user+sys time: on a machine shared with
    other jobs it says what history costs, while the wall time also holds the wait for a core.
    """
    walls, cpus = [], []
    result: T | None = None
    for _ in range(max(2, repeat)):
        c0, w0 = _cpu(), time.perf_counter()
        result = call()
        walls.append(time.perf_counter() - w0)
        cpus.append(_cpu() - c0)
    assert result is not None
    return (walls[0], cpus[0]), (statistics.median(walls[1:]), statistics.median(cpus[1:])), result


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _cli(reports: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(ROOT), "history", "--reports", str(reports), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"history {' '.join(args)} failed: {done.stderr[-500:]}")
    return done


def _cli_answer_time(reports: Path, *, table_lines: int) -> tuple[float, str]:
    """Seconds until ``invoke history`` has printed its whole table (it flushes it before drawing
    charts), and its stderr once it exits."""
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "invoke", "-r", str(ROOT), "history", "--reports", str(reports)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        answered = 0.0
        for count, _ in enumerate(proc.stdout, start=1):
            if count == table_lines:
                answered = time.perf_counter() - started
        stderr = proc.stderr.read()
    if proc.returncode != 0 or not answered:
        raise SystemExit(f"history failed or printed no whole table: {stderr[-500:]}")
    return answered, stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="armjit-history-bench-"))
    reports = base / "reports"
    if reports.exists():
        shutil.rmtree(reports)
    t0 = time.perf_counter()
    generate(reports, args.runs, args.hosts)
    seconds = time.perf_counter() - t0
    print(f"generated {args.runs} run records x {len(MODES)} modes on {args.hosts} hosts in {seconds:.1f}s")

    index = reports / INDEX
    rows: list[tuple[str, str, str, str, str]] = []

    def load() -> History:
        return load_history(reports)

    def cold_load() -> History:
        index.unlink(missing_ok=True)
        return load_history(reports)

    first, _, found = _timed(cold_load, 1)
    rows.append(("in-process: load every record, no index", f"{first[0]:.2f}", f"{first[1]:.2f}", "", ""))
    _, warm, found = _timed(load, args.repeat)
    rows.append(("in-process: load every record, from the index", f"{warm[0]:.2f}", f"{warm[1]:.2f}", "", ""))
    _, warm, series = _timed(lambda: history.build_rows(found.points, delta=found.delta), args.repeat)
    rows.append(("in-process: judge every consecutive pair", f"{warm[0]:.2f}", f"{warm[1]:.2f}", "", ""))
    _, warm, _ = _timed(lambda: history_table(rows_of(series)), args.repeat)
    rows.append(
        (f"in-process: render the table ({len(found.points)} rows)", f"{warm[0]:.2f}", f"{warm[1]:.2f}", "", "")
    )
    marked = sum(1 for s in series for r in s.rows if r.regression)
    listed = 0
    for label, extra in (
        ("CLI: table (--no-plots --no-notes)", ("--no-plots", "--no-notes")),
        ("CLI: table + findings.md (--no-plots)", ("--no-plots",)),
        ("CLI: table + findings.md + trend charts", ()),
        ("CLI: --regressions (bootstrap rechecks)", ("--regressions",)),
    ):
        first, warm, done = _timed(lambda extra=extra: _cli(reports, *extra), args.repeat)  # type: ignore[misc]
        rows.append((label, f"{first[0]:.2f}", f"{first[1]:.2f}", f"{warm[0]:.2f}", f"{warm[1]:.2f}"))
        if extra == ("--regressions",):
            listed = len(done.stdout.strip().splitlines())
    # The everyday call: one new run has arrived (on arm1), so only that host's charts and
    # the rechecks of its new pairs are computed; every other chart is the PNG on disk.
    generate(reports, 1, args.hosts, first=args.runs)
    c0, w0 = _cpu(), time.perf_counter()
    answered, stderr = _cli_answer_time(reports, table_lines=len(found.points) + len(MODES) + 2)
    redrawn = sum(1 for line in stderr.splitlines() if line.startswith("chart: ") and "(unchanged)" not in line)
    rows.append(
        (f"CLI: after one new run, until the table is out ({redrawn} charts to draw)", f"{answered:.2f}", "", "", "")
    )
    rows.append(
        ("CLI: after one new run, until the charts are drawn too", f"{time.perf_counter() - w0:.2f}",
         f"{_cpu() - c0:.2f}", "", "")
    )  # fmt: skip
    print(
        f"{len(found.points)} results, {len(series)} series, {marked} marked by the screen, "
        f"{listed} listed after the bootstrap; 1-minute load average {os.getloadavg()[0]:.1f}"
    )
    headers = ["what", "wall s (first)", "CPU s (first)", "wall s (later, median)", "CPU s (later, median)"]
    print(table(rows, headers, "github"))
    if args.keep is None:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
