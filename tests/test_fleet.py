"""``--hosts``: one task on several real sshd hosts on 127.0.0.1 at once, through the real CLI.

Both hosts are this machine seen through separate sshd servers, each with its own HOME (so its
own work dir, venvs and run dirs under ``~``). The second host's sessions run with
``OMP_NUM_THREADS=1``, which ``nproc`` honours: that host reports one core, so the hosts' facts
differ as two machines' would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import as_from_a_terminal, run_invoke
from sshd import SshdHost

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.ssh, pytest.mark.slow]

SLEEP_SCRIPT = """
import time
import pyperf

runner = pyperf.Runner()
runner.bench_func("sleep", time.sleep, {ms} / 1000)
"""


def _one_core(server: SshdHost) -> None:
    text = server.config_path.read_text()
    server.config_path.write_text(
        text.replace(f"SetEnv HOME={server.home}", f"SetEnv HOME={server.home} OMP_NUM_THREADS=1")
    )
    server.stop()
    server.start()


def _ssh_config(servers: dict[str, SshdHost], path: Path) -> Path:
    entries = []
    for alias, s in servers.items():
        entries.append(
            f"Host {alias}\n    HostName {s.host}\n    Port {s.port}\n    User {s.user}\n"
            f"    IdentityFile {s.key_path}\n    IdentitiesOnly yes\n"
        )
    path.write_text("".join(entries))
    return path


def _fleet_argv(tmp_path: Path, ssh_config: Path, script: Path, *extra: str) -> list[str]:
    return [
        "baseline", "--ssh-config", str(ssh_config), "--known-hosts", str(tmp_path / "known_hosts"),
        "--reports", str(tmp_path / "reports"),
        "--remote-workdir", "~/work", "--remote-incoming", "~/incoming", "--driver-venv", "~/venv-driver",
        "--remote-python", sys.executable, "--bench-script", str(script),
        "--processes", "4", "--values", "2", "--warmups", "1", "--loops", "2", *extra,
    ]  # fmt: skip


def _worker_running_under(home: Path) -> bool:
    """A pyperf worker process (``--worker``) whose command line names a path under ``home``."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--worker" in argv and any(str(home).encode() in arg for arg in argv):
            return True
    return False


def _fleet(tmp_path: Path) -> dict[str, Any]:
    (path,) = (tmp_path / "reports" / "fleets").glob("*/fleet.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _run(tmp_path: Path, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "reports" / "runs" / run_id / "run.json").read_text())
    return data


@pytest.fixture
def two_hosts(sshd_factory: Callable[[], SshdHost], tmp_path: Path) -> tuple[dict[str, SshdHost], Path, Path]:
    servers = {"arm1": sshd_factory(), "arm2": sshd_factory()}
    _one_core(servers["arm2"])
    script = tmp_path / "bm_sleep.py"
    script.write_text(SLEEP_SCRIPT.format(ms=20))
    return servers, _ssh_config(servers, tmp_path / "ssh_config"), script


def test_two_hosts_in_parallel_give_the_cross_host_and_facts_tables(
    two_hosts: tuple[dict[str, SshdHost], Path, Path], tmp_path: Path
) -> None:
    servers, ssh_config, script = two_hosts
    done = run_invoke(*_fleet_argv(tmp_path, ssh_config, script, "--hosts", "arm1,arm2", "--reference", "arm2"))
    assert done.returncode == 0, done.stderr[-3000:]
    fleet = _fleet(tmp_path)
    assert fleet["status"] == "ok" and fleet["reference"] == "arm2" and list(fleet["hosts"]) == ["arm1", "arm2"]
    for alias, entry in fleet["hosts"].items():
        run = _run(tmp_path, entry["run_id"])
        assert run["status"] == "ok" and run["host"]["name"].endswith(f":{servers[alias].port}")
        assert run["modes"]["nojit"]["value"] > 0
    cores = {a: _run(tmp_path, e["run_id"])["host"]["nproc"] for a, e in fleet["hosts"].items()}
    assert cores["arm2"] == "1" and cores["arm1"] != "1"
    # Every progress line names its host (or the fleet): no line mixes two hosts.
    for line in done.stderr.splitlines():
        assert line.split(" ", 1)[0] in ("fleet", "arm1", "arm2"), line
    findings = (tmp_path / "reports" / "findings.md").read_text()
    block = findings.split(f"<!-- armjit:begin fleet-{fleet['fleet_id']} -->")[1].split("<!-- armjit:end")[0]
    (row,) = [line for line in block.splitlines() if line.startswith("| sleep")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "nojit" and cells[3].endswith("(reference)")
    ratio = float(cells[2].split(", x")[1].split()[0])
    lo, hi = (float(x) for x in cells[2].split("[")[1].rstrip("]").split(","))
    assert lo <= ratio <= hi and 0.5 < ratio < 2.0
    facts = {
        cells[0]: cells
        for line in block.splitlines()
        if line.startswith("| arm") and len(cells := [c.strip() for c in line.strip("|").split("|")]) == 7
    }
    assert facts["arm2"][3] == "1" and facts["arm1"][3] != "1"  # cores
    assert facts["arm1"][1] == facts["arm2"][1] and facts["arm1"][5]  # arch, python

    # verify re-runs each host's baseline on that host, in parallel: one verdict per host
    verified = run_invoke("verify", "--fleet", "latest", "--reports", str(tmp_path / "reports"), "--json")
    assert verified.returncode == 0, verified.stderr[-3000:]
    answers = {row["host"]: row for row in json.loads(verified.stdout)["hosts"]}
    assert set(answers) == {"arm1", "arm2"}
    for alias, row in answers.items():
        assert row["baseline"] == fleet["hosts"][alias]["run_id"] and row["per benchmark and mode"].startswith(
            "sleep/nojit "
        )
        record = _run(tmp_path, row["verify record"])
        assert record["kind"] == "verify" and record["from_run"] == row["baseline"]
        assert _run(tmp_path, record["to_run"])["host"]["name"].endswith(f":{servers[alias].port}")
    assert f"verify-fleet-{fleet['fleet_id']}" in (tmp_path / "reports" / "findings.md").read_text()

    # history reads the fleet's runs with the others (the verify re-runs are baselines too)
    shown = run_invoke("history", "--reports", str(tmp_path / "reports"), "--no-plots", "--no-notes")
    assert shown.returncode == 0, shown.stderr
    assert len([line for line in shown.stdout.splitlines() if " sleep " in line]) == 4


def test_a_host_that_goes_down_mid_run_fails_alone(
    two_hosts: tuple[dict[str, SshdHost], Path, Path], tmp_path: Path
) -> None:
    servers, ssh_config, script = two_hosts
    script.write_text(SLEEP_SCRIPT.format(ms=150))  # long enough to be cut off while benchmarking
    runs = tmp_path / "reports" / "runs"
    stopped = threading.Event()

    def cut_arm2() -> None:
        # Cut only once a benchmark worker runs on arm2: the step's log appears before its command
        # has started there, and a host lost before that has nothing going on to detach from.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if _worker_running_under(servers["arm2"].home):
                servers["arm2"].stop()
                stopped.set()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=cut_arm2, daemon=True)
    watcher.start()
    # A host that stays away: armjit reconnects for --reconnect-for seconds, then leaves the step to
    # go on there (the run is `detached`, for attach) and the fleet carries on without it.
    done = run_invoke(*_fleet_argv(tmp_path, ssh_config, script, "--hosts", "arm1,arm2", "--reconnect-for", "5"))
    watcher.join(5)
    assert stopped.is_set(), done.stderr[-3000:]
    assert done.returncode == 1, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("armjit: 1 of 2 hosts failed")
        and "arm2: " in last
        and "arm1" not in last.split("arm2")[0].split("failed")[1]
    )
    fleet = _fleet(tmp_path)
    assert fleet["status"] == "partial"
    ok, down = fleet["hosts"]["arm1"], fleet["hosts"]["arm2"]
    assert ok["status"] == "ok" and down["status"] == "failed" and down["cause"]
    kept = _run(tmp_path, ok["run_id"])
    assert kept["status"] == "ok" and (runs / ok["run_id"] / kept["modes"]["nojit"]["pyperf_json"]).is_file()
    lost = _run(tmp_path, down["run_id"])
    assert lost["status"] == "detached" and lost["failure"]["step"] == "bench-nojit"
    findings = (tmp_path / "reports" / "findings.md").read_text()
    rows = [
        [c.strip() for c in line.strip("|").split("|")] for line in findings.splitlines() if line.startswith("| arm")
    ]
    assert ["arm2", "failed", down["run_id"]] in [r[:3] for r in rows]
    assert "(reference)" in findings  # the cross-host table of the host that finished


