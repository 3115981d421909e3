"""pyperf loading, `compare` on real CinderX pyperf files and runs, and the `invoke compare` CLI."""

from __future__ import annotations

import gzip
import json
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import run_invoke

from armjit.analysis import compare, pyperf_data, stats
from armjit.errors import UsageError
from armjit.render import compare_report
from armjit.seams.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "cinderx-2026.11"
PYPERF = FIXTURES / "pyperf"
NOCINDERX = PYPERF / "richards_nocinderx_w10.json"
JITLIST = PYPERF / "richards_jitlist_w10.json"
AUTOJIT = PYPERF / "richards_autojit_w10.json"
# Two real versions of one benchmark about 30% apart, both stable (tests/data/README.md).
FAST = Path(__file__).resolve().parent / "data" / "sleep-bound" / "sleep_5ms_a.json"
SLOW = Path(__file__).resolve().parent / "data" / "sleep-bound" / "sleep_6.5ms.json"

needs_fixtures = pytest.mark.skipif(not PYPERF.is_dir(), reason="shared CinderX fixtures not present")
pytestmark = needs_fixtures


def fixture_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def make_run(store: RunStore, run_id: str, modes: dict[str, dict[str, Any]], host: str = "arm1") -> Path:
    """A run directory as `invoke baseline` leaves it: run.json plus pyperf files per mode."""
    run = store.create(run_id)
    manifest_modes = {}
    for name, spec in modes.items():
        entry: dict[str, Any] = {"jit_logs": [], "threshold": spec.get("threshold")}
        if spec.get("source") is not None:
            target = run.file("pyperf", f"{name}.json")
            shutil.copyfile(spec["source"], target)
            entry["pyperf_json"] = run.relative(target)
        else:
            entry["pyperf_json"] = None
        entry["compiles"] = {"main": spec.get("main", 37), "total": 40, "other": 3}
        manifest_modes[name] = entry
    run.save_manifest({"run_id": run.run_id, "host": {"name": host}, "steps": [], "modes": manifest_modes})
    return run.path


# --- pyperf_data ----------------------------------------------------------------------------


def test_load_fixture_skips_the_calibration_run() -> None:
    data = pyperf_data.load(JITLIST)
    bench = data.get("richards")
    raw = fixture_json(JITLIST)["benchmarks"][0]["runs"]
    assert len(raw) == 11 and len(bench.processes) == 10
    assert all(len(p) == 5 for p in bench.processes)
    assert bench.processes[0] == tuple(raw[1]["values"])
    assert bench.loops == 8 and bench.unit == "second"
    assert pyperf_data.benchmark_names(JITLIST) == ["richards"]


def test_load_gzip(tmp_path: Path) -> None:
    gz = tmp_path / "r.json.gz"
    gz.write_bytes(gzip.compress(JITLIST.read_bytes()))
    assert pyperf_data.load(gz).get("richards").processes == pyperf_data.load(JITLIST).get("richards").processes


def test_suite_with_several_benchmarks(tmp_path: Path) -> None:
    data = fixture_json(JITLIST)
    other = json.loads(json.dumps(data["benchmarks"][0]))
    other["metadata"] = {"name": "richards_copy"}
    data["benchmarks"].append(other)
    path = write_json(tmp_path / "suite.json", data)
    assert pyperf_data.benchmark_names(path) == ["richards", "richards_copy"]


def single_value(tmp_path: Path) -> Path:
    data = fixture_json(JITLIST)
    data["benchmarks"][0]["runs"] = [{"metadata": {}, "values": [0.03]}]
    return write_json(tmp_path / "single.json", data)


