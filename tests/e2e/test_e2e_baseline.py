"""``invoke baseline --build pypi`` against a real CinderX host (Debian sid chroot, sshd on 127.0.0.1).

The same code path a user takes to an ARM server: a fabric connection, a driver venv and
pyperformance's venv with the real cinderx wheel and the .pth JIT hook, the smokes, richards in
three JIT modes, everything fetched back and judged from the workers' own JIT logs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from armjit import jitlog

ROOT = Path(__file__).resolve().parents[2]
GATE_FILE = Path(__file__).resolve().parent / "fixture_gate" / "test_arm_runtime.py"
pytestmark = pytest.mark.e2e


def baseline(host: Any, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, "-m", "invoke", "-r", str(ROOT), "baseline",
        "--host", f"root@127.0.0.1:{host.port}",
        "--key", str(host.key_path),
        "--known-hosts", str(host.known_hosts_path),
        "--build", "pypi",
        "--bench", "richards",
        "--remote-python", "/usr/bin/python3.14",
        "--runtime-test", str(GATE_FILE),
        "--reports", str(tmp_path / "reports"),
        *extra,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)


def only_run(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    (run,) = list((tmp_path / "reports" / "runs").iterdir())
    return run, json.loads((run / "run.json").read_text())


def test_baseline_runs_the_real_jit_in_every_mode(cinderx_host: Any, tmp_path: Path) -> None:
    result = baseline(cinderx_host, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    run, m = only_run(tmp_path)
    steps = {s["name"]: s for s in m["steps"]}
    for name in ("driver-venv", "jit-smoke", "bench-venv", "startup-smoke", "jit-gate"):
        assert steps[name]["status"] == "ok", steps[name]
    # the runtime gate had no source tree: it ran the fixture's test file, and the table says so
    assert steps["runtime-tests"]["status"] == "ok" and "pass" in steps["runtime-tests"]["detail"]
    assert "jit-effective-ok" in steps["jit-smoke"]["detail"]
    assert m["remote"]["bench_python"].startswith(m["settings"]["remote_workdir"] + "/venv/")

    logs = {mode: [jitlog.read_log(run / p) for p in rec["jit_logs"]] for mode, rec in m["modes"].items()}
    # jitlist: every worker compiled >= 30 __main__ functions and nothing failed
    jitlist = jitlog.assign_roles(logs["jitlist"])
    workers = [p for p in jitlist if p.role == "worker"]
    assert len(workers) >= 2
    for proc in workers:
        main = sum(f.compiles for f in proc.functions if f.main)
        assert main >= 30, (proc.source, main)
    assert all(not p.failures for p in jitlist)
    # autojit: __main__ compiles, and the recorded threshold is the one the JIT logged
    autojit = m["modes"]["autojit"]
    assert autojit["compiles"]["main"] > 0
    logged = {
        int(x)
        for p in autojit["jit_logs"]
        for x in re.findall(rb"compile functions after (\d+) calls", (run / p).read_bytes())
    }
    assert logged == {autojit["threshold"]}
    # nojit: nothing compiled
    assert m["modes"]["nojit"]["compiles"]["total"] == 0
    # each mode's pyperf JSON has values from several worker processes
    for mode, rec in m["modes"].items():
        data = json.loads((run / rec["pyperf_json"]).read_text())
        with_values = [r for b in data["benchmarks"] for r in b["runs"] if r.get("values")]
        assert len(with_values) >= 3, mode
    # the counts are in the summary table and in findings.md
    findings = (tmp_path / "reports" / "findings.md").read_text()
    for mode in ("jitlist", "autojit"):
        main = str(m["modes"][mode]["compiles"]["main"])
        assert re.search(rf"^{mode}\s.*\s{main}\s", result.stdout, re.M), result.stdout
        assert re.search(rf"^\| {mode}\s.*\|\s+{main} \|", findings, re.M), findings


def test_sitecustomize_hook_is_shadowed_and_the_gate_names_it(cinderx_host: Any, tmp_path: Path) -> None:
    result = baseline(cinderx_host, tmp_path, "--jit-hook", "sitecustomize", "--modes", "jitlist")
    assert result.returncode == 1, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("armjit: step jit-gate: jitlist: JIT did not compile any __main__ functions")
    assert "sitecustomize" in last and "shadowed by /usr/lib/python3.14/sitecustomize.py" in last
    _, m = only_run(tmp_path)
    assert m["status"] == "failed" and m["modes"]["jitlist"]["compiles"]["main"] == 0
