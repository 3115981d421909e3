"""What the fault tests share: one armjit baseline as a real process against the loopback sshd,
ways to hurt its connection (drop, stall), and the checks every fault ends with.

The "host" is this machine behind sshd, so a test can look at the host's files directly: the
remote run dir, the supervisor's state per step, the lease beside the work dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from invoke_cli import as_from_a_terminal
from sshd import SshdHost

ROOT = Path(__file__).resolve().parents[2]
ROWS: list[dict[str, str]] = []  # the reliability table, one row per fault (see conftest.py)


_GENERIC = (
    (re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}_[A-Za-z0-9._-]+?(?=[,:) `]|$)"), "RUN"),
    (re.compile(r"\S+@127\.0\.0\.1:\d+"), "HOST"),
    (re.compile(r"\S+@\S+ \(run RUN"), "USER@MACHINE (run RUN"),
    (re.compile(r"pid \d+"), "pid PID"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"), "TIME"),
    (re.compile(r"SHA256:\S+"), "SHA256:..."),
)


def record_row(fault: str, sees: str, kept: str, recover: float | None) -> None:
    """One row of the reliability table; run ids, ports, pids and times made generic."""
    for pattern, text in _GENERIC:
        sees = pattern.sub(text, sees)
    ROWS.append({"fault": fault, "sees": sees, "kept": kept, "recover": "" if recover is None else f"{recover:.1f} s"})


@dataclass
class Baseline:
    """``invoke baseline`` (or attach/cancel) against ``sshd`` with the fixture target."""

    sshd: SshdHost
    repo: Any
    root: Path
    extra: tuple[str, ...] = ()
    processes: int = 3  # benchmark worker processes per mode: more makes a benchmark last longer
    reconnect_for: int = 120
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def remote_root(self) -> Path:
        return self.root / "remote root"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def ssh_flags(self) -> list[str]:
        s = self.sshd
        return [
            "--host", f"{s.user}@{s.host}:{s.port}",
            "--key", str(s.key_path),
            "--known-hosts", str(s.known_hosts_path),
            "--reports", str(self.reports),
            "--connect-timeout", "5",
            "--reconnect-for", str(self.reconnect_for),
        ]  # fmt: skip

    def argv(self, *more: str) -> list[str]:
        r = self.remote_root
        return [
            sys.executable, "-m", "invoke", "-r", str(ROOT), "baseline",
            *self.ssh_flags(),
            "--repo", str(self.repo.path),
            "--branch", self.repo.work_branch,
            "--remote-workdir", str(r / "work"),
            "--remote-incoming", str(r / "incoming"),
            "--remote-python", sys.executable,
            "--driver-venv", str(r / "venv-driver"),
            "--bench-script", "bench/bm_fixture.py",
            "--modes", "nojit,jitlist",
            "--processes", str(self.processes), "--values", "2", "--warmups", "1",
            *self.extra, *more,
        ]  # fmt: skip

    def task_argv(self, task: str, *more: str) -> list[str]:
        return [sys.executable, "-m", "invoke", "-r", str(ROOT), task, *self.ssh_flags(), *more]

    def start(self, argv: list[str]) -> subprocess.Popen[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ARMJIT_")}
        proc = subprocess.Popen(
            as_from_a_terminal(argv), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean
        )
        self.procs.append(proc)
        return proc

    def run(self, argv: list[str], timeout: int = 900) -> subprocess.CompletedProcess[str]:
        proc = self.start(argv)
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    # -- the host's side ---------------------------------------------------------------------
    def remote_runs(self) -> list[Path]:
        return sorted((self.remote_root / "incoming" / "armjit-runs").glob("*"))

    def state(self, key: str) -> Path | None:
        for run in self.remote_runs():
            path = run / ".armjit" / "steps" / key
            if (path / "supervisor.json").is_file():
                return path
        return None

    def wait_for_step(self, key: str, proc: subprocess.Popen[str], timeout: float = 600) -> Path:
        """Wait until detached step ``key`` runs on the host; its state dir."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.state(key)
            if found is not None:
                return found
            if proc.poll() is not None:
                raise AssertionError(f"armjit ended ({proc.returncode}) before {key}: {proc.stderr.read()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"{key} did not start within {timeout}s")

    def lease(self) -> Path:
        return self.remote_root / ".work.armjit-lease"

    # -- hurting the connection ------------------------------------------------------------------
    def sessions(self) -> list[int]:
        """The per-connection sshd processes (children of the listener)."""
        assert self.sshd.pid is not None
        out = subprocess.run(["pgrep", "-P", str(self.sshd.pid)], capture_output=True, text=True, check=False)
        return [int(p) for p in out.stdout.split()]

    def drop(self) -> int:
        """Kill every session's sshd: the client sees its connection die (a dropped network)."""
        pids = self.sessions()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def stall(self) -> list[int]:
        """SIGSTOP every session (a connection that stays up but says nothing)."""
        pids = self.sessions()
        for pid in pids:
            for child in [pid, *_tree(pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGSTOP)
        return pids

    def wake_and_end(self, pids: list[int]) -> None:
        for pid in pids:
            for child in [*_tree(pid), pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
                    os.kill(child, signal.SIGCONT)

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    # -- the checks every fault ends with ---------------------------------------------------------
    def leftovers(self) -> list[str]:
        """Processes still running from this test's host dirs (supervisors, benchmarks, builds)."""
        out = subprocess.run(["pgrep", "-af", str(self.remote_root)], capture_output=True, text=True, check=False)
        return [line for line in out.stdout.splitlines() if "pgrep" not in line]


def _tree(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    found = []
    for child in (int(p) for p in out.stdout.split()):
        found += [child, *_tree(child)]
    return found


def only_run(reports: Path) -> Path:
    runs = [p for p in (reports / "runs").iterdir() if (p / "run.json").is_file()]
    assert len(runs) == 1, runs
    return runs[0]


def check_complete(run: Path, *, processes: int = 3, modes: tuple[str, ...] = ("nojit", "jitlist")) -> dict[str, Any]:
    """The run ended ok with every mode measured once: ``processes`` worker runs with values per
    mode (a benchmark measured twice into one result would hold more), its JIT logs fetched,
    and no file half-written anywhere in the run."""
    m: dict[str, Any] = json.loads((run / "run.json").read_text())
    assert m["status"] == "ok", (m.get("status"), m.get("failure"))
    for name in modes:
        mode = m["modes"][name]
        data = json.loads((run / mode["pyperf_json"]).read_text())
        runs = [r for b in data["benchmarks"] for r in b["runs"] if r.get("values")]
        assert len(runs) == processes, (name, len(runs))
        for log in mode["jit_logs"]:
            assert (run / log).is_file()
    partial = [p for p in run.rglob("*") if p.name.endswith(".part") or ".tmp" in p.name or p.name.startswith(".")]
    assert partial == [], partial
    return m


def first_line(text: str, *needles: str) -> str:
    for line in text.splitlines():
        if any(n in line for n in needles):
            return line.strip()
    return ""
