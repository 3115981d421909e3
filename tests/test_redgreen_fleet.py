"""``invoke red/green --hosts``: the targeted test on several real sshd hosts on 127.0.0.1 at once.

Each host is this machine behind its own sshd with its own HOME, so each has its own deployed
tree (``~/work``) and driver venv (``~/venv``): a venv with the fixture build whose fast path is
off makes the test fail there (RED), one with the fast path on makes it pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import run_invoke
from sshd import SshdHost, free_port
from test_iteration import TEST, make_venv, set_fast_path

from armjit.flows import iteration, task_plan

pytestmark = [pytest.mark.ssh, pytest.mark.slow]


def _wheel(repo: Path, out: Path) -> Path:
    """The fixture build of ``repo``'s working tree, built once for every host that installs it."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(repo)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = out.glob("cinderx-*.whl")
    return wheel


def _install(wheel: Path, python: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--force-reinstall",
         str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip


def _deploy_tree(server: SshdHost, repo: Any) -> None:
    """Ship the checkout to the host's ``~/work`` the way a deploy does (tree and marker)."""
    from armjit.seams import sync
    from armjit.seams.hosts import SshHost, SshTarget

    host = SshHost(
        SshTarget(server.host, server.user, server.port, str(server.key_path), server.known_hosts_path, False, None,
                  10)
    )  # fmt: skip
    try:
        sync.sync_tree(host, repo.path, str(server.home / "work"), ref=repo.work_branch)
    finally:
        host.close()


def _ssh_config(entries: dict[str, tuple[int, SshdHost]], path: Path) -> Path:
    path.write_text(
        "".join(
            f"Host {alias}\n    HostName 127.0.0.1\n    Port {port}\n    User {s.user}\n"
            f"    IdentityFile {s.key_path}\n    IdentitiesOnly yes\n"
            for alias, (port, s) in entries.items()
        )
    )
    return path


@pytest.fixture
def red_hosts(sshd_factory: Callable[[], SshdHost], target_repo: Any, tmp_path: Path) -> dict[str, Any]:
    """Two hosts with the tree deployed and a driver venv holding the fast-path-off build."""
    set_fast_path(target_repo, "off")
    off = _wheel(target_repo.path, tmp_path / "dist-off")
    servers = {"arm1": sshd_factory(), "arm2": sshd_factory()}
    for server in servers.values():
        _install(off, make_venv(server.home))
        _deploy_tree(server, target_repo)
    return {"repo": target_repo, "servers": servers}


def _argv(tmp_path: Path, repo: Any, ssh_config: Path, hosts: str) -> list[str]:
    return [
        "red", "-k", TEST, "--hosts", hosts, "--ssh-config", str(ssh_config),
        "--known-hosts", str(tmp_path / "known_hosts"), "--connect-timeout", "3",
        "--repo", str(repo.path), "--reports", str(tmp_path / "reports"),
        "--remote-workdir", "~/work", "--driver-venv", "~/venv", "--json",
    ]  # fmt: skip


def _run(tmp_path: Path, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "reports" / "runs" / run_id / "run.json").read_text())
    return data


def _fleet(tmp_path: Path, fleet_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "reports" / "fleets" / fleet_id / "fleet.json").read_text())
    return data


def _test_rows(repo: Any) -> list[list[str]]:
    progress = (repo.path / "progress.md").read_text()
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in progress.splitlines() if "| RED " in ln]


