"""A stalled connection (the host's sshd stopped with SIGSTOP) against the real sshd on 127.0.0.1.

Only that the client ends, with one line and its status, is checked here (a generous timeout:
the default tier runs beside CPU hogs); how fast it ends is measured by bench/stall_bench.py.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from typing import Any

import pytest
from stall import kill_left_behind, start_client, stop_server, wait_ready

GENEROUS = 60
# Ctrl-C takes about 1.5 s (bench/stall_bench.py); the old path waited 30 s for the remote kill
# and 30 s more for the clean-up over the dead connection.
INTERRUPT_LIMIT = 20


@pytest.mark.ssh
def test_keepalives_find_a_stopped_host(sshd_host: Any) -> None:
    client = start_client(sshd_host, interval=1, count=2)
    stalled = None
    try:
        wait_ready(client)
        stalled = stop_server(sshd_host)
        _, err = client.communicate(timeout=GENEROUS)
    finally:
        if stalled:
            stalled.resume()
        if client.poll() is None:
            client.kill()
    assert client.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "lost: no answer to keepalives for 2s" in lines[0] and sshd_host.host in lines[0]


@pytest.mark.ssh
def test_ctrl_c_ends_the_client_when_the_connection_is_dead(sshd_host: Any) -> None:
    client = start_client(sshd_host)  # default keepalives: they would take 45 s to notice
    stalled = None
    try:
        wait_ready(client)
        stalled = stop_server(sshd_host)
        client.send_signal(signal.SIGINT)
        _, err = client.communicate(timeout=INTERRUPT_LIMIT)
    except subprocess.TimeoutExpired:
        client.kill()
        raise
    finally:
        if stalled:
            stalled.resume()
    assert client.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "armjit: interrupted"
    # It says that the command may still run on the host and where its process group id is.
    assert "did not confirm stopping the command" in err
    assert kill_left_behind(err)


@pytest.mark.ssh
def test_ctrl_c_on_a_live_connection_stops_the_command_on_the_host(sshd_host: Any) -> None:
    token = uuid.uuid4().hex[:12]
    client = start_client(sshd_host, token=token)
    try:
        wait_ready(client)
        assert _running(token)
        client.send_signal(signal.SIGINT)
        _, err = client.communicate(timeout=GENEROUS)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 130 and err.strip().splitlines() == ["armjit: interrupted"], err
    deadline = time.monotonic() + GENEROUS
    while _running(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(token), "the command still runs on the host"


def _running(token: str) -> bool:
    found = subprocess.run(["pgrep", "-f", f"armjit-stall-{token}"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())
