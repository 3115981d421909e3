"""The measurement aids in real processes: the JIT hook's CPU share and CPU clock inside real
pyperf workers, the instruction counter under real valgrind, and the parsers on real output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from armjit.analysis import measure
from armjit.cinderx import counters
from armjit.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "armjit" / "cinderx" / "resources"
LOOP_BENCH = ROOT / "tests" / "data" / "measure" / "loop_bench.py"

# `perf stat -x, -e instructions:u -- true` on a VM without a PMU (this machine), and on a host with one.
PERF_UNSUPPORTED = "<not supported>,,instructions:u,0,100.00,,\n"
PERF_COUNTED = "214173363,,instructions:u,1203334,100.00,,\n"


def test_perf_stat_parsing() -> None:
    assert measure.parse_perf_stat(PERF_UNSUPPORTED) is None
    assert measure.parse_perf_stat(PERF_COUNTED) == 214173363
    assert measure.parse_perf_stat("") is None


def test_pick_source_prefers_the_hardware_counter() -> None:
    probe = "perf-begin\n{}perf-end\nvalgrind=/usr/bin/valgrind\n"
    assert counters.pick_source(probe.format(PERF_COUNTED))[0] == "perf"
    source, why = counters.pick_source(probe.format(PERF_UNSUPPORTED))
    assert source == "cachegrind" and "<not supported>" in why
    source, why = counters.pick_source("perf-begin\nperf-missing\nperf-end\nvalgrind=\n")
    assert source is None and "not installed" in why


def test_probe_on_this_machine_names_a_source_that_matches_what_is_installed() -> None:
    out = subprocess.run(
        ["sh", "-c", counters.counter_probe_command()], capture_output=True, text=True, check=False
    ).stdout
    source, why = counters.pick_source(out)
    if source is None:
        assert shutil.which("valgrind") is None
    else:
        assert source in counters.COUNTER_SOURCES and why


def test_clock_and_metric_refusals_are_one_line_usage_errors() -> None:
    measure.check_clock("cpu", ["richards"])
    measure.check_clock("wall", ["asyncio_tcp"])
    with pytest.raises(UsageError, match="--clock cpu would mislead for asyncio_tcp"):
        measure.check_clock("cpu", ["richards", "asyncio_tcp"])
    with pytest.raises(UsageError, match="--metric instructions would mislead for bench_mp_pool"):
        measure.check_clock("wall", ["bench_mp_pool"], "instructions")
    with pytest.raises(UsageError, match="--clock 'gpu'"):
        measure.check_clock("gpu", ["richards"])


@pytest.fixture(scope="module")
def hook_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real venv with the JIT hook installed as armjit installs it (.pth + module), and this
    environment's packages (pyperf) on its path."""
    venv = tmp_path_factory.mktemp("hookvenv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for name in ("armjit_jit_hook.py", "armjit_jit_hook.pth"):
        shutil.copy(RESOURCES / name, Path(site) / name)
    (Path(site) / "armjit_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _pyperf_run(python: Path, tmp_path: Path, clock: str, sleep: float) -> tuple[list[float], str]:
    out = tmp_path / f"{clock}.json"
    env = {
        "PATH": "/usr/bin:/bin",
        "CINDERX_DISABLE": "1",  # no cinderx in this venv: only the measurement part of the hook runs
        "ARMJIT_CPU_SHARE": "1",
        "ARMJIT_CLOCK": clock,
        "LOOP_N": "1000",
        "LOOP_SLEEP": str(sleep),
    }
    inherit = ",".join(k for k in env if k != "PATH")
    cmd = [str(python), str(LOOP_BENCH), "--processes", "1", "--values", "2", "--warmups", "0", "--loops", "1"]
    cmd += ["--inherit-environ", inherit, "-o", str(out)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    values = [v for run in data["benchmarks"][0]["runs"] for v in run.get("values", [])]
    return values, result.stderr


def test_hook_reports_the_workers_cpu_share_and_a_sleeper_is_starved(hook_venv: Path, tmp_path: Path) -> None:
    values, stderr = _pyperf_run(hook_venv, tmp_path, "wall", sleep=0.3)
    lines = [line for line in stderr.splitlines() if line.startswith(measure.CPU_SHARE_PREFIX)]
    # The runner and its one worker each report; the worker is marked.
    assert len(lines) == 2, stderr
    assert sum(json.loads(line.split(" ", 1)[1])["worker"] for line in lines) == 1
    share = measure.worker_share(stderr)
    assert share is not None
    # The worker slept through 0.6 s of its values: it had the CPU far less than half the time.
    assert share < 0.5
    assert all(v >= 0.3 for v in values)


def test_cpu_clock_leaves_out_the_time_a_worker_is_off_the_cpu(hook_venv: Path, tmp_path: Path) -> None:
    wall, _ = _pyperf_run(hook_venv, tmp_path, "wall", sleep=0.2)
    cpu, _ = _pyperf_run(hook_venv, tmp_path, "cpu", sleep=0.2)
    assert min(wall) >= 0.2
    # 1000 loop iterations cost well under a millisecond of CPU; the 0.2 s sleep costs none.
    assert max(cpu) < 0.05


def test_no_line_without_the_variable(hook_venv: Path) -> None:
    result = subprocess.run(
        [str(hook_venv), "-c", "pass"], env={"CINDERX_DISABLE": "1"}, capture_output=True, text=True, check=True
    )
    assert measure.CPU_SHARE_PREFIX.strip() not in result.stderr
    assert measure.worker_share(result.stderr) is None


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed (Debian package valgrind)")
def test_cachegrind_counts_a_known_change_of_instructions(tmp_path: Path) -> None:
    """N, N again, and 1.01N loop iterations: the counts repeat to well under 0.1% and the extra
    1% of the loop appears as 1% of the loop's own instructions (the loop's size is measured as the
    difference to a run with no loop, so interpreter start-up does not dilute it)."""

    def count(n: int, seed: int) -> int:
        env = {"LOOP_N": str(n), "PYTHONHASHSEED": str(seed), "PATH": "/usr/bin:/bin"}
        command = counters.instructions_command(
            "cachegrind", python=sys.executable, bench_file=str(LOOP_BENCH), env=env, loops=1, values=1, warmups=0
        )
        result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=600, check=False)
        assert result.returncode == 0, result.stderr[-2000:]
        found = counters.parse_count("cachegrind", result.stderr)
        assert found is not None, result.stderr[-2000:]
        return found

    n = 200_000
    base, again, more, none = count(n, 1), count(n, 1), count(n * 101 // 100, 1), count(0, 1)
    loop = base - none
    assert abs(again - base) / base < 0.001
    assert (more - base) / loop == pytest.approx(0.01, rel=0.05)
