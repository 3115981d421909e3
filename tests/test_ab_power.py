"""``invoke ab --until-decided`` and ``--metric instructions`` on this machine, for real: fresh
pyperf processes of a small benchmark, the confidence sequence after every block, the reports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import run_invoke

from armjit.cli.ab import parse_duration
from armjit.errors import UsageError
from armjit.flows.ab_blocks import pair_loops, starved_block, starved_gates

LOOP_BENCH = Path(__file__).resolve().parent / "data" / "measure" / "loop_bench.py"
HOG = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


def only_run(reports: Path) -> tuple[Path, dict[str, Any]]:
    (run,) = list((reports / "runs").iterdir())
    return run, json.loads((run / "run.json").read_text())


def test_durations() -> None:
    assert parse_duration("600", "--budget") == 600
    assert parse_duration("90s", "--budget") == 90
    assert parse_duration("10m", "--budget") == 600
    assert parse_duration("1.5h", "--budget") == 5400
    for bad in ("", "ten", "-5m", "0", "nan", "inf"):
        with pytest.raises(UsageError, match="--budget"):
            parse_duration(bad, "--budget")


def test_a_block_is_starved_when_its_two_cpu_shares_are_far_apart() -> None:
    # Both processes equally short of CPU (this busy machine): the ratio is still fair.
    assert not starved_block(0.25, 0.28, 0.25)
    assert starved_block(0.25, 0.40, 0.25) and starved_block(0.9, 0.5, 0.25)
    assert not starved_block(None, 0.3, 0.25) and not starved_block(0.1, 0.9, 0.0)


def test_starved_blocks_gate_only_when_most_were_dropped() -> None:
    assert starved_gates({"processes": 3, "reruns": 3, "dropped": 1}, kept=9) == []
    (gate,) = starved_gates({"processes": 12, "reruns": 6, "dropped": 6}, kept=4)
    assert "host too busy: 6 of 10 blocks" in gate


def test_mode_pair_runs_both_sides_at_the_from_modes_loops() -> None:
    loops = {("richards", "nojit"): 4, ("richards", "jitlist"): 16}
    assert pair_loops(loops, ("nojit", "jitlist")) == {("richards", "nojit->jitlist"): 4}
    assert pair_loops(loops, None) == loops


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--aa", "--budget", "5m"), "--budget is the time limit of --until-decided"),
        (("--aa", "--until-decided", "--budget", "soon"), "--budget 'soon'"),
        (("--aa", "--clock", "cpu", "--bench", "asyncio_tcp"), "--clock cpu would mislead for asyncio_tcp"),
        (("--aa", "--metric", "cycles"), "--metric 'cycles'"),
        (("--aa", "--mode-pair", "nojit,jitlist"), "--mode-pair compares two modes of one build"),
        (("--mode-pair", "nojit,nojit"), "give two different modes"),
        (("--aa", "--cpu-share-gap", "-5"), "--cpu-share-gap -5"),
        (("--aa", "--quiet-wait", "-1"), "--quiet-wait -1: cannot be negative"),
        (("--aa", "--quiet-wait", "30", "--metric", "instructions"), "--quiet-wait applies to time"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run_invoke("ab", *args, "--reports", str(tmp_path / "reports"), timeout=120)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "reports" / "runs").exists()


@pytest.mark.slow
def test_aa_until_decided_stops_by_itself_and_reports_the_sequence(tmp_path: Path) -> None:
    def aa(reports: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        result = run_invoke(
            "ab", "--aa", "--until-decided", "--budget", "40s",
            "--bench-script", str(LOOP_BENCH), "--values", "3", "--warmups", "1", "--loops", "2",
            "--reports", str(reports), "--json",
            timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        (found,) = json.loads(result.stdout)["comparisons"]
        return result, found

    # Same code on both sides: the sequence claims a change in at most 5% of A/A runs, and this
    # machine's noise keeps it from settling an equivalence within 1% in 40 s, so the budget ends
    # the run (or, on a quiet machine, the equivalence settles it). One false claim is that 5%;
    # a second independent one (at most 0.25% by chance) means the A/A itself is biased.
    reports = tmp_path / "reports"
    result, comparison = aa(reports)
    if comparison["verdict"] != "no clear improvement":
        shutil.rmtree(reports)
        result, comparison = aa(reports)
    assert comparison["verdict"] == "no clear improvement", comparison
    run, m = only_run(reports)
    seq = m["sequential"]["richards/nojit"]
    assert seq["stopped"].startswith(("budget of 0.666667 min spent", "settled (equivalent)"))
    looks = seq["looks"]
    assert [lk["blocks"] for lk in looks] == list(range(2, len(looks) + 2))
    last = looks[-1]
    assert last["ci"] == pytest.approx(comparison["ci"]) and last["blocks"] == comparison["n_from"]
    assert m["design"]["until_decided"] and m["design"]["budget_seconds"] == 40
    assert "confidence sequence" in m["design"]["sequential_method"]
    assert "block 2: ratio" in result.stderr and "vs ±" in result.stderr
    findings = (reports / "findings.md").read_text()
    for field in ("Blocks, time and noise", "CV from / to", "starved processes", "The interval after each block"):
        assert field in findings
    if (run / "ab.png").exists():  # matplotlib (the `plot` extra) is installed
        assert (run / "ab-sequence.png").stat().st_size > 0
        assert "ab-sequence.png" in findings


@pytest.mark.slow
def test_quiet_wait_waits_for_a_free_cpu_and_says_when_the_host_stayed_busy(tmp_path: Path) -> None:
    """More CPU hogs than CPUs: no block finds a free CPU, so each waits its limit, then measures,
    and the run says how often and how long; a wait never loses a block."""
    cpus = os.cpu_count() or 1
    hogs = [subprocess.Popen([sys.executable, "-c", HOG, "600"]) for _ in range(cpus + 1)]
    try:
        result = run_invoke(
            "ab", "--aa", "--blocks", "6", "--quiet-wait", "1",
            "--bench-script", str(LOOP_BENCH), "--values", "2", "--warmups", "1", "--loops", "2",
            "--cpu-share-gap", "0", "--reports", str(tmp_path / "reports"), "--json",
            timeout=900,
        )  # fmt: skip
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert result.returncode == 0, result.stderr[-3000:]
    _, m = only_run(tmp_path / "reports")
    assert m["design"]["quiet_wait_seconds"] == 1
    waits = m["quiet_wait"]
    assert waits["blocks_waited"] == 6 and waits["started_busy"] == 6, waits
    assert waits["seconds"] >= 6 * 1.0 and waits["off"] is None
    assert len(m["samples"]["richards/nojit"]) == 6
    assert "host busy (" in result.stderr and "measuring anyway" in result.stderr
    findings = (tmp_path / "reports" / "findings.md").read_text()
    assert "Waiting for a quiet host (--quiet-wait 1 s): 6 blocks waited" in findings
    assert "6 started with the host still busy" in findings


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed (Debian package valgrind)")
def test_aa_instructions_settle_as_equivalent(tmp_path: Path) -> None:
    """Instruction counts of one worker repeat to a few in 10,000 with the same hash seed, so an
    A/A settles inside ±0.2% after the minimum blocks; the report labels the counts as instructions."""
    reports = tmp_path / "reports"
    result = run_invoke(
        "ab", "--aa", "--metric", "instructions", "--until-decided", "--budget", "10m",
        "--bench-script", str(LOOP_BENCH), "--values", "1", "--warmups", "0", "--loops", "10",
        "--reports", str(reports), "--json",
        timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (comparison,) = json.loads(result.stdout)["comparisons"]
    assert comparison["unit"] == "instructions" and comparison["delta"] == pytest.approx(0.002)
    assert comparison["verdict"] == "no clear improvement" and "equivalent within ±0.2%" in comparison["reason"]
    _, m = only_run(reports)
    assert m["design"]["metric"] == "instructions" and m["design"]["counter"] in ("perf", "cachegrind")
    assert m["design"]["instructions_counted"].startswith("per measured value")
    assert m["sequential"]["richards/nojit"]["stopped"].startswith("settled (equivalent) after 6 blocks")
    assert "from (instructions)" in (reports / "findings.md").read_text()