def test_red_on_two_hosts_is_met_only_when_the_test_fails_on_both(red_hosts: dict[str, Any], tmp_path: Path) -> None:
    repo, servers = red_hosts["repo"], red_hosts["servers"]
    config = _ssh_config({a: (s.port, s) for a, s in servers.items()}, tmp_path / "ssh_config")
    argv = _argv(tmp_path, repo, config, "arm1,arm2")

    both = run_invoke(*argv)
    assert both.returncode == 0, both.stderr[-3000:]
    data = json.loads(both.stdout)
    assert data["ok"] is True and data["step"] == "red" and data["summary"].startswith("RED ok on 2 hosts")
    rows = {h["host"]: h for h in data["hosts"]}
    assert list(rows) == ["arm1", "arm2"]
    for alias, row in rows.items():
        assert row["status"] == "ok" and row["verdict"] == "failed" and "fast_path is 'off'" in row["excerpt"]
        record = _run(tmp_path, row["run_id"])  # each host its own run record, naming the fleet
        assert record["kind"] == "red" and record["status"] == "ok"
        assert record["host"]["name"].endswith(f":{servers[alias].port}")
        assert record["fleet"] == {"id": data["fleet_id"], "hosts": ["arm1", "arm2"], "host": alias}
        assert record["targeted"]["cwd"] == str(servers[alias].home / "work")
    fleet = _fleet(tmp_path, data["fleet_id"])
    assert fleet["kind"] == "red" and fleet["status"] == "ok"
    assert {h: e["run_id"] for h, e in fleet["hosts"].items()} == {a: r["run_id"] for a, r in rows.items()}
    for line in both.stderr.splitlines():  # one progress line per host, never two hosts mixed
        assert line.split(" ", 1)[0] in ("fleet", "arm1", "arm2"), line
    # the notes and the iteration state hold the fleet's one result, not one per host
    (row,) = _test_rows(repo)
    assert row[4] == "RED ok" and row[3] == "arm1 failed, arm2 failed" and row[6] == f"`{data['fleet_id']}`"
    state = iteration.iteration_state(iteration.load_manifests(tmp_path / "reports"))
    assert state.step("red").done and state.step("red").run_id == data["fleet_id"]

    # arm2 now has the fixed build: the test passes there, so RED is not met, arm1's result kept
    set_fast_path(repo, "on", commit=False)
    fixed = _wheel(repo.path, tmp_path / "dist-on")
    _install(fixed, servers["arm2"].home / "venv" / "bin" / "python")
    mixed = run_invoke(*argv)
    assert mixed.returncode == 1, mixed.stderr[-3000:]
    data = json.loads(mixed.stdout)
    rows = {h["host"]: h for h in data["hosts"]}
    assert data["ok"] is False and rows["arm1"]["status"] == "ok" and rows["arm1"]["verdict"] == "failed"
    assert rows["arm2"]["status"] == "NOT MET" and rows["arm2"]["verdict"] == "passed"
    last = [ln for ln in mixed.stderr.splitlines() if ln.startswith("armjit: ")]
    assert len(last) == 1 and "RED NOT MET on 1 of 2 hosts" in last[0] and "arm2: the test passed" in last[0]
    assert "arm1:" not in last[0].split("):", 1)[1]
    assert [r[4] for r in _test_rows(repo)] == ["RED ok", "RED not met"]
    (error,) = task_plan.load(repo.path).errors
    assert error.step == "red" and error.attempt == 1 and error.message.startswith("arm2: the test passed")
    records = iteration.fleets_as_one(iteration.load_manifests(tmp_path / "reports"))
    first = json.loads(both.stdout)["fleet_id"]
    assert [(m["run_id"], m["status"]) for m in records] == [(first, "ok"), (data["fleet_id"], "failed")]

    # The fix on both hosts: GREEN is met only now, with one row per host and one notes row.
    _install(fixed, servers["arm1"].home / "venv" / "bin" / "python")
    green = run_invoke("green", *argv[1:])
    assert green.returncode == 0, green.stderr[-3000:]
    data = json.loads(green.stdout)
    assert data["ok"] is True and data["step"] == "green" and data["summary"].startswith("GREEN ok on 2 hosts")
    assert {h["host"]: (h["status"], h["verdict"]) for h in data["hosts"]} == {
        "arm1": ("ok", "passed"),
        "arm2": ("ok", "passed"),
    }
    progress = (repo.path / "progress.md").read_text()
    assert sum(1 for ln in progress.splitlines() if "| GREEN ok " in ln) == 1
    state = iteration.iteration_state(iteration.load_manifests(tmp_path / "reports"))
    assert state.step("green").done and state.step("green").run_id == data["fleet_id"]


def test_an_unreachable_host_makes_red_not_met_and_keeps_the_other_result(
    red_hosts: dict[str, Any], tmp_path: Path
) -> None:
    repo, arm1 = red_hosts["repo"], red_hosts["servers"]["arm1"]
    closed = free_port()  # nothing listens there on the loopback
    config = _ssh_config({"arm1": (arm1.port, arm1), "gone": (closed, arm1)}, tmp_path / "ssh_config")
    done = run_invoke(*_argv(tmp_path, repo, config, "arm1,gone"))
    assert done.returncode == 1, done.stderr[-3000:]
    data = json.loads(done.stdout)
    rows = {h["host"]: h for h in data["hosts"]}
    assert rows["arm1"]["status"] == "ok" and rows["arm1"]["verdict"] == "failed"
    assert _run(tmp_path, rows["arm1"]["run_id"])["status"] == "ok"
    assert rows["gone"]["status"] == "error" and rows["gone"]["run_id"] is None and rows["gone"]["detail"]
    last = [ln for ln in done.stderr.splitlines() if ln.startswith("armjit: ")]
    assert len(last) == 1 and "RED NOT MET on 1 of 2 hosts" in last[0] and "gone: " in last[0]
    fleet = _fleet(tmp_path, data["fleet_id"])
    assert fleet["status"] == "partial" and fleet["hosts"]["arm1"]["status"] == "ok"
    assert fleet["hosts"]["gone"]["status"] == "failed"
    (row,) = _test_rows(repo)
    assert row[4] == "RED not met" and row[3] == "arm1 failed, gone error"
    state = iteration.iteration_state(iteration.load_manifests(tmp_path / "reports"))
    assert not state.step("red").done and "gone: no result" in state.step("red").detail


def test_a_fleet_counts_as_one_step_in_the_iteration_state() -> None:
    def red(second: int, host: str, status: str, fleet: str = "F") -> dict[str, Any]:
        return {
            "run_id": f"20261124T1200{second:02d}Z_red_{host}", "kind": "red", "status": status,
            "targeted": {"keyword": "t", "verdict": "failed" if status == "ok" else "passed", "reason": "passed"},
            "fleet": {"id": fleet, "hosts": ["a", "b"], "host": host},
        }  # fmt: skip

    single = {"run_id": "20261124T120000Z_red", "kind": "red", "status": "ok", "targeted": {"keyword": "t"}}
    assert iteration.fleets_as_one([single]) == [single]  # one host: the records as they are
    met = iteration.fleets_as_one([single, red(1, "a", "ok"), red(2, "b", "ok")])
    assert [m["run_id"] for m in met] == ["20261124T120000Z_red", "F"] and met[1]["status"] == "ok"
    half = iteration.fleets_as_one([red(1, "a", "ok"), red(2, "b", "failed")])
    assert half[0]["status"] == "failed" and half[0]["targeted"]["reason"] == "b: passed"
    (alone,) = iteration.fleets_as_one([red(1, "a", "ok")])  # b never connected: no record of it
    assert alone["status"] == "failed" and alone["targeted"]["reason"] == "b: no result"
    state = iteration.iteration_state([red(1, "a", "ok"), red(2, "b", "failed")])
    assert not state.step("red").done and state.step("red").run_id == "F"
