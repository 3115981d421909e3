"""Two benchmarks in one baseline: every number is that benchmark's own, and the JIT gate judges
each benchmark from its own logs.

A real baseline on this machine (``--host local``, everything under tmp_path) of the fixture
CinderX checkout, with real pyperf running two benchmark scripts in three JIT modes. The
fixture's ``bm_nbody.py`` calls its one ``__main__`` function a few times per process, so under
autojit (compile after 50 calls) it compiles nothing, as ``bench_nbody`` does under the real JIT.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

import pyperf
import pytest
from invoke_cli import run_invoke

from armjit.analysis.compare import Report, compare_inputs, load_input
from armjit.flows.verify import VerifyOutcome, size_guard
from armjit.render import fmt_seconds
from armjit.seams.store import RunStore

pytestmark = pytest.mark.slow


def own_numbers(path: Path) -> dict[str, tuple[float, int]]:
    """Per benchmark in a pyperf file, read by pyperf itself: the median of its processes'
    medians and how many processes measured it."""
    suite = pyperf.BenchmarkSuite.load(str(path))
    found = {}
    for bench in suite.get_benchmarks():
        medians = [statistics.median(run.values) for run in bench.get_runs() if run.values]
        found[bench.get_name()] = (statistics.median(medians), len(medians))
    return found


def test_two_benchmarks_get_their_own_rows_and_gate(target_repo: Any, tmp_path: Path) -> None:
    result = run_invoke(
        "baseline", "--host", "local", "--repo", str(target_repo.path), "--branch", target_repo.work_branch,
        "--no-sync-upstream", "--reports", str(tmp_path / "reports"),
        "--remote-workdir", str(tmp_path / "host" / "work"), "--remote-incoming", str(tmp_path / "host" / "incoming"),
        "--remote-python", sys.executable, "--driver-venv", str(tmp_path / "venv-driver"),
        "--bench", "fixture,nbody", "--bench-script", "bench/bm_{bench}.py",
        "--processes", "2", "--values", "2", "--warmups", "1", "--notes-dir", str(tmp_path / "notes"),
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = list((tmp_path / "reports" / "runs").iterdir())
    m = json.loads((run / "run.json").read_text())
    findings = (tmp_path / "notes" / "findings.md").read_text()
    for name in ("nojit", "jitlist", "autojit"):
        mode = m["modes"][name]
        own = own_numbers(run / mode["pyperf_json"])
        # bm_fixture.py names its benchmark "richards": paired with --bench fixture in run order
        assert set(own) == {"richards", "nbody"} and set(mode["results"]) == {"fixture", "nbody"}
        assert mode["value"] is None  # no median pooled over the two benchmarks
        for bench, pyperf_name in (("fixture", "richards"), ("nbody", "nbody")):
            row = mode["results"][bench]
            median, processes = own[pyperf_name]
            assert row["value"] == pytest.approx(median, rel=1e-12) and row["processes"] == processes == 2
            # its own logs only, in its own directory (nojit starts no JIT, so it writes none)
            assert bool(row["jit_logs"]) == (name != "nojit")
            assert all(p.startswith(f"jitlogs/{name}/{bench}/") for p in row["jit_logs"])
            # the console row and the findings.md row carry this benchmark's own number
            shown = float(fmt_seconds(median))
            console = re.search(rf"^{name}\s+{bench}\s+([0-9.]+)\s", result.stdout, re.M)
            assert console and float(console[1]) == shown, result.stdout
            notes = re.search(rf"^\| {name}\s*\| {bench}\s*\|\s*([0-9.]+)\s*\|", findings, re.M)
            assert notes and float(notes[1]) == shown, findings
        assert own["richards"][0] != own["nbody"][0]

    # the gate, per benchmark and mode
    results = {name: m["modes"][name]["results"] for name in ("nojit", "jitlist", "autojit")}
    assert all(r["compiles"]["total"] == 0 and r["gate"]["ok"] for r in results["nojit"].values())
    assert all(r["compiles"]["main"] > 0 and "flag" not in r["gate"] for r in results["jitlist"].values())
    assert results["autojit"]["fixture"]["compiles"]["main"] > 0
    nbody = results["autojit"]["nbody"]
    assert nbody["compiles"]["main"] == 0 and nbody["threshold"] == 50
    assert nbody["gate"]["flag"] == "below-threshold" and "threshold of 50 calls" in nbody["gate"]["reason"]
    assert m["modes"]["autojit"]["gate"]["ok"] and m["status"] == "ok"
    # the flag is on nbody's timing row and named with its reason, in the summary and findings.md
    assert re.search(r"^autojit\s+nbody\s.*FLAG below-threshold", result.stdout, re.M), result.stdout
    assert "autojit/nbody: compiled nothing (below-threshold)" in result.stdout
    assert re.search(r"^\| autojit\s*\| nbody\s*\|.*FLAG below-threshold", findings, re.M), findings
    assert "autojit/nbody: compiled nothing (below-threshold)" in findings
    assert not re.search(r"^\| autojit\s*\| fixture\s*\|.*FLAG", findings, re.M)
    progress = (tmp_path / "notes" / "progress.md").read_text()
    assert re.search(r"^\| jit-gate autojit/nbody\s*\|.*\| FLAG below-threshold\s*\| FLAG\s*\|$", progress, re.M)
    assert re.search(r"^\| jit-gate autojit/fixture\s*\|.*\| \d+ __main__ compiles\s*\| ok\s*\|$", progress, re.M)

    # verify's compiled-size guard reads each benchmark's logs apart (the run against itself)
    baseline = RunStore(tmp_path / "reports" / "runs").resolve(run.name)
    same = VerifyOutcome(baseline, baseline, Report("a", "b", ()), False, baseline.record())
    guards = size_guard(same)
    assert {"jitlist/fixture", "jitlist/nbody", "autojit/fixture"} <= set(guards) and not any(
        key.startswith("nojit") for key in guards
    )
    assert guards["jitlist/nbody"].compiled_to < guards["jitlist/fixture"].compiled_to

    # compare judges JIT activity per benchmark: nbody's autojit row is gated, richards' is not
    store = RunStore(tmp_path / "reports" / "runs")
    report = compare_inputs(load_input(run.name, store), load_input(run.name, store), delta=0.05)
    reasons = {(c.benchmark, c.mode): c.reason for c in report.comparisons}
    assert "0 __main__ compiles of nbody in mode autojit" in reasons[("nbody", "autojit")]
    assert "JIT not active" not in reasons[("richards", "autojit")] + reasons[("nbody", "jitlist")]

    # status names the flagged benchmark beside the baseline
    status = run_invoke(
        "status", "--reports", str(tmp_path / "reports"), "--notes-dir", str(tmp_path / "notes"), "--json"
    )
    assert status.returncode == 0, status.stderr[-2000:]
    (step,) = [s for s in json.loads(status.stdout)["steps"] if s["name"] == "baseline"]
    assert step["detail"].endswith("; compiled nothing: autojit/nbody (below-threshold)"), step


def test_ab_keeps_each_benchmarks_jit_proof(tmp_path: Path) -> None:
    """A paired A/A of two benchmarks: each benchmark's processes log apart, and each keeps its
    own JIT proof and verdict (the second benchmark's proof does not replace the first's)."""
    reports = tmp_path / "reports"
    result = run_invoke(
        "ab", "--aa", "--bench", "richards,nbody", "--blocks", "5", "--values", "2", "--warmups", "1",
        "--reports", str(reports), "--remote-workdir", str(tmp_path / "host" / "work"),
        "--remote-incoming", str(tmp_path / "host" / "incoming"), "--driver-venv", str(tmp_path / "venv-driver"),
        "--json", timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(c["benchmark"] for c in json.loads(result.stdout)["comparisons"]) == ["nbody", "richards"]
    (run,) = (reports / "runs").glob("*_aa_*")
    nojit = json.loads((run / "run.json").read_text())["modes"]["nojit"]
    assert set(nojit["results"]) == {"richards", "nbody"} and "jit_proof" not in nojit
    for bench, found in nojit["results"].items():
        assert found["blocks"] == 5 and found["jit_proof"]["a"]["total"] == 0, bench
    findings = (reports / "findings.md").read_text()
    assert "| nojit/richards " in findings and "| nojit/nbody " in findings