def test_ab_on_two_hosts_gives_one_verdict_per_host(
    two_hosts: tuple[dict[str, SshdHost], Path, Path], tmp_path: Path
) -> None:
    servers, ssh_config, script = two_hosts
    argv = _fleet_argv(tmp_path, ssh_config, script, "--hosts", "arm1,arm2")
    argv[0] = "ab"
    at = argv.index("--processes")  # ab runs one worker per side in each block: it refuses --processes
    del argv[at : at + 2]
    done = run_invoke(*argv, "--aa", "--blocks", "5")
    assert done.returncode == 0, done.stderr[-3000:]
    fleet = _fleet(tmp_path)
    assert fleet["kind"] == "aa" and fleet["status"] == "ok"
    for alias, entry in fleet["hosts"].items():
        run = _run(tmp_path, entry["run_id"])
        assert run["kind"] == "aa" and run["host"]["name"].endswith(f":{servers[alias].port}")
        (comparison,) = run["report"]["comparisons"]
        assert f"{alias}: {comparison['benchmark']}/nojit {comparison['verdict']}" in done.stdout


def test_ctrl_c_stops_every_host_and_keeps_their_records(
    two_hosts: tuple[dict[str, SshdHost], Path, Path], tmp_path: Path
) -> None:
    _, ssh_config, script = two_hosts
    script.write_text(SLEEP_SCRIPT.format(ms=300))  # a benchmark step of about a minute
    argv = [sys.executable, "-m", "invoke", "-r", str(ROOT), *_fleet_argv(tmp_path, ssh_config, script)]
    argv += ["--hosts", "arm1,arm2"]
    proc = subprocess.Popen(
        as_from_a_terminal(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    runs = tmp_path / "reports" / "runs"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(runs.glob("*/logs/bench-nojit*"))) < 2:
        time.sleep(0.1)
    if len(list(runs.glob("*/logs/bench-nojit*"))) < 2:
        proc.kill()
        pytest.fail("the benchmark steps never started")
    time.sleep(2)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert err.strip().splitlines()[-1] == "armjit: interrupted"
    assert time.monotonic() - started < 60  # not the rest of the benchmark
    fleet = _fleet(tmp_path)
    assert fleet["status"] == "interrupted"
    for entry in fleet["hosts"].values():
        assert entry["status"] == "interrupted" and entry["run_id"]
        run = _run(tmp_path, entry["run_id"])
        assert run["status"] in ("failed", "interrupted") and run["failure"]["step"] == "bench-nojit"
