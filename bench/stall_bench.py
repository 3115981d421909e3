"""How fast armjit gives up on a stalled SSH connection (the host's sshd stopped with SIGSTOP).

Against a real OpenSSH sshd on 127.0.0.1 (tests/sshd.py), a client process runs ``sleep 600``
on the host through ``open_host`` (tests/stall.py); then the server is stopped and:

- ``ctrl-c``: SIGINT to the client right away (default keepalives, which have not noticed yet):
  seconds from SIGINT until the client has exited. Target: < 2 s.
- ``keepalive IxC``: nothing is done: seconds from SIGSTOP until the client reports the lost
  connection. Expected: about I*C s after the last answer, so between I*(C-1) and I*C + 1 s.

Run: .venv/bin/python bench/stall_bench.py [--repeat 5] [--keepalive 1x2 2x3 15x3]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from sshd import start_sshd  # noqa: E402
from stall import kill_left_behind, start_client, stop_server, wait_ready  # noqa: E402

from armjit.render import table  # noqa: E402


def once(sshd: object, *, interrupt: bool, interval: int = 15, count: int = 3) -> tuple[float, int, str]:
    client = start_client(sshd, interval=interval, count=count)
    wait_ready(client)
    stalled = stop_server(sshd)
    try:
        started = time.monotonic()
        if interrupt:
            client.send_signal(signal.SIGINT)
        _, err = client.communicate(timeout=600)
        seconds = time.monotonic() - started
    finally:
        stalled.resume()
    kill_left_behind(err)
    return seconds, client.returncode, err.strip().splitlines()[-1] if err.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keepalive", nargs="*", default=["1x2", "2x3"])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="armjit-stall-") as tmp:
        sshd = start_sshd(Path(tmp) / "sshd")
        try:
            cases = [("ctrl-c (keepalive 15x3)", True, 15, 3)]
            for spec in args.keepalive:
                interval, count = (int(x) for x in spec.split("x"))
                cases.append((f"keepalive {interval}x{count}", False, interval, count))
            for name, interrupt, interval, count in cases:
                times, outcomes = [], set()
                for _ in range(args.repeat):
                    seconds, code, last = once(sshd, interrupt=interrupt, interval=interval, count=count)
                    times.append(seconds)
                    outcomes.add(f"exit {code}: {last[:60]}")
                    print(f"  {name}: {seconds:.2f}s exit {code}", flush=True)
                rows.append(
                    [
                        name,
                        len(times),
                        f"{statistics.median(times):.2f}",
                        f"{max(times):.2f}",
                        "; ".join(sorted(outcomes)),
                    ]
                )
        finally:
            sshd.stop()
    print(table(rows, ["case", "runs", "median s", "max s", "what the user saw"], "github"))


if __name__ == "__main__":
    main()
