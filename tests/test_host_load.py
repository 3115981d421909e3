"""``ab --quiet-wait``'s probe of the host's load: its parsing, and the real probe on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from armjit.analysis.host_load import PROBE_COMMAND, PROBE_SAMPLES, HostLoad, parse_probe

HOG = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


def output(runnable: list[str], cpus: str = "2") -> str:
    return "".join(f"runnable {r}\n" for r in runnable) + f"cpus {cpus}\n"


def probe() -> HostLoad | None:
    done = subprocess.run(["sh", "-c", PROBE_COMMAND], capture_output=True, text=True, timeout=60, check=True)
    return parse_probe(done.stdout)


@pytest.fixture
def more_hogs_than_cpus() -> Iterator[int]:
    cpus = os.cpu_count() or 1
    procs = [subprocess.Popen([sys.executable, "-c", HOG, "120"]) for _ in range(cpus + 1)]
    try:
        yield cpus
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def test_the_smallest_count_of_the_window_less_the_probe_itself_is_the_competition() -> None:
    # A task runnable at one sample only (an sshd relaying output) is not a competitor.
    load = parse_probe(output(["3/200", "1/200", "5/201", "3/200", "2/200"]))
    assert load == HostLoad(others=0, cpus=2) and load.quiet
    busy = parse_probe(output(["3/200"] * PROBE_SAMPLES))
    assert busy == HostLoad(others=2, cpus=2) and not busy.quiet
    assert "2 other runnable tasks on 2 CPUs" in busy.line()
    assert parse_probe(output(["2/90"] * PROBE_SAMPLES, cpus="4")) == HostLoad(1, 4)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sh: 1: cannot open /proc/loadavg: No such file\n",  # not Linux: the wait is turned off
        output(["3/200"] * (PROBE_SAMPLES - 1)),  # cut short
        output(["3/200"] * PROBE_SAMPLES, cpus="0"),
        output(["x/200"] * PROBE_SAMPLES),
        output(["3"] * PROBE_SAMPLES),
    ],
)
def test_output_that_is_not_the_probe_s_says_unknown(text: str) -> None:
    assert parse_probe(text) is None


def test_the_probe_reads_this_machine() -> None:
    load = probe()
    assert load is not None
    assert load.cpus == os.cpu_count()
    assert load.others >= 0


def test_the_probe_sees_no_free_cpu_beside_more_hogs_than_cpus(more_hogs_than_cpus: int) -> None:
    # Every hog is runnable all the time, so once they have started the host is busy, however
    # busy it already was. They start within seconds even on a loaded machine.
    deadline = time.monotonic() + 60
    load = probe()
    while load is not None and load.quiet and time.monotonic() < deadline:
        time.sleep(0.5)
        load = probe()
    assert load is not None and not load.quiet
    assert load.others > more_hogs_than_cpus - 1
