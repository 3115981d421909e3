"""Throughput and peak memory of armjit.jitlog on a generated 1 GB JIT log, next to grep.

    .venv/bin/python bench/jitlog_bench.py [--size-mb 1024] [--jobs N]

The log is made of the real per-process logs in ../shared/fixtures/cinderx-2026.11 (startup lines,
compiles, inlining, failures, shutdown: the mix of a directory of per-pid logs), with compile
times and code addresses re-drawn so no two blocks are identical. It is written to a temporary
directory and deleted afterwards. Every measurement runs in a fresh child process; its peak RSS is
the child's own VmHWM and, with worker processes, the largest ru_maxrss among them. Targets:
>= 300 MB/s and peak RSS < 100 MB.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures" / "cinderx-2026.11" / "jitlogs"
sys.path.insert(0, str(REPO))

from armjit.render import table  # noqa: E402

_FALLBACK = (
    "JIT: cinderx/Jit/jit_flag_processor.cpp:183 -- CINDERX_JIT_LOG_FILE has been specified - write log entries\n"
    "JIT: cinderx/Jit/pyjit.cpp:2180 -- Configuring JIT to compile functions after 1000 calls\n"
    "JIT: cinderx/Jit/compiler.cpp:259 -- Compiling __main__:f\n"
    "JIT: cinderx/Jit/hir/inliner.cpp:586 -- Inlining function __main__:g into __main__:f\n"
    "JIT: cinderx/Jit/compiler.cpp:329 -- Finished compiling __main__:f in 972µs, code size: 1064 bytes\n"
    "JIT: cinderx/Jit/compiler.cpp:259 -- Compiling collections:namedtuple\n"
    "JIT: cinderx/Jit/pyjit.cpp:5365 -- Cannot compile collections:namedtuple to HIR because it uses banned "
    "global 'eval'\n"
    "JIT: cinderx/Jit/pyjit.cpp:4437 -- Background compile failed: 8 for collections:namedtuple\n"
    "JIT: cinderx/Jit/pyjit.cpp:4919 -- CinderX JIT Total Compilation Time: 89ms\n"
).encode()
_US = re.compile(rb"in \d+\xc2\xb5s")
_ADDR = re.compile(rb"0x[0-9a-f]{6,}")


def _template() -> bytes:
    logs = sorted(FIXTURES.glob("*/*.log")) if FIXTURES.is_dir() else []
    return b"".join(p.read_bytes() for p in logs) or _FALLBACK


def generate(path: Path, size: int, seed: int = 1) -> None:
    """Write about ``size`` bytes: 16 re-drawn variants of the template, cycled."""
    rng = random.Random(seed)
    base = _template()
    variants = []
    for _ in range(16):
        text = _US.sub(lambda _m: f"in {rng.randint(150, 700_000)}µs".encode(), base)
        variants.append(_ADDR.sub(lambda _m: f"0x{rng.getrandbits(44):x}".encode(), text))
    written = 0
    with path.open("wb") as out:
        while written < size:
            block = variants[rng.randrange(16)]
            out.write(block)
            written += len(block)


_CHILD = r"""
import json, os, re, resource, sys, time
sys.path.insert(0, {repo!r})
path, mode = sys.argv[1], sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
if mode == "naive":
    pat = re.compile(rb"JIT: (\S+):(\d+) -- (.*)")
    n = 0
    with open(path, "rb") as f:
        for line in f:
            m = pat.match(line)
            if m and m.group(3).startswith(b"Finished compiling "):
                n += 1
    compiled = n
else:
    from pathlib import Path
    from armjit.jitlog import read_log
    log = read_log(Path(path), jobs=int(mode))
    compiled = log.compiled
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
hwm = 0
with open("/proc/self/status") as s:
    for line in s:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"wall": wall, "cpu": cpu + kids.ru_utime + kids.ru_stime, "hwm_kb": hwm,
                  "children_kb": kids.ru_maxrss, "compiled": compiled}}))
"""


def measure(path: Path, mode: str) -> dict[str, float]:
    import json

    code = _CHILD.format(repo=str(REPO))
    done = subprocess.run([sys.executable, "-c", code, str(path), mode], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def grep_count(path: Path) -> tuple[float, float, int, float]:
    """Wall seconds, CPU seconds, count and peak RSS (MB) of ``grep -c`` on the file."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(["grep", "-c", "Finished compiling", str(path)], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, int(done.stdout.strip() or 0), after.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--jobs", type=int, default=0, help="worker processes for the parallel row (0: auto)")
    args = parser.parse_args()
    from armjit.jitlog.parallel import default_jobs

    jobs = args.jobs or default_jobs()
    with tempfile.TemporaryDirectory(prefix="jitlog-bench-") as tmp:
        path = Path(tmp) / "big_jit.log"
        t0 = time.perf_counter()
        generate(path, args.size_mb << 20)
        size = path.stat().st_size
        print(f"generated {size / 1e6:.0f} MB in {time.perf_counter() - t0:.1f} s; load {os.getloadavg()[0]:.2f}")
        with path.open("rb") as warm:  # page cache warmed once, alike for every reader
            while warm.read(1 << 24):
                pass
        gwall, gcpu, gcount, grss = grep_count(path)
        rows = [
            [
                "grep -c 'Finished compiling'",
                f"{size / gwall / 1e6:.0f}",
                f"{gcpu * 1e9 / size:.2f}",
                f"{grss:.0f}",
                "1.000",
                gcount,
            ]
        ]
        for label, mode in (
            ("plain per-line regex loop", "naive"),
            ("armjit.jitlog, 1 process", "1"),
            (f"armjit.jitlog, {jobs} processes", str(jobs)),
        ):
            r = measure(path, mode)
            rss = max(r["hwm_kb"], r["children_kb"]) / 1024
            rows.append(
                [
                    label,
                    f"{size / r['wall'] / 1e6:.0f}",
                    f"{r['cpu'] * 1e9 / size:.2f}",
                    f"{rss:.0f}",
                    f"{gwall / r['wall']:.3f}",
                    int(r["compiled"]),
                ]
            )
        print(
            table(
                rows,
                ["reader", "MB/s", "CPU ms/MB", "peak RSS MB", "speed vs grep", "Finished compiling"],
            )
        )
        print(f"load after: {os.getloadavg()[0]:.2f} (2 CPUs shared: wall figures move with it)")


if __name__ == "__main__":
    main()
