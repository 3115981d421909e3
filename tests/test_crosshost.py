"""The cross-host table's numbers and the ab fleet's summary line, on real pyperf files."""

from __future__ import annotations

from pathlib import Path

from armjit.analysis.crosshost import cross_host_rows, helped_and_hurt, host_facts_row
from armjit.analysis.run_inputs import load_input
from armjit.render.fleet_report import cross_host_table
from armjit.seams.store import RunStore

DATA = Path(__file__).parent / "data" / "sleep-bound"


def test_ratios_to_the_reference_host_with_intervals(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    inputs = {
        "arm1": load_input(DATA / "sleep_5ms_a.json", store),
        "x86a": load_input(DATA / "sleep_6.5ms.json", store),
    }
    (row,) = cross_host_rows(inputs, "x86a", resamples=2000)
    assert (row.benchmark, row.mode) == ("sleep", "-")
    arm, ref = row.cells["arm1"], row.cells["x86a"]
    assert ref is not None and ref.estimate is None
    assert arm is not None and arm.estimate is not None
    e = arm.estimate
    assert abs(e.ratio - arm.median / ref.median) < 1e-12 and e.ci_lo < e.ratio < e.ci_hi < 1.0
    text = cross_host_table([row], ["arm1", "x86a"], "x86a", "github")
    assert "(reference)" in text and f"x{e.ratio:.3f} [{e.ci_lo:.3f}, {e.ci_hi:.3f}]" in text


def test_host_facts_and_where_a_change_helped() -> None:
    manifest = {
        "host": {"uname": "Linux a1 6.1.0-arm64 #1 SMP aarch64 GNU/Linux", "arch": "aarch64", "nproc": "64",
                 "cpu": "Kunpeng-920", "python": "3.14.0"},
        "settings": {"build": "source"},
        "commits": {"commit": "0123456789abcdef"},
    }  # fmt: skip
    facts = host_facts_row("arm1", manifest)
    assert (facts.arch, facts.cores, facts.kernel, facts.cinderx) == (
        "aarch64",
        "64",
        "6.1.0-arm64",
        "source 0123456789",
    )
    assert host_facts_row("x", {}).arch == "?"
    line = helped_and_hurt(
        {
            "arm1": [("richards", "jitlist", "real improvement")],
            "arm2": [("richards", "jitlist", "regression"), ("go", "jitlist", "real improvement")],
            "x86a": [("richards", "jitlist", "no clear improvement")],
        }
    )
    assert line == "the change helped on arm1, arm2; hurt on arm2; no clear change on x86a"
