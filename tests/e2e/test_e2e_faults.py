"""The fault tier on the real CinderX host: a connection dropped mid-benchmark with armjit gone
too, then ``invoke attach``. Part of ``nox -s faults`` (marker ``faults``), not of ``nox -s e2e``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .sandbox import processes_rooted_in
from .test_e2e_baseline import GATE_FILE, ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


def _comm(pid: int) -> tuple[str, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
    name = Path(f"/proc/{pid}/comm").read_text().strip()
    return name, int(fields[1].split()[1])


def _sessions(root: Path) -> list[int]:
    """The host's per-connection sshd processes (an sshd whose parent is the listening sshd)."""
    sshd = {}
    for pid in processes_rooted_in(root):
        with contextlib.suppress(OSError, IndexError, ValueError):
            name, parent = _comm(pid)
            if name.startswith("sshd"):
                sshd[pid] = parent
    return [pid for pid, parent in sshd.items() if parent in sshd]


def test_drop_mid_benchmark_then_attach_on_the_cinderx_host(cinderx_host: Any, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    ssh = [
        "--host", cinderx_host.target,
        "--key", str(cinderx_host.key_path),
        "--known-hosts", str(cinderx_host.known_hosts_path),
        "--reports", str(reports),
    ]  # fmt: skip
    argv = [
        sys.executable, "-m", "invoke", "-r", str(ROOT), "baseline", *ssh,
        "--build", "pypi", "--bench", "richards", "--modes", "nojit,jitlist",
        "--remote-python", "/usr/bin/python3.14", "--runtime-test", str(GATE_FILE),
    ]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        state = None
        deadline = time.monotonic() + 900
        while state is None and time.monotonic() < deadline:
            found = list(cinderx_host.root.glob("root/work/incoming/armjit-runs/*/.armjit/steps/bench-jitlist-1"))
            state = found[0] if found and (found[0] / "supervisor.json").is_file() else None
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.1)
        assert state is not None, "the benchmark never started"
        # The network goes, and armjit with it (a laptop closed mid-run).
        proc.send_signal(signal.SIGKILL)
        for pid in _sessions(cinderx_host.root):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        dropped = time.monotonic()
        proc.wait()
        running = not (state / "exit.json").exists()
        attach = subprocess.run(
            [sys.executable, "-m", "invoke", "-r", str(ROOT), "attach", *ssh],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        seconds = time.monotonic() - dropped
    finally:
        if proc.poll() is None:
            proc.kill()
    assert attach.returncode == 0, attach.stderr[-4000:]
    assert running, "the benchmark ended before the drop: the fault missed"
    (run,) = list((reports / "runs").iterdir())
    m = json.loads((run / "run.json").read_text())
    assert m["status"] == "ok"
    for mode in ("nojit", "jitlist"):
        data = json.loads((run / m["modes"][mode]["pyperf_json"]).read_text())
        assert data["benchmarks"] and all(b["runs"] for b in data["benchmarks"])
    assert m["modes"]["jitlist"]["compiles"]["main"] > 0
    print(f"\ndrop mid-benchmark -> completed attach on the CinderX host: {seconds:.1f} s")
