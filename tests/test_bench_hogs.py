"""bench/validate_verdicts.py's CPU hogs: bounded in time and always stopped, with real processes."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from invoke_cli import as_from_a_terminal

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "validate_verdicts.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("validate_verdicts", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_hogs_are_stopped_when_the_measurement_fails() -> None:
    bench = load_bench()
    with pytest.raises(RuntimeError, match="measurement failed"), bench.cpu_hogs(2, 600) as procs:
        assert len(procs) == 2 and all(p.poll() is None for p in procs)
        raise RuntimeError("measurement failed")
    assert all(p.returncode is not None for p in procs)


def test_a_hog_ends_by_itself_at_its_time_bound() -> None:
    bench = load_bench()
    with bench.cpu_hogs(1, 0.5) as procs:
        # Generous: under load the hog may start late, but it ends on its own, with status 0.
        assert procs[0].wait(timeout=120) == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_of_the_script_stops_its_hogs(sig: signal.Signals, tmp_path: Path) -> None:
    argv = [sys.executable, str(SCRIPT), "--hogs", "2", "--hog-seconds", "600", "--pool-file", str(tmp_path / "p.json")]
    proc = subprocess.Popen(
        as_from_a_terminal(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the hogs are announced as soon as they run
    if not line.startswith("hogs:"):
        proc.kill()
        pytest.fail(f"no hogs announced: {line}{proc.stderr.read()[-2000:]}")
    pids = [int(p) for p in line.split("pids")[1].split()]
    assert len(pids) == 2 and not any(gone(p) for p in pids)
    proc.send_signal(sig)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert all(gone(p) for p in pids), pids
    assert not (tmp_path / "p.json").exists()  # nothing half-measured was saved
