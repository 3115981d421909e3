"""The test fixtures are real: the sshd answers over SSH, the target repo builds and benchmarks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import fabric
import paramiko
import pytest
from sshd import SshdHost, descendants


def _server_key(host: SshdHost) -> paramiko.PKey:
    with host.fabric_connection() as conn:
        conn.open()
        key: paramiko.PKey = conn.transport.get_remote_server_key()
        return key


def test_sshd_runs_a_command_with_the_key_and_an_empty_home(
    shared_sshd: SshdHost, request: pytest.FixtureRequest
) -> None:
    assert request.node.get_closest_marker("ssh") is not None
    with shared_sshd.fabric_connection() as conn:
        result = conn.run("echo ready; echo $HOME; ls -A ~ | wc -l", hide=True)
    lines = result.stdout.split()
    assert lines[0] == "ready"
    assert lines[1] == str(shared_sshd.home) and shared_sshd.home.is_dir()
    assert shared_sshd.known_hosts_path.read_bytes() == b""
    assert f"{shared_sshd.host_key_line().split()[2]}" == _server_key(shared_sshd).get_base64()


def test_sshd_refuses_another_key(shared_sshd: SshdHost, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    conn = fabric.Connection(
        shared_sshd.host,
        port=shared_sshd.port,
        user=shared_sshd.user,
        connect_timeout=5,
        connect_kwargs={"key_filename": str(other), "allow_agent": False, "look_for_keys": False},
        config=fabric.Config(overrides={"load_ssh_configs": False}),
    )
    with pytest.raises(paramiko.AuthenticationException):
        conn.open()
    conn.close()


def test_sftp_and_ssh_config_alias(shared_sshd: SshdHost, tmp_path: Path) -> None:
    cfg = shared_sshd.write_ssh_config("armtest", tmp_path / "ssh_config")
    local = tmp_path / "payload.bin"
    local.write_bytes(os.urandom(4096))
    remote = shared_sshd.home / "payload.bin"
    config = fabric.Config(runtime_ssh_path=str(cfg), overrides={"run": {"in_stream": False}})
    with fabric.Connection("armtest", config=config, connect_kwargs={"allow_agent": False}) as conn:
        assert (conn.host, conn.port, conn.user) == (shared_sshd.host, shared_sshd.port, shared_sshd.user)
        conn.put(str(local), str(remote))
        conn.get(str(remote), str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == local.read_bytes()
    remote.unlink()


def test_stop_start_keeps_the_port_and_kills_open_connections(sshd_host: SshdHost) -> None:
    conn = sshd_host.fabric_connection()
    conn.run("true", hide=True)
    listener = sshd_host.pid
    assert listener is not None
    children = descendants(listener)
    assert children, "an open connection has its own sshd child"

    sshd_host.stop()
    assert not sshd_host.running
    for pid in [listener, *children]:
        assert not _alive(pid), f"process {pid} survived stop()"
    with pytest.raises(paramiko.ssh_exception.NoValidConnectionsError):
        sshd_host.fabric_connection().open()
    conn.close()

    port = sshd_host.port
    sshd_host.start()
    assert sshd_host.port == port
    with sshd_host.fabric_connection() as again:
        assert again.run("echo back", hide=True).stdout == "back\n"


def test_regenerate_host_key_changes_what_the_server_presents(sshd_host: SshdHost) -> None:
    before = _server_key(sshd_host)
    old_line = sshd_host.host_key_line()
    sshd_host.regenerate_host_key()
    after = _server_key(sshd_host)
    assert before.get_base64() != after.get_base64()
    assert sshd_host.host_key_line() != old_line
    assert sshd_host.host_key_line().split()[2] == after.get_base64()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; init reaps it
