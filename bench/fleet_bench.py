"""``invoke baseline --hosts`` on 1, 2 and 4 loopback hosts: does N hosts take about as long as
the slowest one, or the sum?

Each host is its own OpenSSH sshd on 127.0.0.1 (tests/sshd.py) with its own HOME, so its own
work dir, venvs and remote run dirs. For each N: one unmeasured fleet run makes every host's
venvs (as on a host that has run armjit before), then each host runs alone, one after another,
then the N hosts run as one fleet. The benchmark is a sleep-bound pyperf script: on a real
fleet the hosts' CPUs are their own, while here all the "hosts" share this machine's cores, and a
CPU-bound benchmark would measure that contention instead of armjit.

Run: .venv/bin/python bench/fleet_bench.py [--hosts 1 2 4] [--ms 40]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sshd import SshdHost, SshdUnavailable, start_sshd  # noqa: E402

from armjit.render.tables import table  # noqa: E402

SCRIPT = """
import time
import pyperf

runner = pyperf.Runner()
runner.bench_func("sleep", time.sleep, {ms} / 1000)
"""


def _ssh_config(servers: dict[str, SshdHost], path: Path) -> Path:
    path.write_text(
        "".join(
            f"Host {alias}\n    HostName {s.host}\n    Port {s.port}\n    User {s.user}\n"
            f"    IdentityFile {s.key_path}\n    IdentitiesOnly yes\n"
            for alias, s in servers.items()
        )
    )
    return path


def _baseline(work: Path, config: Path, script: Path, hosts: list[str], reports: Path) -> float:
    argv = [
        sys.executable, "-m", "invoke", "-r", str(ROOT), "baseline",
        "--hosts", ",".join(hosts), "--ssh-config", str(config), "--known-hosts", str(work / "known_hosts"),
        "--reports", str(reports),
        "--remote-workdir", "~/work", "--remote-incoming", "~/incoming", "--driver-venv", "~/venv-driver",
        "--remote-python", sys.executable, "--bench-script", str(script),
        "--processes", "4", "--values", "3", "--warmups", "1", "--loops", "2",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"baseline --hosts {','.join(hosts)} failed:\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--ms", type=float, default=40.0, help="sleep per benchmark iteration")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="armjit-fleet-bench-") as tmp:
        work = Path(tmp)
        script = work / "bm_sleep.py"
        script.write_text(SCRIPT.format(ms=args.ms))
        for n in args.hosts:
            try:
                servers = {f"h{i + 1}": start_sshd(work / f"n{n}" / f"sshd-{i + 1}") for i in range(n)}
            except SshdUnavailable as exc:
                raise SystemExit(str(exc)) from None
            try:
                config = _ssh_config(servers, work / f"n{n}" / "ssh_config")
                names = list(servers)
                reports = work / f"n{n}" / "reports"
                _baseline(work, config, script, names, reports)  # makes every host's venvs
                singles = [_baseline(work, config, script, [name], reports) for name in names]
                fleet = _baseline(work, config, script, names, reports)
            finally:
                for server in servers.values():
                    server.stop()
            (record,) = [json.loads(p.read_text()) for p in sorted((reports / "fleets").glob("*/fleet.json"))[-1:]]
            assert record["status"] == "ok", record
            rows.append(
                (
                    n,
                    f"{max(singles):.1f}",
                    f"{sum(singles):.1f}",
                    f"{fleet:.1f}",
                    f"{fleet / max(singles):.2f}",
                    f"{fleet / sum(singles):.2f}",
                    f"{os.getloadavg()[0]:.1f}",
                )
            )
            print(f"{n} host(s): singles {', '.join(f'{s:.1f}' for s in singles)} s; fleet {fleet:.1f} s", flush=True)
    headers = [
        "hosts",
        "slowest host alone (s)",
        "sum of hosts alone (s)",
        "fleet (s)",
        "fleet / slowest",
        "fleet / sum",
        "load (1 min)",
    ]
    print(table(rows, headers, "github"))


if __name__ == "__main__":
    main()
