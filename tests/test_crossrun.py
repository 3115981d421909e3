"""What an unpaired `compare` may claim: real pyperf files and run records made with the store API.

Data (tests/data/README.md): ``same-wheel/`` holds one unchanged benchmark measured three times on
a shared 2-core machine, at load 6 and at load 1.6 (3 warmups) and at load 1.7 (10 warmups): the
identical-code case that was once called a 47% "real improvement". ``sleep-bound/`` holds two
versions of a benchmark that really differ by 30%, each stable (CV of process medians below
10%), the faster one measured twice (a repeated baseline) and the slower one once more with 3
warmups instead of 1.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import run_invoke

from armjit.analysis import between_runs, compare, crossrun, pyperf_data, stats
from armjit.errors import UsageError
from armjit.render import compare_report
from armjit.seams.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
LOAD6 = DATA / "same-wheel" / "richards_load6_w3.json"
LOAD1 = DATA / "same-wheel" / "richards_load1.6_w3.json"
LOAD1_W10 = DATA / "same-wheel" / "richards_load1.7_w10.json"
FAST_A = DATA / "sleep-bound" / "sleep_5ms_a.json"  # the faster version
FAST_B = DATA / "sleep-bound" / "sleep_5ms_b.json"  # the same again, a repeated baseline
SLOW = DATA / "sleep-bound" / "sleep_6.5ms.json"  # 30% slower
SLOW_W3 = DATA / "sleep-bound" / "sleep_6.5ms_w3.json"  # as SLOW, with 3 warmups instead of 1
RELEASE = "pypi==2026.11.2.0"


def baseline_run(
    store: RunStore,
    run_id: str,
    source: Path,
    *,
    build: str = "source",
    commit: str | None = None,
    host: str = "arm1",
    mode: str = "nojit",
    extra: dict[str, Any] | None = None,
) -> Path:
    """A run record as `invoke baseline` writes it: run.json and pyperf/<mode>.json."""
    run = store.create(run_id)
    target = run.file("pyperf", f"{mode}.json")
    shutil.copyfile(source, target)
    bench = pyperf_data.load(source).benchmarks[0]
    manifest: dict[str, Any] = {
        "run_id": run.run_id,
        "kind": "baseline",
        "status": "ok",
        "settings": {
            "build": build,
            "build_env": [],
            "processes": len(bench.processes),
            "values": len(bench.processes[0]),
            "warmups": bench.warmups[0],
            "loops": bench.loops,
            "bench": [bench.name],
        },
        "host": {"name": host, "python": "3.11.7"},
        "commits": {"commit": commit, "deployed": {"commit": commit, "dirty_hash": None}} if commit else {},
        "remote": {},
        "modes": {
            mode: {
                "pyperf_json": run.relative(target),
                "runner": "pyperf",
                "jit_logs": [],
                "compiles": {"main": 0, "total": 0, "other": 0},
            }
        },
        **(extra or {}),
    }
    run.save_manifest(manifest)
    return run.path


def runs(store: RunStore, a: str, b: str, **kwargs: Any) -> compare.Comparison:
    report = compare.compare_inputs(compare.load_input(a, store), compare.load_input(b, store), **kwargs)
    (cmp,) = report.comparisons
    return cmp


def kinds(cmp: compare.Comparison) -> list[str]:
    return [r.kind for r in cmp.reasons]


def by_kind(cmp: compare.Comparison, kind: str) -> list[dict[str, Any]]:
    return [r.as_json() for r in cmp.reasons if r.kind == kind]


# --- the data is what the tests say it is -----------------------------------------------------


def test_the_data_has_the_properties_the_tests_rely_on() -> None:
    def cv(path: Path) -> float:
        return stats.cv([stats.process_median(p) for p in pyperf_data.load(path).benchmarks[0].processes])

    assert cv(LOAD6) > crossrun.CV_LIMIT and cv(LOAD1) > crossrun.CV_LIMIT
    for path in (FAST_A, FAST_B, SLOW, SLOW_W3):
        assert cv(path) <= crossrun.CV_LIMIT, path
    assert pyperf_data.load(LOAD1_W10).benchmarks[0].warmups == (10,) * 10
    assert pyperf_data.load(SLOW_W3).benchmarks[0].warmups == (3,) * 10


# --- the identical-wheel case ------------------------------------------------------------------


def test_identical_wheel_at_two_loads_is_no_improvement(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    baseline_run(store, "load6", LOAD6, build=RELEASE)
    baseline_run(store, "load1", LOAD1, build=RELEASE)
    report = compare.compare_inputs(compare.load_input("load6", store), compare.load_input("load1", store))
    (cmp,) = report.comparisons
    # The numbers alone look like a large, certain improvement ...
    assert cmp.estimate.ratio < 0.7 and cmp.estimate.ci_hi < 1 / 1.05
    # ... but both sides ran the same released wheel, and neither side was stable.
    assert cmp.verdict == "no clear improvement"
    assert cmp.reason.startswith("same code on both sides (released cinderx==2026.11.2.0)")
    assert kinds(cmp) == ["unstable", "unstable", "delta_unknown", "same_code"]
    assert report.overall_text == "no clear improvement (same code on both sides)"
    assert "Verdict: no clear improvement (same code on both sides)." in compare_report.render_text(report)
    row = compare.report_json(report)["comparisons"][0]
    assert row["same_code"] is True and row["comparable"] is True
    assert row["delta_source"] == "unknown" and row["delta"] is None
    unstable = [r for r in row["reasons"] if r["kind"] == "unstable"]
    assert [r["side"] for r in unstable] == ["from", "to"]
    assert unstable[1]["cv"] == pytest.approx(cmp.estimate.cv_to) and unstable[1]["cv"] > 0.1
    assert {"kind": "same_code", "identity": "release"}.items() <= row["reasons"][-1].items()


def test_the_same_data_without_records_is_inconclusive_even_with_a_delta() -> None:
    store = RunStore(Path("/nonexistent-runs"))
    a, b = compare.load_input(LOAD6, store), compare.load_input(LOAD1, store)
    for delta in (None, 0.02):
        (cmp,) = compare.compare_inputs(a, b, delta=delta).comparisons
        assert cmp.verdict == "inconclusive", delta
        assert cmp.reason.startswith("inconclusive: unstable: CV 17.8% (from) > 10%; unstable: CV 30.1% (to)")
    assert cmp.delta_source == "explicit" and "delta_unknown" not in kinds(cmp)


def test_different_warmups_are_not_comparable() -> None:
    store = RunStore(Path("/nonexistent-runs"))
    (cmp,) = compare.compare_inputs(
        compare.load_input(SLOW_W3, store), compare.load_input(FAST_A, store), delta=0.02
    ).comparisons
    assert cmp.verdict == "inconclusive"
    assert cmp.reason == "inconclusive: not comparable: warmups 3 vs 1"
    assert cmp.comparable is False
    assert by_kind(cmp, "not_comparable") == [
        {
            "kind": "not_comparable",
            "setting": "warmups",
            "from": "3",
            "to": "1",
            "text": "not comparable: warmups 3 vs 1",
        }
    ]
    # the same two versions measured alike: a verdict (so the refusal above is the warmups)
    (alike,) = compare.compare_inputs(
        compare.load_input(SLOW, store), compare.load_input(FAST_A, store), delta=0.02
    ).comparisons
    assert alike.verdict == "real improvement" and alike.comparable is True


def test_same_commit_and_build_is_the_same_code_whatever_the_numbers(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    baseline_run(store, "slow", SLOW, commit="a" * 40)
    baseline_run(store, "fast", FAST_A, commit="a" * 40)
    cmp = runs(store, "slow", "fast", delta=0.02)
    assert cmp.estimate.ci_hi < 1 / 1.02  # the interval alone would be a real improvement
    assert cmp.verdict == "no clear improvement" and cmp.same_code
    assert cmp.reason.startswith(f"same code on both sides (commit {'a' * 10})")
    # a different build env is a different build of that commit
    baseline_run(store, "fast-o3", FAST_A, commit="a" * 40)
    manifest = json.loads((store.root / "fast-o3" / "run.json").read_text(encoding="utf-8"))
    manifest["settings"]["build_env"] = ["CMAKE_BUILD_TYPE=Debug"]
    (store.root / "fast-o3" / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert not runs(store, "slow", "fast-o3", delta=0.02).same_code


def test_same_wheel_sha256_is_the_same_code(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    sha = "5" * 64
    baseline_run(store, "x", SLOW, commit="a" * 40, extra={"remote": {"wheel_sha256": sha}})
    baseline_run(store, "y", FAST_A, commit="b" * 40, extra={"remote": {"wheel_sha256": sha}})
    cmp = runs(store, "x", "y", delta=0.02)
    assert cmp.verdict == "no clear improvement" and cmp.reason.startswith("same code on both sides (wheel sha256 5555")


def test_unknown_delta_blocks_a_claim_and_names_the_commands(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    baseline_run(store, "slow", SLOW, commit="a" * 40)
    baseline_run(store, "fast", FAST_A, commit="b" * 40)
    cmp = runs(store, "slow", "fast", noise_file=compare.noise_path(tmp_path))
    assert cmp.estimate.ci_hi < 1 / 1.05
    assert cmp.verdict == "inconclusive" and cmp.delta_source == "unknown"
    (unknown,) = by_kind(cmp, "delta_unknown")
    assert unknown["host"] == "arm1" and unknown["benchmark"] == "sleep"
    assert unknown["text"].startswith("δ unknown for arm1/sleep")
    assert "`invoke ab`" in cmp.reason and "`invoke ab --aa`" in cmp.reason and "--record-noise" in cmp.reason
    # a paired A/A δ alone does not settle it: it never saw the load change between two runs
    compare.record_noise_floor(
        compare.noise_path(tmp_path), host="arm1", benchmark="sleep", mode="nojit", delta=0.02, blocks=30
    )
    assert runs(store, "slow", "fast", noise_file=compare.noise_path(tmp_path)).verdict == "inconclusive"


def test_recorded_between_run_noise_gives_a_real_verdict(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    noise = compare.noise_path(tmp_path)
    baseline_run(store, "base1", FAST_A, commit="a" * 40)
    baseline_run(store, "base2", FAST_B, commit="a" * 40)
    baseline_run(store, "slower", SLOW, commit="b" * 40)
    lines = between_runs.store_between_run_noise(
        noise,
        between_runs.measure_between_run_noise(
            compare.load_input("base1", store), compare.load_input("base2", store), store
        ),
    )
    (line,) = lines
    assert line.startswith("stored between-run δ ") and "arm1/sleep/nojit from 2 runs" in line
    found = compare.lookup_between_run_noise(noise, host="arm1", benchmark="sleep", mode="nojit")
    assert found is not None
    delta, n_runs = found
    medians = [between_runs.run_median(pyperf_data.load(p).benchmarks[0]) for p in (FAST_A, FAST_B)]
    assert n_runs == 2 and delta == pytest.approx(
        max(stats.MIN_DELTA, math.expm1(1.96 * abs(math.log(medians[0] / medians[1]))))
    )
    cmp = runs(store, "base1", "slower", noise_file=noise)
    assert cmp.delta_source == "between_runs" and cmp.decision.delta == pytest.approx(delta)
    assert cmp.verdict == "regression", cmp.reason
    assert cmp.reasons == ()
    better = runs(store, "slower", "base2", noise_file=noise)
    assert better.verdict == "real improvement", better.reason
    # the A/A δ stored later keeps the between-run noise beside it
    compare.record_noise_floor(noise, host="arm1", benchmark="sleep", mode="nojit", delta=0.02, blocks=30)
    assert compare.lookup_between_run_noise(noise, host="arm1", benchmark="sleep", mode="nojit") == found


def test_record_noise_refuses_what_is_not_a_repeat(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    baseline_run(store, "base1", FAST_A, commit="a" * 40)
    baseline_run(store, "other", SLOW, commit="b" * 40)
    baseline_run(store, "base-w3", SLOW_W3, commit="a" * 40)
    baseline_run(store, "unpinned", FAST_B, build="pypi")
    baseline_run(store, "unpinned2", FAST_A, build="pypi")
    load = compare.load_input
    with pytest.raises(UsageError, match="needs two runs of the same code"):
        between_runs.measure_between_run_noise(load("base1", store), load("other", store), store)
    with pytest.raises(UsageError, match="not pinned"):
        between_runs.measure_between_run_noise(load("unpinned", store), load("unpinned2", store), store)
    with pytest.raises(UsageError, match="not comparable: warmups 1 vs 3"):
        between_runs.measure_between_run_noise(load("base1", store), load("base-w3", store), store)
    with pytest.raises(UsageError, match="two different runs"):
        between_runs.measure_between_run_noise(load("base1", store), load("base1", store), store)
    with pytest.raises(UsageError, match="plain pyperf file"):
        between_runs.measure_between_run_noise(load(FAST_A, store), load("base1", store), store)


def test_record_noise_uses_every_finished_run_of_that_code(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    baseline_run(store, "base1", FAST_A, commit="a" * 40)
    baseline_run(store, "base2", FAST_B, commit="a" * 40)
    baseline_run(store, "base3", FAST_A, commit="a" * 40)
    baseline_run(store, "base-w3", SLOW_W3, commit="a" * 40)  # same code, measured differently
    baseline_run(store, "failed", SLOW, commit="a" * 40, extra={"status": "failed"})
    baseline_run(store, "elsewhere", SLOW, commit="a" * 40, host="arm2")
    (record,) = between_runs.measure_between_run_noise(
        compare.load_input("base1", store), compare.load_input("base2", store), store
    )
    assert record.runs == ("base1", "base2", "base3")
    assert record.left_out == ("base-w3 (not comparable: warmups 1 vs 3)",)


# --- same code, from every record shape armjit has written --------------------------------------

SHA_A, SHA_B, SHA_C = "a1" * 32, "b2" * 32, "c3" * 32


def _pins_v1(sha: str | None, version: str, build: str) -> dict[str, Any]:
    """``pins`` as the first pins step wrote it: cinderx without a source, the wheel hashed by path."""
    wheel = {"path": f"/tmp/w/cinderx-{version}-cp314-cp314-linux_aarch64.whl", "sha256": sha, "source": build}
    return {"cinderx": {"version": version, "location": "/venv/lib"}, "wheel": wheel if sha else None}


def _pins_pypi(sha: str, version: str, build: str) -> dict[str, Any]:
    """``pins`` of ``--build pypi[==V]`` now: the wheel pip reported, in ``cinderx`` and ``wheel``."""
    name = f"cinderx-{version}-cp314-cp314-manylinux_2_28_aarch64.whl"
    ran = {"version": version, "sha256": sha, "source": "pypi", "file": name, "url": f"https://x/{name}"}
    return {
        "cinderx": {**ran, "location": "/venv/lib"},
        "wheel": {"file": name, "url": ran["url"], "sha256": sha, "source": build},
    }


def _pins_source(sha: str, version: str = "2026.11.3.dev4") -> dict[str, Any]:
    name = f"cinderx-{version}-cp314-cp314-linux_aarch64.whl"
    ran = {"version": version, "sha256": sha, "source": "source build", "file": name}
    return {"cinderx": ran, "wheel": {"path": f"/w/{name}", "sha256": sha, "source": "source"}}


def _record(build: str, **parts: Any) -> dict[str, Any]:
    return {"settings": {"build": build, "build_env": parts.pop("env", [])}, **parts}


def _source(commit: str, dirty: str | None = None, **parts: Any) -> dict[str, Any]:
    deployed = {"commit": commit, "dirty_hash": dirty}
    return _record("source", commits={"commit": commit, "deployed": deployed, "dirty": bool(dirty)}, **parts)


SHAPES: dict[str, dict[str, Any]] = {
    # --build pypi==V / --build pypi, every pins shape, and a record from before pins existed
    "release, no pins": _record(RELEASE),
    "release, pins v1": _record(RELEASE, pins=_pins_v1(SHA_A, "2026.11.2.0", RELEASE)),
    "release, pins": _record(RELEASE, pins=_pins_pypi(SHA_A, "2026.11.2.0", RELEASE)),
    "pypi, pins": _record("pypi", pins=_pins_pypi(SHA_A, "2026.11.2.0", "pypi")),
    "pypi, pins v1": _record("pypi", pins=_pins_v1(SHA_A, "2026.11.2.0", "pypi")),
    "pypi, pins v1 unhashed": _record("pypi", pins=_pins_v1(None, "2026.11.2", "pypi")),
    "pypi, newer wheel": _record("pypi", pins=_pins_pypi(SHA_B, "2026.11.3.0", "pypi")),
    "pypi, no pins": _record("pypi"),
    "pypi, bench-only": _record(
        "pypi",
        pins={"cinderx": {"version": "2026.11.2.0", "sha256": None, "source": "installed before (--bench-only)"}},
    ),
    "pypi, remote sha": _record("pypi", remote={"wheel_sha256": SHA_A}),
    "none": _record("none", pins={"cinderx": {"version": "2026.11.2.0", "location": "/venv"}, "wheel": None}),
    # --build source: the commit (+ changes, + env) decides; a rebuild hashes differently
    "source c, no pins": _source("c" * 40),
    "source c, pins": _source("c" * 40, pins=_pins_source(SHA_B)),
    "source c, rebuilt": _source("c" * 40, pins=_pins_source(SHA_C)),
    "source c + changes": _source("c" * 40, "d" * 64, pins=_pins_source(SHA_C)),
    "source c, Debug": _source("c" * 40, env=["CMAKE_BUILD_TYPE=Debug"]),
    "source e, same wheel": _source("e" * 40, pins=_pins_source(SHA_B)),
    "source, bench-only": _record(
        "source", commits={"deployed": {"commit": "c" * 40, "dirty_hash": None}, "commit": "c" * 40}
    ),
    "source, no commit": _record("source", commits={}),
}

SAME = [
    ("release, no pins", "release, pins"),
    ("release, pins", "pypi, pins"),  # the case: pinned and unpinned, one wheel
    ("release, pins v1", "pypi, pins"),
    ("pypi, pins v1", "pypi, pins"),
    ("pypi, pins", "pypi, remote sha"),
    ("release, no pins", "pypi, pins v1 unhashed"),  # the version pip installed, 2026.11.2 == 2026.11.2.0
    ("source c, no pins", "source c, pins"),
    ("source c, pins", "source c, rebuilt"),
    ("source c, pins", "source e, same wheel"),  # byte-identical wheels
    ("source c, no pins", "source, bench-only"),
]
DIFFERENT = [
    ("release, pins", "pypi, newer wheel"),
    ("pypi, no pins", "pypi, no pins"),
    ("pypi, bench-only", "pypi, bench-only"),
    ("none", "none"),
    ("source c, pins", "source c + changes"),
    ("source c, no pins", "source c, Debug"),
    ("source c, rebuilt", "source e, same wheel"),
    ("source c, no pins", "release, no pins"),
    ("source, no commit", "source, no commit"),
]


@pytest.mark.parametrize(("a", "b"), SAME + DIFFERENT)
def test_same_code_from_every_record_shape(a: str, b: str) -> None:
    ia, ib = crossrun.code_identity(SHAPES[a]), crossrun.code_identity(SHAPES[b])
    expected = (a, b) in SAME
    assert (crossrun.same_code(ia, ib) is not None) is expected
    assert (crossrun.same_code(ib, ia) is not None) is expected  # the rule is symmetric
    for identity in (ia, ib):  # history keeps identities as JSON; the rule holds after the round trip
        if identity is not None:
            assert crossrun.CodeIdentity.from_json(json.loads(json.dumps(identity.to_json()))) == identity


def test_every_shape_is_judged() -> None:
    assert {name for pair in SAME + DIFFERENT for name in pair} == set(SHAPES)


def test_an_ab_record_pins_each_side() -> None:
    ab = _record(
        "pypi", pins={"a": _pins_pypi(SHA_A, "2026.11.2.0", "pypi"), "b": _pins_pypi(SHA_B, "2026.11.3", "pypi")}
    )
    a, b = crossrun.code_identity(ab, side="a"), crossrun.code_identity(ab, side="b")
    assert a is not None and b is not None and crossrun.same_code(a, b) is None
    assert crossrun.same_code(a, crossrun.code_identity(SHAPES["pypi, pins"])) is not None


def test_pinned_and_unpinned_runs_of_one_wheel_are_the_same_code(tmp_path: Path) -> None:
    """``--build pypi==2026.11.2.0`` against ``--build pypi``, one wheel: no claim, and a repeat for --record-noise."""
    store = RunStore(tmp_path / "runs")
    baseline_run(store, "pinned", SLOW, build=RELEASE, extra={"pins": _pins_pypi(SHA_A, "2026.11.2.0", RELEASE)})
    baseline_run(store, "unpinned", FAST_A, build="pypi", extra={"pins": _pins_pypi(SHA_A, "2026.11.2.0", "pypi")})
    baseline_run(store, "unpinned2", FAST_B, build="pypi", extra={"pins": _pins_pypi(SHA_A, "2026.11.2.0", "pypi")})
    baseline_run(store, "newer", FAST_B, build="pypi", extra={"pins": _pins_pypi(SHA_B, "2026.11.3.0", "pypi")})
    cmp = runs(store, "pinned", "unpinned", delta=0.02)
    assert cmp.estimate.ci_hi < 1 / 1.02  # the numbers alone would be a real improvement
    assert cmp.verdict == "no clear improvement" and cmp.same_code
    assert cmp.reason.startswith(f"same code on both sides (wheel sha256 {SHA_A[:12]})")
    shown = invoke("compare", "--from", "pinned", "--to", "unpinned", "--delta", "2%", reports=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "real improvement" not in shown.stdout
    assert "Verdict: no clear improvement (same code on both sides)." in shown.stdout
    recorded = invoke("compare", "--from", "unpinned", "--to", "unpinned2", "--record-noise", reports=tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    assert "stored between-run δ" in recorded.stdout and "from 3 runs" in recorded.stdout  # pinned joins them
    refused = invoke("compare", "--from", "unpinned", "--to", "newer", "--record-noise", reports=tmp_path)
    assert refused.returncode == 2 and "needs two runs of the same code" in refused.stderr
    # history judges each run against the one before it by the same rule
    history = invoke("history", "--reports", str(tmp_path), "--no-notes", "--no-plots", reports=tmp_path)
    assert history.returncode == 0, history.stderr
    # (the stored δ counts the slow pinned run among the repeats, so no row is a claim)
    assert "real improvement" not in history.stdout and "regression" not in history.stdout, history.stdout
    # ... and each mark that claims nothing says why
    assert f"no clear improvement: same code on both sides (wheel sha256 {SHA_A[:12]})" in history.stdout


# --- pure parts ----------------------------------------------------------------------------------


def test_between_run_delta() -> None:
    assert crossrun.between_run_delta([1.0, 1.0]) == stats.MIN_DELTA
    two = crossrun.between_run_delta([1.0, 1.1])
    assert two == pytest.approx(math.expm1(1.96 * math.log(1.1)))
    many = crossrun.between_run_delta([1.0, 1.1, 1.0, 1.1, 1.0, 1.1, 1.0, 1.1])
    assert stats.MIN_DELTA < many < two  # more runs: a tighter estimate of the same spread
    with pytest.raises(ValueError):
        crossrun.between_run_delta([1.0])


def test_code_identity_needs_a_pin() -> None:
    assert crossrun.code_identity({"settings": {"build": "pypi"}}) is None
    assert crossrun.code_identity({"settings": {"build": "none"}}) is None
    assert crossrun.code_identity({"settings": {"build": "source"}, "commits": {}}) is None
    dirty = crossrun.code_identity(
        {"settings": {"build": "source"}, "commits": {"commit": "c" * 40, "deployed": {"dirty_hash": "d" * 64}}}
    )
    clean = crossrun.code_identity({"settings": {"build": "source"}, "commits": {"commit": "c" * 40}})
    assert dirty is not None and clean is not None and dirty != clean
    assert crossrun.same_code(dirty, clean) is None and crossrun.same_code(None, None) is None


def test_every_setting_that_changes_what_is_measured_is_named_when_it_differs() -> None:
    a = crossrun.Measurement("pyperf", "1", 64, "3", 1, "cpython 3.14.10", "arm1", "time", "wall", "second", True)
    b = crossrun.Measurement(
        "pyperformance", "10", 128, "5", 2, "cpython 3.14.9", "arm2", "instructions", "cpu", "instruction", True
    )
    assert [r.text for r in crossrun.comparability(a, b)] == [
        "not comparable: runner pyperf vs pyperformance",
        "not comparable: warmups 1 vs 10",
        "not comparable: loops 64 vs 128",
        "not comparable: inner loops 1 vs 2",
        "not comparable: python cpython 3.14.10 vs cpython 3.14.9",
        "not comparable: host arm1 vs arm2",
        "not comparable: metric time vs instructions",
        "not comparable: clock wall vs cpu",
        "not comparable: unit second vs instruction",
    ]  # values (how many, not what) never blocks
    assert crossrun.comparability(a, crossrun.Measurement()) == ()  # unknown is not a mismatch
    # loops block only when a side fixed them: pyperf's calibration gives a faster benchmark other loops
    calibrated = crossrun.Measurement(loops=2, loops_fixed=False)
    assert crossrun.comparability(calibrated, crossrun.Measurement(loops=4, loops_fixed=False)) == ()
    (fixed,) = crossrun.comparability(calibrated, crossrun.Measurement(loops=4, loops_fixed=True))
    assert fixed.text == "not comparable: loops 2 (calibrated) vs 4 (fixed)"


def test_loops_a_side_fixed_block_a_claim_on_real_files(tmp_path: Path) -> None:
    """The same benchmark measured with --loops 64 (no calibration run in the file) against a file
    whose loops pyperf calibrated; the calibrated file's own loops changed to 64 is the control."""
    fixtures = ROOT.parent / "shared" / "fixtures" / "cinderx-2026.11" / "pyperf"
    if not fixtures.is_dir():
        pytest.skip("shared CinderX fixtures not present")
    calibrated = fixtures / "richards_jitlist_w10.json"
    store = RunStore(tmp_path / "runs")
    assert pyperf_data.load(calibrated).benchmarks[0].calibrated
    assert not pyperf_data.load(LOAD1).benchmarks[0].calibrated
    (cmp,) = compare.compare_inputs(
        compare.load_input(LOAD1, store), compare.load_input(calibrated, store), delta=0.02
    ).comparisons
    assert "not comparable: loops 64 (fixed) vs 8 (calibrated)" in cmp.reason
    # a run record that says --loops N is fixed whatever its file holds
    baseline_run(store, "fixed", SLOW, commit="a" * 40, extra={"settings": {"build": "source", "loops": 8}})
    (run_input,) = [compare.load_input("fixed", store)]
    assert run_input.loops_fixed is True


