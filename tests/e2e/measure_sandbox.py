"""Time the CinderX sandbox host: cold build, warm provision, start, first SSH command, teardown.

    sudo .venv/bin/python -m tests.e2e.measure_sandbox [--cold] [--repeat N]

``--cold`` builds a fresh tree in a temporary cache directory (the shared cache is left alone) and deletes it
afterwards. Targets (issue 3): cold < 4 min, warm < 10 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from armjit.render import table

from .sandbox import SandboxError, mounts_under, processes_rooted_in, provision, sandbox_host


def _warm_rows(repeat: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for attempt in range(1, repeat + 1):
        started = time.monotonic()
        tree = provision()
        provisioned = time.monotonic()
        stack = sandbox_host()
        host = stack.__enter__()
        up = time.monotonic()
        done = subprocess.run(host.ssh_argv("python3.14 -c 'import sys'"), capture_output=True, check=False)
        ran = time.monotonic()
        stack.__exit__(None, None, None)
        down = time.monotonic()
        clean = not processes_rooted_in(host.root) and not mounts_under(host.root.parent)
        rows.append(
            [
                f"warm #{attempt}",
                "rebuilt" if tree.built else "cached",
                f"{provisioned - started:.2f}",
                f"{up - provisioned:.2f}",
                f"{ran - up:.2f} (rc {done.returncode})",
                f"{down - ran:.2f}",
                f"{down - started:.2f}",
                "yes" if clean else "NO",
            ]
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also time a build from nothing (in a temp cache)")
    parser.add_argument("--repeat", type=int, default=3, help="warm start/stop cycles")
    args = parser.parse_args()
    rows: list[list[object]] = []
    try:
        if args.cold:
            with tempfile.TemporaryDirectory(prefix="armjit-sandbox-cold-") as cold:
                os.environ["ARMJIT_SANDBOX_CACHE"] = cold
                started = time.monotonic()
                tree = provision()
                rows.append(["cold build", "built" if tree.built else "cached?", f"{time.monotonic() - started:.1f}"])
                rows += _warm_rows(1)
                del os.environ["ARMJIT_SANDBOX_CACHE"]
                size = subprocess.run(["du", "-sh", cold], capture_output=True, text=True, check=False).stdout
                rows[0].append(f"tree size {size.split()[0] if size else '?'}")
                if mounts_under(Path(cold)):
                    raise SandboxError(f"mounts left under {cold}")
        rows += _warm_rows(args.repeat)
    except SandboxError as exc:
        print(f"error: {exc}")
        return 2
    headers = ["what", "tree", "provision s", "start s", "first ssh s", "teardown s", "total s", "clean"]
    print(table([row + [""] * (len(headers) - len(row)) for row in rows], headers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