def calibration_only(tmp_path: Path) -> Path:
    data = fixture_json(JITLIST)
    data["benchmarks"][0]["runs"] = data["benchmarks"][0]["runs"][:1]
    return write_json(tmp_path / "calib.json", data)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: write_text(p / "empty.json", ""), "empty file"),
        (lambda p: write_text(p / "blank.json", " \n"), "empty file"),
        (lambda p: write_text(p / "bad.json", "{not json"), "not JSON"),
        (lambda p: write_json(p / "list.json", [1, 2]), "not a pyperf result file"),
        (lambda p: write_json(p / "other.json", {"hello": 1}), "not a pyperf result file"),
        (single_value, "single value"),
        (calibration_only, "no measured values"),
        (lambda p: write_bytes(p / "x.json.gz", b"\x1f\x8bnot gzip"), "gzip"),
        (lambda p: p / "missing.json", "no such file"),
    ],
)
def test_load_refuses_bad_input_with_one_line(tmp_path: Path, make: Any, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(UsageError) as info:
        pyperf_data.load(path)
    text = str(info.value)
    assert message in text and "\n" not in text and str(path.name) in text


# --- compare on real files -------------------------------------------------------------------


def files(a: Path, b: Path, **kwargs: Any) -> compare.Report:
    store = RunStore(Path("/nonexistent-runs"))
    return compare.compare_inputs(compare.load_input(a, store), compare.load_input(b, store), **kwargs)


def test_nocinderx_to_jitlist_differ_in_calibrated_loops_and_stability() -> None:
    # The JIT is ~38% faster here. pyperf calibrated 4 loops for one file and 8 for the other,
    # which changes nothing that is measured (values are per loop); the interpreter's process
    # medians vary by 11%, which is what stands in the way of a claim here.
    report = files(NOCINDERX, JITLIST, delta=0.02)
    (cmp,) = report.comparisons
    assert cmp.estimate.ratio < 0.7 and cmp.estimate.ci_hi < 1 / 1.02
    assert not cmp.estimate.paired and not report.paired
    assert cmp.estimate.from_median == pytest.approx(
        statistics.median(map(stats.process_median, pyperf_data.load(NOCINDERX).get("richards").processes))
    )
    assert cmp.verdict == "inconclusive"
    assert cmp.reason == "inconclusive: unstable: CV 11.1% (from) > 10%"
    assert cmp.comparable is True
    assert "loops" not in cmp.reason
    assert any("not interleaved" in n for n in report.notes)
    assert report.overall == "inconclusive"
    (back,) = files(JITLIST, NOCINDERX, delta=0.02).comparisons
    assert back.verdict == "inconclusive" and back.estimate.ratio > 1.3


def test_stable_comparable_files_with_a_delta_get_a_verdict() -> None:
    report = files(SLOW, FAST, delta=0.02)
    (cmp,) = report.comparisons
    assert cmp.verdict == "real improvement" and cmp.estimate.ci_hi < 1 / 1.02
    assert cmp.delta_source == "explicit" and cmp.reasons == ()
    assert report.overall == "real improvement"
    (back,) = files(FAST, SLOW, delta=0.02).comparisons
    assert back.verdict == "regression"


def test_autojit_vs_autojit_sync_is_not_an_improvement() -> None:
    # Two JIT configurations ~4% apart with ~9% CV and 10 processes each: too noisy to certify.
    (cmp,) = files(AUTOJIT, PYPERF / "richards_autojit_sync_w10.json").comparisons
    assert cmp.verdict == "no clear improvement"
    assert cmp.reason.startswith("interval too wide:") and cmp.decision.blocks_needed is not None
    assert cmp.decision.blocks_needed > 10


def test_same_file_is_equivalent_or_below_the_floor() -> None:
    (cmp,) = files(JITLIST, JITLIST).comparisons
    assert cmp.estimate.ratio == 1.0
    assert cmp.verdict == "no clear improvement"


def test_explicit_delta_is_used() -> None:
    (cmp,) = files(SLOW, FAST, delta=0.45).comparisons
    assert cmp.decision.delta == 0.45
    expected = "real improvement" if cmp.estimate.ci_hi < 1 / 1.45 else "no clear improvement"
    assert cmp.verdict == expected


def test_benchmarks_that_differ_are_named(tmp_path: Path) -> None:
    data = fixture_json(JITLIST)
    extra = json.loads(json.dumps(data["benchmarks"][0]))
    extra["metadata"] = {"name": "nbody"}
    data["benchmarks"].append(extra)
    suite = write_json(tmp_path / "suite.json", data)
    report = files(NOCINDERX, suite)
    assert [c.benchmark for c in report.comparisons] == ["richards"]
    assert any("only in to" in n and "nbody" in n for n in report.notes)


def test_no_benchmark_in_common_is_refused(tmp_path: Path) -> None:
    data = fixture_json(JITLIST)
    data["metadata"]["name"] = "nbody"
    other = write_json(tmp_path / "nbody.json", data)
    with pytest.raises(UsageError, match="no benchmark in common: from has richards; to has nbody"):
        files(NOCINDERX, other)


def test_too_few_processes_is_inconclusive(tmp_path: Path) -> None:
    data = fixture_json(JITLIST)
    data["benchmarks"][0]["runs"] = data["benchmarks"][0]["runs"][:3]  # calibration + 2 processes
    few = write_json(tmp_path / "few.json", data)
    (cmp,) = files(NOCINDERX, few).comparisons
    assert cmp.verdict == "inconclusive"
    assert "too few processes" in cmp.reason


# --- compare on runs --------------------------------------------------------------------------


def test_runs_per_mode_with_threshold_and_jit_checks(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    make_run(
        store,
        "20261124T000000Z_a",
        {
            "nojit": {"source": NOCINDERX},
            "jitlist": {"source": NOCINDERX, "main": 37},
            "autojit": {"source": AUTOJIT, "threshold": 50},
            "extra": {"source": AUTOJIT},
        },
    )
    make_run(
        store,
        "20261124T010000Z_b",
        {
            "nojit": {"source": NOCINDERX},
            "jitlist": {"source": JITLIST, "main": 0},
            "autojit": {"source": AUTOJIT, "threshold": 10},
        },
    )
    a = compare.load_input("20261124T000000Z_a", store)
    b = compare.load_input("20261124T010000Z_b", store)
    report = compare.compare_inputs(a, b)
    by_mode = {c.mode: c for c in report.comparisons}
    assert set(by_mode) == {"nojit", "jitlist", "autojit"}
    assert by_mode["nojit"].verdict == "inconclusive"  # the interpreter's CV is 11.1%
    assert by_mode["nojit"].reason.startswith("inconclusive: unstable: CV 11.1% (from)")
    assert by_mode["jitlist"].verdict == "inconclusive"
    assert "JIT not active" in by_mode["jitlist"].reason
    assert by_mode["autojit"].verdict == "inconclusive"
    assert "threshold mismatch (50 -> 10)" in by_mode["autojit"].reason
    assert any("modes only in from" in n and "extra" in n for n in report.notes)
    assert report.overall == "inconclusive"


def test_run_mode_without_results_is_missing_not_improved(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    make_run(store, "a", {"nojit": {"source": SLOW}, "jitlist": {"source": NOCINDERX}})
    make_run(store, "b", {"nojit": {"source": FAST}, "jitlist": {"source": None}})
    report = compare.compare_inputs(compare.load_input("a", store), compare.load_input("b", store), delta=0.02)
    assert [c.mode for c in report.comparisons] == ["nojit"]
    assert report.comparisons[0].verdict == "real improvement"
    assert report.missing == ("mode jitlist",)
    assert report.overall == "inconclusive"


def test_run_against_file_needs_a_mode(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    run = make_run(store, "a", {"nojit": {"source": NOCINDERX}, "jitlist": {"source": SLOW}})
    with pytest.raises(UsageError, match="choose one with --mode"):
        compare.compare_inputs(compare.load_input(run, store), compare.load_input(FAST, store))
    report = compare.compare_inputs(
        compare.load_input(run, store), compare.load_input(FAST, store), mode="jitlist", delta=0.02
    )
    assert [(c.mode, c.verdict) for c in report.comparisons] == [("jitlist", "real improvement")]
    with pytest.raises(UsageError, match="has no such mode"):
        compare.compare_inputs(compare.load_input(run, store), compare.load_input(FAST, store), mode="autojit")


def test_runs_without_a_common_mode_are_refused(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    make_run(store, "a", {"nojit": {"source": NOCINDERX}})
    make_run(store, "b", {"jitlist": {"source": JITLIST}})
    with pytest.raises(UsageError, match="share no JIT mode"):
        compare.compare_inputs(compare.load_input("a", store), compare.load_input("b", store))


def test_unknown_reference_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="neither a pyperf JSON file nor a run"):
        compare.load_input("nope", RunStore(tmp_path / "runs"))


# --- noise floor store --------------------------------------------------------------------------


def test_noise_floor_store_round_trip_and_use(tmp_path: Path) -> None:
    path = compare.noise_path(tmp_path)
    assert compare.lookup_noise_floor(path, host="arm1", benchmark="richards", mode=None) is None
    compare.record_noise_floor(path, host="arm1", benchmark="richards", mode=None, delta=0.03, blocks=20)
    compare.record_noise_floor(path, host="arm1", benchmark="richards", mode="jitlist", delta=0.05, blocks=20)
    assert compare.lookup_noise_floor(path, host="arm1", benchmark="richards", mode="jitlist") == 0.05
    assert compare.lookup_noise_floor(path, host="arm1", benchmark="richards", mode="nojit") == 0.03
    assert compare.lookup_noise_floor(path, host="x86", benchmark="richards", mode="nojit") is None
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["hosts"]["arm1"]["richards"]["*"]["blocks"] == 20
    store = RunStore(tmp_path / "runs")
    make_run(store, "a", {"jitlist": {"source": SLOW}})
    make_run(store, "b", {"jitlist": {"source": FAST}})

    def judged() -> compare.Comparison:
        report = compare.compare_inputs(compare.load_input("a", store), compare.load_input("b", store), noise_file=path)
        return report.comparisons[0]

    # the paired A/A δ alone is not a δ for two separate runs
    compare.record_noise_floor(path, host="arm1", benchmark="sleep", mode="jitlist", delta=0.05, blocks=20)
    assert judged().delta_source == "unknown" and judged().verdict == "inconclusive"
    compare.record_between_run_noise(path, host="arm1", benchmark="sleep", mode=None, delta=0.04, runs=["x", "y"])
    assert compare.lookup_between_run_noise(path, host="arm1", benchmark="sleep", mode="jitlist") == (0.04, 2)
    assert judged().delta_source == "between_runs" and judged().decision.delta == 0.05  # the larger of the two
    # a stored floor below 1% never lowers δ
    compare.record_noise_floor(path, host="arm1", benchmark="sleep", mode="jitlist", delta=0.002, blocks=20)
    compare.record_between_run_noise(path, host="arm1", benchmark="sleep", mode="jitlist", delta=0.003, runs=["x", "y"])
    assert judged().decision.delta == stats.MIN_DELTA


def test_bad_noise_file_and_value(tmp_path: Path) -> None:
    path = tmp_path / "noise.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(UsageError, match="not an armjit noise-floor file"):
        compare.lookup_noise_floor(path, host="h", benchmark="b", mode=None)
    with pytest.raises(UsageError):
        compare.record_noise_floor(tmp_path / "n2.json", host="h", benchmark="b", mode=None, delta=-0.1, blocks=3)
    assert not (tmp_path / "n2.json").exists()


@pytest.mark.parametrize(("text", "value"), [("0.02", 0.02), ("2%", 0.02), ("1%", 0.01)])
def test_parse_delta(text: str, value: float) -> None:
    assert compare.parse_delta(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "0.005", "0.6", "nan"])
def test_parse_delta_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="--delta"):
        compare.parse_delta(text)


# --- rendering ----------------------------------------------------------------------------


def test_table_and_comparison_findings_block() -> None:
    report = files(SLOW, FAST, delta=0.02)
    text = compare_report.render_table(report)
    assert "ratio to/from (lower is better)" in text and "%Δ (lower is better)" in text
    assert "real improvement" in text
    block = compare_report.comparison_findings_block(report, title="nocinderx -> jitlist", plot="plots/x.png")
    assert block.startswith("### nocinderx -> jitlist")
    assert "| mode" in block and "ratio to/from (lower is better)" in block
    assert "not interleaved" in block
    assert "![from -> to per process](plots/x.png)" in block
    verdict_lines = [line for line in block.splitlines() if line.startswith("Verdict:")]
    assert verdict_lines == ["Verdict: real improvement."]
    regression = compare_report.comparison_findings_block(files(FAST, SLOW, delta=0.02), title="t")
    assert regression.rstrip().endswith("Verdict: regression.")


def test_report_json_shape() -> None:
    data = compare.report_json(files(NOCINDERX, JITLIST))
    (row,) = data["comparisons"]
    assert row["benchmark"] == "richards" and row["mode"] is None
    assert row["ratio"] == pytest.approx(row["to"] / row["from"])
    assert row["paired"] is False
    assert row["comparable"] is True and row["delta_source"] == "unknown" and row["delta"] is None
    assert [r["kind"] for r in row["reasons"]] == ["unstable", "delta_unknown"]
    assert row["reasons"][0]["side"] == "from" and row["reasons"][0]["cv"] > 0.1
    json.dumps(data)  # serialisable


def test_plot_is_written_when_matplotlib_is_there(tmp_path: Path) -> None:
    from armjit.render import plot

    report = files(NOCINDERX, JITLIST)
    items = [plot.PlotItem("richards", c.estimate, c.decision.delta) for c in report.comparisons]
    out = plot.save_plot(items, tmp_path / "p" / "cmp.png", title="t")
    if not plot.available():
        assert out is None
        return
    assert out == tmp_path / "p" / "cmp.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["cmp.png"]


# --- CLI ------------------------------------------------------------------------------------


def invoke(*args: str, reports: Path) -> subprocess.CompletedProcess[str]:
    return run_invoke(*args, timeout=120, env={"ARMJIT_REPORTS": str(reports)})


def test_cli_json_shape(tmp_path: Path) -> None:
    res = invoke("compare", "--from", str(SLOW), "--to", str(FAST), "--delta", "2%", "--json", reports=tmp_path)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    (row,) = data["comparisons"]
    types = {"benchmark": str, "from": float, "to": float, "ratio": float, "reason": str, "paired": bool}
    for key, kind in types.items():
        assert isinstance(row[key], kind), key
    assert row["mode"] is None
    assert isinstance(row["ci"], list) and len(row["ci"]) == 2 and row["ci"][0] <= row["ratio"] <= row["ci"][1]
    assert row["verdict"] == "real improvement"
    assert row["paired"] is False
    assert 0 < row["to"] < row["from"] < 1
    assert row["comparable"] is True and row["delta_source"] == "explicit" and row["reasons"] == []


def test_cli_table_on_runs(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    make_run(store, "base", {"jitlist": {"source": SLOW}})
    make_run(store, "cand", {"jitlist": {"source": FAST}})
    res = invoke("compare", "--from", "base", "--to", "cand", "--delta", "0.02", reports=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "ratio to/from (lower is better)" in res.stdout
    assert "not interleaved" in res.stdout
    assert "Verdict: real improvement." in res.stdout


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda p: write_text(p / "e.json", ""), ["--from", "{tmp}/e.json", "--to", str(JITLIST)], "empty file"),
        (single_value, ["--from", "{tmp}/single.json", "--to", str(JITLIST)], "single value"),
        (lambda p: None, ["--from", str(JITLIST), "--to", "no-such-run"], "neither a pyperf JSON file nor a run"),
        (lambda p: None, ["--from", str(JITLIST), "--to", str(NOCINDERX), "--delta", "zz"], "--delta"),
        (lambda p: None, ["--from", str(JITLIST)], "give both --from and --to"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, setup: Any, args: list[str], message: str) -> None:
    setup(tmp_path)
    res = invoke("compare", *[a.format(tmp=tmp_path) for a in args], reports=tmp_path)
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in res.stderr


def test_the_final_line_agrees_with_the_table_and_says_why(tmp_path: Path) -> None:
    """The issue's case: the table said inconclusive and the last line "no clear improvement"."""
    out = run_invoke("compare", "--from", str(NOCINDERX), "--to", str(JITLIST), timeout=120)
    assert out.returncode == 0, out.stderr
    row_verdicts = [v for v in ("inconclusive", "no clear improvement") if f"  {v}  " in out.stdout]
    assert row_verdicts == ["inconclusive"]
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("Verdict: inconclusive: unstable: CV 11.1% (from) > 10%; δ unknown for vm/richards"), last
    data = json.loads(run_invoke("compare", "--from", str(NOCINDERX), "--to", str(JITLIST), "--json").stdout)
    assert data["overall"] == "inconclusive" == data["comparisons"][0]["verdict"]
    assert data["overall_text"] == last.removeprefix("Verdict: ").removesuffix(".")
    block = compare_report.comparison_findings_block(files(NOCINDERX, JITLIST), title="t")
    assert block.rstrip().splitlines()[-1] == last
    # several rows: each reason named by its row; a missing mode is a reason too
    store = RunStore(tmp_path / "runs")
    make_run(store, "a", {"nojit": {"source": SLOW}, "jitlist": {"source": NOCINDERX}})
    make_run(store, "b", {"nojit": {"source": FAST}, "jitlist": {"source": None}})
    report = compare.compare_inputs(compare.load_input("a", store), compare.load_input("b", store), delta=0.02)
    assert report.overall_text == "inconclusive: mode jitlist: no results to compare"
    # all rows judged, none moved: "no clear improvement" with the rows' reasons
    (same,) = files(FAST, FAST, delta=0.02).comparisons
    assert same.verdict == "no clear improvement"
    assert files(FAST, FAST, delta=0.02).overall_text == f"no clear improvement: {same.reason}"
    assert compare.Report("a", "b", ()).overall_text == "no clear improvement: nothing was compared"
