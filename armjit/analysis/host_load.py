"""Is the host quiet enough to start a block? (``ab --quiet-wait``: parsing, the rule, and the
wait around a probe the caller runs, so that ``ab`` and bench/quiet_wait_bench.py wait alike.)

The signal is the kernel's count of runnable tasks (the fourth field of ``/proc/loadavg``,
``running/total``), read several times in a quarter of a second by a shell builtin. Unlike the
load average it does not lag by a minute, and it is zero-cost to read. The reading shell is
itself running at each sample, so the competitors are that count less one; the smallest count
of the window is kept, so a task that was runnable for a moment (an sshd relaying output, a
short ``ls``) does not count, while a build or another benchmark, runnable all the time, does.

A block's wall-clock values are clean when its worker gets a CPU of its own: the host is quiet
when fewer other tasks are runnable than it has CPUs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PROBE_COMMAND", "PROBE_SAMPLES", "HostLoad", "Wait", "parse_probe", "wait_until_quiet"]

PROBE_SAMPLES = 5
# POSIX sh: ``read`` is a builtin, so sampling forks nothing but ``sleep`` between the samples.
PROBE_COMMAND = (
    "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 0); "
    f"for i in {' '.join(str(i) for i in range(PROBE_SAMPLES))}; do "
    'read -r one five fifteen tasks last < /proc/loadavg || exit 3; echo "runnable $tasks"; sleep 0.05; '
    'done; echo "cpus $cpus"'
)


@dataclass(frozen=True)
class HostLoad:
    others: int  # tasks runnable besides the probe, the smallest of the window
    cpus: int

    @property
    def quiet(self) -> bool:
        """A CPU is free for the benchmark's worker."""
        return self.others < self.cpus

    def line(self) -> str:
        return f"{self.others} other runnable task{'s' if self.others != 1 else ''} on {self.cpus} CPUs"


def parse_probe(text: str) -> HostLoad | None:
    """The probe's output -> the load; None when the host has no ``/proc/loadavg`` (not Linux) or
    printed something else, so that the caller can say the wait is off instead of guessing."""
    runnable: list[int] = []
    cpus = 0
    for line in text.splitlines():
        word, _, value = line.strip().partition(" ")
        if word == "runnable":
            running, slash, _total = value.partition("/")
            if not slash or not running.isdigit():
                return None
            runnable.append(int(running))
        elif word == "cpus" and value.isdigit():
            cpus = int(value)
    if len(runnable) != PROBE_SAMPLES or cpus < 1:
        return None
    return HostLoad(max(min(runnable) - 1, 0), cpus)


@dataclass(frozen=True)
class Wait:
    load: HostLoad | None  # the last probe's; None: the host cannot tell its load
    seconds: float
    waited: bool  # the first probe found the host busy


def wait_until_quiet(
    probe: Callable[[], HostLoad | None], limit: float, on_busy: Callable[[HostLoad], None] = lambda load: None
) -> Wait:
    """Probe, then again every second, until a CPU is free or ``limit`` seconds have passed;
    ``on_busy`` hears the first busy probe."""
    started = time.monotonic()
    waited = False
    while True:
        load = probe()
        seconds = time.monotonic() - started
        if load is None or load.quiet or seconds >= limit:
            return Wait(load, seconds, waited)
        if not waited:
            on_busy(load)
            waited = True
        time.sleep(min(1.0, limit - seconds))
