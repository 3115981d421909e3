"""Disk space: a host without room is refused before anything is written, and a disk that fills
during a step is named. Against a real 20 MB tmpfs mounted under tmp_path, with ``--host local``
and every host directory inside it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import run_invoke

from armjit.config import merge_settings
from armjit.errors import ArmjitError
from armjit.flows.disk import Need, command_paths, no_space_path, parse_free_space, shortfall
from armjit.seams.hosts import LocalHost, open_host


@pytest.mark.parametrize(
    ("output", "path"),
    [
        ("OSError: [Errno 28] No space left on device: '/srv/w/venv/lib/x.py'", "/srv/w/venv/lib/x.py"),
        ("cp: error writing '/srv/w/dist/a.whl': No space left on device", "/srv/w/dist/a.whl"),
        ("tar: /srv/w/src/x.cpp: Cannot write: No space left on device", "/srv/w/src/x.cpp"),
        ("/usr/bin/ld: final link failed: No space left on device", "CWD"),
        ("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device", "CWD"),
        ("fatal error: error writing to /tmp/ccA1.s: No space left on device", "/tmp/ccA1.s"),
        ("write failed: ENOSPC", "CWD"),
    ],
)
def test_the_full_path_is_taken_from_the_line_that_says_so(output: str, path: str) -> None:
    assert no_space_path(f"building...\n{output}\n", cwd="CWD") == path


def test_other_failures_are_not_a_full_disk() -> None:
    assert no_space_path("error: 'x' was not declared in this scope\nexit 1", cwd="/w") is None


def test_free_space_lines_and_the_refusal() -> None:
    assert parse_free_space("20480 /mnt/a\n\n 5 x\n") == [(20480 * 1024, "/mnt/a"), None, None]
    need = Need("/srv/w", 5.0, "a source build", "--min-free-build")
    assert shortfall(need, 6 * 1000**3, "/srv", "root@arm:22") is None
    line = shortfall(need, 20 * 1000**2, "/srv", "root@arm:22")
    assert line == (
        "not enough free space on root@arm:22:/srv: 20 MB free, 5 GB needed for a source build "
        "(--min-free-build; free some space or lower it)"
    )
    assert command_paths("rm -rf '/w/v' && /py -m venv /w/v", "/w") == ["/w", "/w/v", "/py"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _baseline(disk: Path, reports: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_invoke(
        "baseline",
        "--host",
        "local",
        "--reports",
        str(reports),
        "--remote-workdir",
        str(disk / "work"),
        "--remote-incoming",
        str(disk / "incoming"),
        "--driver-venv",
        str(disk / "venv"),
        "--skip-pyperf",
        *extra,
        timeout=300,
    )


def test_a_small_disk_is_refused_before_anything_is_written(small_disk: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = _baseline(small_disk, reports)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"armjit: not enough free space on local:{small_disk}: ")
    assert "1 GB needed for the venvs (--min-free-venv" in lines[-1] and "Traceback" not in result.stderr
    assert not reports.exists() and list(small_disk.iterdir()) == []


def test_a_disk_that_fills_during_a_step_is_named(small_disk: Path, tmp_path: Path) -> None:
    # Leave about 2 MB: room for the run's small uploads, not for a venv with pip in it.
    (small_disk / "filler").write_bytes(b"\0" * (18 * 1024 * 1024))
    reports = tmp_path / "reports"
    result = _baseline(small_disk, reports, "--min-free-venv", "0")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"no space left on device on local:{small_disk}/venv" in last, result.stderr
    (run,) = (reports / "runs").iterdir()
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "failed" and "no space left on device" in record["failure"]["cause"]


@pytest.mark.parametrize("kind", ["local", pytest.param("ssh", marks=pytest.mark.ssh)])
def test_an_upload_to_a_full_disk_is_named(small_disk: Path, tmp_path: Path, kind: str, request: Any) -> None:
    (small_disk / "filler").write_bytes(b"\0" * (20 * 1024 * 1024 - 64 * 1024))
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(1024 * 1024))
    if kind == "local":
        host: Any = LocalHost()
    else:
        sshd = request.getfixturevalue("shared_sshd")
        cli = {"host": f"{sshd.user}@{sshd.host}:{sshd.port}", "key": str(sshd.key_path)}
        host = open_host(merge_settings(cli={**cli, "known_hosts": str(sshd.known_hosts_path)}))
    try:
        with pytest.raises(ArmjitError, match=f"no space left on device on {host.name}:{small_disk}") as info:
            host.put(payload, f"{small_disk}/up/payload.bin")
    finally:
        host.close()
    assert "\n" not in str(info.value)
