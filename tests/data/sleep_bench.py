"""A sleep-bound benchmark as a pyperf Runner script: ``time.sleep(MS / 1000)`` per iteration.

It made ``sleep-bound/*.json``: two versions that really differ (``--ms 5`` and ``--ms 6.5``) whose
wall time hardly depends on the machine's load, so their process medians are stable (CV 3-4%) even
on a shared 2-core machine where a CPU-bound benchmark's vary by 15-30%. For example:
``python tests/data/sleep_bench.py --ms 5 -p 10 -n 3 -w 1 --loops 8 -o out.json``
"""

from __future__ import annotations

import argparse
import time

import pyperf


def _forward(cmd: list[str], args: argparse.Namespace) -> None:
    cmd.extend(["--ms", str(args.ms)])


def main() -> None:
    runner = pyperf.Runner(add_cmdline_args=_forward)
    runner.argparser.add_argument("--ms", type=float, default=5.0)
    runner.metadata["description"] = "time.sleep per iteration (armjit test data)"
    ms = runner.parse_args().ms
    runner.bench_func("sleep", time.sleep, ms / 1000)


if __name__ == "__main__":
    main()
