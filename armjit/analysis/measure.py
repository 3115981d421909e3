"""What a benchmark process measured besides its pyperf values (pure parsing and rules).

- **CPU share**: the JIT hook (``armjit/cinderx/resources/armjit_jit_hook.py``) prints one
  ``armjit-cpu-share {json}`` line per process at exit when ``ARMJIT_CPU_SHARE`` is set: CPU
  time over wall time. A worker that got much less than a whole CPU was starved by other jobs;
  its wall-clock values measure the queue, not the code.
- **Clock**: ``cpu`` makes the hook replace the timer of pyperf workers by the process CPU clock.
  That misleads for benchmarks that wait (I/O, sleeps) or work in other threads or processes
  (``CPU_CLOCK_REFUSED``), so those are refused.
- **Instructions**: the count of instructions retired by one worker process, from ``perf stat``
  (hardware counter) or ``valgrind --tool=cachegrind`` (simulated); always reported as
  instructions, never as time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from armjit.errors import UsageError

__all__ = [
    "CLOCKS",
    "CPU_CLOCK_REFUSED",
    "CPU_SHARE_PREFIX",
    "METRICS",
    "CpuShare",
    "check_clock",
    "parse_cachegrind",
    "parse_perf_stat",
    "worker_share",
]

CPU_SHARE_PREFIX = "armjit-cpu-share "
CLOCKS = ("wall", "cpu")
METRICS = ("time", "instructions")

# pyperformance benchmarks whose time is not the CPU time of one thread: they wait on sockets,
# files, subprocesses or a pool of workers, so a CPU clock would leave out part of their cost.
CPU_CLOCK_REFUSED = {
    "async_tree": "asyncio, waits on sleeps",
    "async_tree_io": "asyncio with simulated I/O waits",
    "async_tree_memoization": "asyncio, waits on sleeps",
    "async_tree_cpu_io_mixed": "asyncio with simulated I/O waits",
    "asyncio_tcp": "network I/O on loopback",
    "asyncio_tcp_ssl": "network I/O on loopback",
    "asyncio_websockets": "network I/O on loopback",
    "bench_mp_pool": "a multiprocessing pool: the work happens in other processes",
    "bench_thread_pool": "a thread pool",
    "concurrent_imap": "a thread and a process pool",
    "dask": "threads and a scheduler",
    "dulwich_log": "file I/O",
    "gunicorn": "a server in another process",
    "pathlib": "file system I/O",
    "python_startup": "times a subprocess",
    "python_startup_no_site": "times a subprocess",
    "sqlite_synth": "sqlite I/O",
    "tornado_http": "network I/O on loopback",
}


def check_clock(clock: str, benches: tuple[str, ...] | list[str], metric: str = "time") -> None:
    """A one-line UsageError when ``--clock cpu`` (or ``--metric instructions``) would mislead."""
    if clock not in CLOCKS:
        raise UsageError(f"--clock {clock!r}: expected {' or '.join(CLOCKS)}")
    if metric not in METRICS:
        raise UsageError(f"--metric {metric!r}: expected {' or '.join(METRICS)}")
    if clock == "cpu" or metric == "instructions":
        what = "--clock cpu" if clock == "cpu" else "--metric instructions"
        for bench in benches:
            if bench in CPU_CLOCK_REFUSED:
                raise UsageError(
                    f"{what} would mislead for {bench} ({CPU_CLOCK_REFUSED[bench]}): use the wall clock for it"
                )


@dataclass(frozen=True)
class CpuShare:
    pid: int
    cpu: float  # seconds of CPU time (user + system, all threads)
    wall: float  # seconds since the hook ran, early in the interpreter's start
    worker: bool  # a pyperf worker (the process that times), not the runner that spawns it

    @property
    def share(self) -> float:
        return self.cpu / self.wall if self.wall > 0 else 0.0


def _shares(stderr: str) -> list[CpuShare]:
    found = []
    for line in stderr.splitlines():
        if not line.startswith(CPU_SHARE_PREFIX):
            continue
        try:
            data = json.loads(line[len(CPU_SHARE_PREFIX) :])
            found.append(CpuShare(int(data["pid"]), float(data["cpu"]), float(data["wall"]), bool(data["worker"])))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def worker_share(stderr: str) -> float | None:
    """The CPU share of the process that timed the benchmark (the pyperf worker), from its output;
    None when no process reported one (no hook in that venv)."""
    shares = _shares(stderr)
    workers = [s for s in shares if s.worker] or shares
    if not workers:
        return None
    # With several workers (one process per block is the design), the least fed one counts.
    return min(s.share for s in workers)


_PERF_LINE = re.compile(r"^\s*(?P<value>[^,]*),[^,]*,(?P<event>instructions[^,]*),")


def parse_perf_stat(text: str) -> int | None:
    """Instructions from ``perf stat -x,`` output; None when the counter is ``<not supported>``
    or ``<not counted>`` (a VM without a PMU) or absent."""
    for line in text.splitlines():
        match = _PERF_LINE.match(line)
        if match:
            value = match.group("value").strip()
            return int(value) if value.isdigit() else None
    return None


_CACHEGRIND = re.compile(r"^==\d+==\s+I\s+refs:\s+(?P<n>[\d,]+)\s*$", re.MULTILINE)


def parse_cachegrind(text: str) -> int | None:
    """Instructions from cachegrind's summary on stderr (``==pid== I   refs:   214,173,363``);
    with several processes traced, the largest (the worker)."""
    counts = [int(m.group("n").replace(",", "")) for m in _CACHEGRIND.finditer(text)]
    return max(counts) if counts else None
