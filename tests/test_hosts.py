"""LocalHost and SshHost behave the same: env quoting, exit codes, timeouts that kill, transfers.

The SSH side runs against a real OpenSSH sshd on 127.0.0.1 (tests/sshd.py).
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from armjit.config import merge_settings
from armjit.errors import AuthFailed, HostKeyChanged, HostKeyUnknown, HostUnreachable, UsageError
from armjit.seams.hosts import Host, LocalHost, SshHost, SshTarget, open_host, use_host, wrap_command

TRICKY = {"SPACED": "a b  c", "QUOTED": 'it\'s "quoted" $HOME `x` \\ ;|&'}


def ssh_settings(sshd: Any, **extra: str) -> Any:
    cli = {
        "host": f"{sshd.user}@{sshd.host}:{sshd.port}",
        "key": str(sshd.key_path),
        "known_hosts": str(sshd.known_hosts_path),
        **extra,
    }
    return merge_settings(cli=cli)


@pytest.fixture(params=["local", pytest.param("ssh", marks=pytest.mark.ssh)])
def any_host(request: pytest.FixtureRequest) -> Iterator[Host]:
    if request.param == "local":
        host: Host = LocalHost()
    else:
        sshd = request.getfixturevalue("sshd_host")
        host = open_host(ssh_settings(sshd))
    try:
        yield host
    finally:
        host.close()


def test_wrap_command_quotes_env_and_cwd() -> None:
    text = wrap_command("echo hi", env={"A": "x y"}, cwd="/d i r", timeout=5, pidfile="/tmp/p")
    assert text.startswith("echo $$ > /tmp/p; exec timeout -k 5 5 bash -c ")
    script = shlex.split(text.split("; exec ", 1)[1])[-1]
    assert script == "cd '/d i r' && export A='x y'; echo hi"


def test_env_values_arrive_intact(any_host: Host) -> None:
    result = any_host.run('printf "%s|%s" "$SPACED" "$QUOTED"', env=TRICKY)
    assert result.ok, result.stderr
    assert result.stdout == f"{TRICKY['SPACED']}|{TRICKY['QUOTED']}"


def test_exit_code_and_streams(any_host: Host, tmp_path: Path) -> None:
    lines: list[str] = []
    log = tmp_path / "step.log"
    result = any_host.run("echo out; echo err >&2; exit 3", on_line=lines.append, log=log)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert sorted(lines) == ["err", "out"]
    assert "out" in log.read_text() and "err" in log.read_text()


def test_timeout_kills_the_process_on_the_host(any_host: Host) -> None:
    marker = f"armjit-sleep-{uuid.uuid4().hex[:8]}"
    result = any_host.run(f"exec -a {marker} sleep 60", timeout=1)
    assert result.timed_out and result.exit_code == 124
    assert result.seconds < 15
    left = any_host.run(f"ps -eo args | grep -c '^{marker}' || true")
    assert left.stdout.strip() == "0"


def test_cwd_with_spaces_and_quotes(any_host: Host, tmp_path: Path) -> None:
    odd = tmp_path / "work dir" / "it's"
    odd.mkdir(parents=True)
    result = any_host.run("pwd", cwd=str(odd))
    assert result.stdout.strip() == str(odd)


@pytest.mark.ssh
def test_put_get_round_trip(sshd_host: Any, tmp_path: Path) -> None:
    host = open_host(ssh_settings(sshd_host))
    try:
        source = tmp_path / "payload.bin"
        source.write_bytes(bytes(range(256)) * 1000)
        host.put(source, f"{tmp_path}/remote copy.bin")
        back = tmp_path / "back.bin"
        host.get(f"{tmp_path}/remote copy.bin", back)
        assert back.read_bytes() == source.read_bytes()
    finally:
        host.close()


@pytest.mark.ssh
def test_one_connection_with_nodelay(sshd_host: Any) -> None:
    import socket

    host = open_host(ssh_settings(sshd_host))
    assert isinstance(host, SshHost)
    try:
        host.run("true")
        transport = host._conn.transport
        for _ in range(20):
            host.run("true")
        assert host._conn.transport is transport
        assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        host.close()


@pytest.mark.ssh
def test_host_key_trusted_on_first_use_and_change_refused(sshd_host: Any) -> None:
    first = open_host(ssh_settings(sshd_host))
    assert first.trust is not None and first.trust.first_use
    first.run("true")
    saved = sshd_host.known_hosts_path.read_text()
    assert saved.startswith(f"[127.0.0.1]:{sshd_host.port} ")
    sshd_host.regenerate_host_key()  # also drops first's session: its next command reconnects
    with pytest.raises(HostKeyChanged) as reconnect:
        first.run("true")
    first.close()
    with pytest.raises(HostKeyChanged) as fresh:
        open_host(ssh_settings(sshd_host))
    for info in (reconnect, fresh):
        assert "host key" in str(info.value) and "changed" in str(info.value) and "\n" not in str(info.value)
        assert info.value.exit_code == 2 and info.value.known_hosts == str(sshd_host.known_hosts_path)
    assert sshd_host.known_hosts_path.read_text() == saved


@pytest.mark.ssh
def test_strict_mode_refuses_unknown_hosts(sshd_host: Any, tmp_path: Path) -> None:
    empty = tmp_path / "kh"
    with pytest.raises(HostKeyUnknown, match="strict"):
        open_host(ssh_settings(sshd_host, known_hosts=str(empty), strict_host_keys="true"))
    assert not empty.exists()  # a refusal writes nothing, not even an empty file


@pytest.mark.ssh
def test_unreachable_and_bad_key_are_typed_and_one_line(sshd_host: Any, tmp_path: Path) -> None:
    import subprocess

    port = sshd_host.port
    wrong_key = tmp_path / "wrong"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True)
    with pytest.raises(AuthFailed, match="authentication") as auth:
        open_host(ssh_settings(sshd_host, key=str(wrong_key)))
    sshd_host.stop()
    with pytest.raises(HostUnreachable, match="connection refused") as refused:
        open_host(ssh_settings(sshd_host))
    with pytest.raises(HostUnreachable, match="unknown host") as unknown:
        open_host(merge_settings(cli={"host": f"no-such-host.invalid:{port}", "connect_timeout": "3"}))
    for caught in (auth, refused, unknown):
        assert "\n" not in str(caught.value) and caught.value.exit_code == 2
        assert isinstance(caught.value, UsageError)  # bad input, as before the errors were typed


@pytest.mark.ssh
def test_ssh_config_alias(sshd_host: Any, tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host armbox\n  HostName 127.0.0.1\n  Port {sshd_host.port}\n  User {sshd_host.user}\n"
        f"  IdentityFile {sshd_host.key_path}\n"
    )
    settings = merge_settings(
        cli={"host": "armbox", "ssh_config": str(config), "known_hosts": str(sshd_host.known_hosts_path)}
    )
    host = open_host(settings)
    try:
        assert host.run("echo alias-ok").stdout.strip() == "alias-ok"
        assert host.name.endswith(f":{sshd_host.port}")
    finally:
        host.close()


def test_rsync_shell_uses_armjits_known_hosts_strictly(tmp_path: Path) -> None:
    target = SshTarget(
        host="127.0.0.1",
        user="bob",
        port=2222,
        key=str(tmp_path / "my key"),
        known_hosts=tmp_path / "known hosts",
        strict=False,  # trust on first use is paramiko's job; OpenSSH only ever checks
        ssh_config=None,
        connect_timeout=7,
    )
    (tmp_path / "my key").touch()
    argv = shlex.split(SshHost(target).rsync_shell())
    assert argv[:5] == ["ssh", "-l", "bob", "-p", "2222"]
    assert ["-i", str(tmp_path / "my key")] == argv[5:7]
    assert f'UserKnownHostsFile="{tmp_path / "known hosts"}" ~/.ssh/known_hosts' in argv
    # the name paramiko files a non-22 port under, so OpenSSH looks up the very same entry
    assert "HostKeyAlias=[127.0.0.1]:2222" in argv and "GlobalKnownHostsFile=none" in argv
    assert "StrictHostKeyChecking=yes" in argv and "BatchMode=yes" in argv and "ConnectTimeout=7" in argv
    assert not any("accept-new" in a for a in argv)
    assert not any(a.startswith("Control") for a in argv)
    shared = shlex.split(SshHost(target).rsync_shell(control_dir=tmp_path))
    assert f"ControlPath={tmp_path}/%C" in shared and "ControlMaster=auto" in shared


@pytest.mark.ssh
def test_a_lent_host_stays_open_and_is_not_reconnected(sshd_host: Any) -> None:
    owner = open_host(ssh_settings(sshd_host))
    try:
        logins = sshd_host.log_path.read_text().count("Accepted publickey")
        # Settings that name another host: a lent host is used as it is, nothing is looked up.
        lent = use_host(merge_settings(cli={"host": "no-such-host.invalid"}), owner)
        assert lent.name == owner.name and lent.run("echo lent").stdout == "lent\n"
        lent.close()  # the flow's clean-up: the owner's session stays
        assert owner.run("echo still").stdout == "still\n"
        assert sshd_host.log_path.read_text().count("Accepted publickey") == logins
    finally:
        owner.close()