def test_metric_and_clock_of_the_run_records_block_a_claim(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    for run_id, source, settings in (
        ("wall", SLOW, {"clock": "wall", "metric": "time"}),
        ("cpu", FAST_A, {"clock": "cpu", "metric": "time"}),
        ("instr", FAST_A, {"clock": "wall", "metric": "instructions"}),
        ("wall2", FAST_A, {"clock": "wall", "metric": "time"}),
    ):
        path = baseline_run(store, run_id, source, commit=run_id.ljust(40, "0"))
        manifest = json.loads((path / "run.json").read_text(encoding="utf-8"))
        manifest["settings"].update(settings)
        (path / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert runs(store, "wall", "cpu", delta=0.02).reason == (
        "inconclusive: not comparable: clock clock_gettime(CLOCK_MONOTONIC) vs cpu"
    )
    assert (
        runs(store, "wall", "instr", delta=0.02).reason == "inconclusive: not comparable: metric time vs instructions"
    )
    assert runs(store, "wall", "wall2", delta=0.02).verdict == "real improvement"


def test_values_per_process_do_not_block_a_claim(tmp_path: Path) -> None:
    data = json.loads(FAST_A.read_text(encoding="utf-8"))
    for run in data["benchmarks"][0]["runs"]:
        if run.get("values"):
            run["values"] = run["values"][:-1]  # one value fewer per process: the same measurement
    fewer = tmp_path / "fewer.json"
    fewer.write_text(json.dumps(data), encoding="utf-8")
    store = RunStore(tmp_path / "runs")
    (cmp,) = compare.compare_inputs(
        compare.load_input(SLOW, store), compare.load_input(fewer, store), delta=0.02
    ).comparisons
    assert cmp.verdict == "real improvement" and cmp.comparable


def test_different_units_are_refused_in_one_line(tmp_path: Path) -> None:
    data = json.loads(FAST_A.read_text(encoding="utf-8"))
    data["metadata"]["unit"] = "byte"
    in_bytes = tmp_path / "bytes.json"
    in_bytes.write_text(json.dumps(data), encoding="utf-8")
    out = invoke("compare", "--from", str(SLOW), "--to", str(in_bytes), "--delta", "2%", reports=tmp_path)
    assert out.returncode == 2 and out.stdout == "", out.stdout
    (line,) = out.stderr.strip().splitlines()
    assert "units differ (second in sleep_6.5ms.json, byte in bytes.json)" in line


# --- CLI ---------------------------------------------------------------------------------------------


def invoke(*args: str, reports: Path) -> subprocess.CompletedProcess[str]:
    return run_invoke(*args, timeout=120, env={"ARMJIT_REPORTS": str(reports)})


def test_cli_record_noise_then_compare(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    baseline_run(store, "base1", FAST_A, commit="a" * 40)
    baseline_run(store, "base2", FAST_B, commit="a" * 40)
    baseline_run(store, "slower", SLOW, commit="b" * 40)
    before = invoke("compare", "--from", "base1", "--to", "slower", "--json", reports=tmp_path)
    assert before.returncode == 0, before.stderr
    row = json.loads(before.stdout)["comparisons"][0]
    assert row["verdict"] == "inconclusive" and row["delta_source"] == "unknown"
    recorded = invoke("compare", "--from", "base1", "--to", "base2", "--record-noise", reports=tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    assert "Verdict: no clear improvement (same code on both sides)." in recorded.stdout
    assert "stored between-run δ" in recorded.stdout
    after = invoke("compare", "--from", "base1", "--to", "slower", "--json", reports=tmp_path)
    data = json.loads(after.stdout)
    row = data["comparisons"][0]
    assert row["verdict"] == "regression" and row["delta_source"] == "between_runs"
    assert row["reasons"] == [] and row["comparable"] is True and data["overall"] == "regression"
    refused = invoke("compare", "--from", "base1", "--to", "slower", "--record-noise", reports=tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "needs two runs of the same code" in refused.stderr and "Traceback" not in refused.stderr


def test_two_default_baselines_of_one_wheel_are_comparable_without_flags(tmp_path: Path) -> None:
    """pyperf calibrated 4 loops in one run and 8 in the other (real CinderX files): with the
    default ``--loops 0`` that is no reason to refuse --record-noise or a verdict."""
    fixtures = ROOT.parent / "shared" / "fixtures" / "cinderx-2026.11" / "pyperf"
    if not fixtures.is_dir():
        pytest.skip("shared CinderX fixtures not present")
    store = RunStore(tmp_path / "runs")
    for run_id, name in (("base1", "richards_nocinderx_w10.json"), ("base2", "richards_jitlist_w10.json")):
        path = baseline_run(store, run_id, fixtures / name, build="pypi", host="vm")
        manifest = json.loads((path / "run.json").read_text(encoding="utf-8"))
        manifest["settings"]["loops"] = 0  # the default: pyperf calibrates
        manifest["pins"] = _pins_pypi(SHA_A, "2026.11.2.0", "pypi")
        (path / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    a, b = compare.load_input("base1", store), compare.load_input("base2", store)
    assert {a.modes["nojit"].data.get("richards").loops, b.modes["nojit"].data.get("richards").loops} == {4, 8}
    (record,) = between_runs.measure_between_run_noise(a, b, store)
    assert record.runs == ("base1", "base2")
    (cmp,) = compare.compare_inputs(a, b).comparisons
    assert "not_comparable" not in kinds(cmp) and cmp.comparable
