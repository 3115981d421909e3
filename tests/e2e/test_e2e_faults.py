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


def _baseline_argv(cinderx_host: Any, reports: Path) -> tuple[list[str], list[str]]:
    """The flags that reach the host, and a pypi baseline of richards in two modes with them."""
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
    return ssh, argv


def test_drop_mid_benchmark_then_attach_on_the_cinderx_host(cinderx_host: Any, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    ssh, argv = _baseline_argv(cinderx_host, reports)
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


# Room for the uploads and an empty venv (13 MB), not for the driver venv with the cinderx wheel and
# the tools in it (79 MB): the run fails while it installs, not before.
SMALL_DISK = "30m"


def _started_in(root: Path, folder: str) -> list[str]:
    """Command lines of the host's live processes that mention ``folder`` (what a run there started)."""
    found = []
    for pid in processes_rooted_in(root):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if folder in argv:
                found.append(f"{pid}: {argv}")
    return found


def test_full_disk_then_resume_on_the_cinderx_host(cinderx_host: Any, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    small = cinderx_host.root / "mnt" / "small"
    ssh, argv = _baseline_argv(cinderx_host, reports)
    argv += ["--remote-workdir", "/mnt/small/work", "--remote-incoming", "/mnt/small/incoming"]
    argv += ["--driver-venv", "/mnt/small/venv-driver"]

    def invoke(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*argv, *extra], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)

    small.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK}", "tmpfs", str(small)], check=True)
    try:
        # The default minimum asks for more than the disk has: refused before anything is written.
        refused = invoke()
        assert refused.returncode == 2, refused.stderr[-4000:]
        assert "Traceback" not in refused.stderr
        last = refused.stderr.strip().splitlines()[-1]
        assert last.startswith(f"armjit: not enough free space on {cinderx_host.target}:/mnt/small:"), last
        assert list(small.iterdir()) == []
        assert not (reports / "runs").is_dir() or not list((reports / "runs").iterdir())

        # Without the check the run starts, and the disk fills while it installs.
        full = invoke("--min-free-venv", "0")
        assert full.returncode == 1, full.stderr[-4000:]
        assert "Traceback" not in full.stderr
        last = full.stderr.strip().splitlines()[-1]
        assert f"no space left on device on {cinderx_host.target}:/mnt/small/" in last, full.stderr[-4000:]
        (run,) = list((reports / "runs").iterdir())
        m = json.loads((run / "run.json").read_text())
        assert m["status"] == "failed", m
        assert f"no space left on device on {cinderx_host.target}:/mnt/small/" in m["failure"]["cause"], m
        assert m["failure"]["cause"] in last, (last, m["failure"])
        assert _started_in(cinderx_host.root, "/mnt/small") == []

        # Space again: the run goes on from where it stopped, with the settings it recorded.
        subprocess.run(["mount", "-o", "remount,size=4g", str(small)], check=True)
        started = time.monotonic()
        resumed = subprocess.run(
            [sys.executable, "-m", "invoke", "-r", str(ROOT), "baseline", *ssh, "--resume", "latest"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        seconds = time.monotonic() - started
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert list((reports / "runs").iterdir()) == [run]
    m = json.loads((run / "run.json").read_text())
    assert m["status"] == "ok", m.get("failure")
    for mode in ("nojit", "jitlist"):
        data = json.loads((run / m["modes"][mode]["pyperf_json"]).read_text())
        assert data["benchmarks"] and all(b["runs"] for b in data["benchmarks"])
    assert m["modes"]["jitlist"]["compiles"]["main"] > 0
    steps = [s["name"] for s in m["steps"]]
    assert steps.count("driver-venv") == 1, steps
    assert _started_in(cinderx_host.root, "/mnt/small") == []
    print(f"\nfull disk on the CinderX host -> resumed run completed: {seconds:.1f} s")
