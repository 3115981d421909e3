"""A long command over a real SSH session whose sshd is then stopped (SIGSTOP): the stalled
connection of issue 12. Shared by tests/test_stall.py (it ends) and bench/stall_bench.py (how fast).

The client is a separate process (``python tests/stall.py ...``) that runs one long command
through ``open_host`` as a task does and turns armjit's outcomes into one line and an exit status
as the CLI does; the controlling side stops the server and interrupts the client.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from invoke_cli import as_from_a_terminal

HERE = Path(__file__).resolve().parent
READY = "armjit-stall-ready"

__all__ = ["READY", "Stalled", "kill_left_behind", "start_client", "stop_server", "wait_ready"]


def start_client(sshd: object, *, interval: int = 15, count: int = 3, token: str = "x") -> subprocess.Popen[str]:
    """The client process, running ``sleep 600`` on the host behind a line that says it started;
    the sleep is named ``armjit-stall-<token>`` (``pgrep -f`` finds exactly it)."""
    argv = [
        sys.executable,
        str(HERE / "stall.py"),
        f"{sshd.user}@{sshd.host}:{sshd.port}",  # type: ignore[attr-defined]
        str(sshd.key_path),  # type: ignore[attr-defined]
        str(sshd.known_hosts_path),  # type: ignore[attr-defined]
        str(interval),
        str(count),
        token,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARMJIT_")}
    return subprocess.Popen(
        as_from_a_terminal(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def wait_ready(client: subprocess.Popen[str], timeout: float = 30.0) -> None:
    assert client.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = client.stdout.readline()
        if READY in line:
            return
        if not line and client.poll() is not None:
            raise RuntimeError(f"client ended before the command started: {client.stderr.read()}")  # type: ignore[union-attr]
    raise RuntimeError("the command did not start")


@dataclass
class Stalled:
    """The server's processes, stopped; ``resume`` lets them go on (always call it)."""

    pids: list[int]

    def resume(self) -> None:
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def stop_server(sshd: object) -> Stalled:
    """SIGSTOP the listener and every session process below it: the host stops answering while
    its kernel still holds the TCP connection open."""
    from sshd import descendants

    pid = sshd.pid  # type: ignore[attr-defined]
    assert pid is not None
    pids = [pid, *descendants(pid)]
    for each in pids:
        os.kill(each, signal.SIGSTOP)
    return Stalled(pids)


def kill_left_behind(stderr: str) -> bool:
    """Kill the remote process group the client said may still run; True if it named one."""
    match = re.search(r"process group id is in (\S+?)\)", stderr)
    if not match:
        return False
    with contextlib.suppress(OSError, ValueError):
        pgid = int(Path(match.group(1)).read_text().strip())
        os.killpg(pgid, signal.SIGTERM)
    Path(match.group(1)).unlink(missing_ok=True)
    return True


def _client(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE.parent))
    from armjit.config import merge_settings
    from armjit.errors import ArmjitError
    from armjit.seams.hosts import open_host, opened

    parser = argparse.ArgumentParser()
    for name in ("host", "key", "known_hosts", "interval", "count", "token"):
        parser.add_argument(name)
    args = parser.parse_args(argv)
    cli = {
        "host": args.host,
        "key": args.key,
        "known_hosts": args.known_hosts,
        "keepalive_interval": args.interval,
        "keepalive_count": args.count,
    }

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        with opened(open_host(merge_settings(cli=cli))) as host:
            host.run(f"echo {READY}; exec -a armjit-stall-{args.token} sleep 600", on_line=say)
    except ArmjitError as exc:
        print(f"armjit: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("armjit: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(_client(sys.argv[1:]))
