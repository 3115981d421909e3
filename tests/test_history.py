"""``invoke history`` over run records made by real baselines (the embedded default host, a real
pyperf benchmark), and its statistics on the real pyperf files of tests/data."""

from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path

import pytest
from invoke_cli import run_invoke

from armjit.analysis import crossrun, history, stats
from armjit.analysis.noise_store import noise_path, record_between_run_noise
from armjit.analysis.pyperf_data import load as load_pyperf

DATA = Path(__file__).parent / "data" / "sleep-bound"

SLEEP_SCRIPT = """
import time
import pyperf

runner = pyperf.Runner()
runner.bench_func("sleep", time.sleep, {ms} / 1000)
"""


def _baseline(reports: Path, script: Path) -> subprocess.CompletedProcess[str]:
    return run_invoke(
        "baseline", "--reports", str(reports), "--bench-script", str(script),
        "--processes", "4", "--values", "2", "--warmups", "1", "--loops", "2", "--json",
    )  # fmt: skip


def _run_ids(reports: Path) -> list[str]:
    return sorted(p.name for p in (reports / "runs").iterdir())


@pytest.mark.slow
def test_history_over_real_runs_marks_the_regression_and_draws_the_trend(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    fast, slow = tmp_path / "fast.py", tmp_path / "slow.py"
    fast.write_text(SLEEP_SCRIPT.format(ms=20))
    slow.write_text(SLEEP_SCRIPT.format(ms=60))
    for script in (fast, fast, slow):
        done = _baseline(reports, script)
        assert done.returncode == 0, done.stderr[-2000:]
    first, second, third = _run_ids(reports)
    # The host's between-run noise, measured from the two runs of the same script as
    # `invoke compare --record-noise` measures it (that command needs pinned code, a plain
    # interpreter has none).
    medians = []
    for run_id in (first, second):
        m = json.loads((reports / "runs" / run_id / "run.json").read_text())
        medians.append(m["modes"]["nojit"]["value"])
    delta = crossrun.between_run_delta(medians)
    record_between_run_noise(
        noise_path(reports), host="local", benchmark="sleep", mode="nojit", delta=delta, runs=(first, second)
    )

    shown = run_invoke("history", "--reports", str(reports))
    assert shown.returncode == 0, shown.stderr
    rows = [line for line in shown.stdout.splitlines() if " sleep " in line]
    assert len(rows) == 3 and "first run" in rows[0]
    ratio = float(rows[2].split("nojit")[1].split("]")[1].split()[0])
    # 60 ms against 20 ms: a load on the machine adds to both and brings the ratio towards 1
    assert 1.5 < ratio < 3.3
    assert "REGRESSION" in rows[2] and "REGRESSION" not in rows[1]
    chart = reports / "history" / "trend-local-nojit.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    findings = (reports / "findings.md").read_text()
    assert "<!-- armjit:begin history -->" in findings and "(history/trend-local-nojit.png)" in findings
    assert "| REGRESSION" in findings

    listed = run_invoke("history", "--reports", str(reports), "--regressions")
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.strip().splitlines()
    assert line.startswith(f"local sleep/nojit: {second} -> {third}") and "entirely slower" in line
    # A second call takes the bootstrap from the reports' memo and says the same.
    assert (reports / "history-rechecks.json").is_file()
    again = run_invoke("history", "--reports", str(reports), "--regressions")
    assert again.returncode == 0 and again.stdout == listed.stdout
    # So does the chart: unchanged data, the PNG stays as it was.
    unchanged = run_invoke("history", "--reports", str(reports), "--no-notes")
    assert unchanged.returncode == 0 and f"chart: {chart} (unchanged)" in unchanged.stderr

    # Filters narrow the table; a filter that keeps nothing is one line and exit 2.
    since = run_invoke("history", "--reports", str(reports), "--since", "2999-01-01", "--no-notes")
    assert since.returncode == 2 and since.stderr.strip().startswith("armjit: no run matches the filter")
    bad = run_invoke("history", "--reports", str(reports), "--since", "last week")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1

    # A damaged record is named and left out; the others still make the history.
    (reports / "runs" / second / "run.json").write_text("{not json")
    damaged = run_invoke("history", "--reports", str(reports), "--no-notes", "--no-plots")
    assert damaged.returncode == 0, damaged.stderr
    assert f"left out: {second}" in damaged.stderr
    assert len([line for line in damaged.stdout.splitlines() if " sleep " in line]) == 2


def _point(path: Path, run_id: str, started: str) -> history.HistoryPoint:
    bench = load_pyperf(path).benchmarks[0]
    return history.HistoryPoint(
        run_id, started, "vm", bench.name, "nojit", "", bench.processes, crossrun.measurement(bench, host="vm")
    )


def test_the_screen_agrees_with_the_bootstrap_on_real_files() -> None:
    a = _point(DATA / "sleep_5ms_a.json", "r1", "2026-11-20T10:00:00")
    b = _point(DATA / "sleep_5ms_b.json", "r2", "2026-11-21T10:00:00")
    c = _point(DATA / "sleep_6.5ms.json", "r3", "2026-11-22T10:00:00")
    (series,) = history.build_rows([c, a, b], delta=lambda *_: 0.05)
    first, same, slower = series.rows
    assert [r.point.run_id for r in series.rows] == ["r1", "r2", "r3"]
    assert first.verdict == "" and same.verdict == "no clear improvement"
    assert slower.verdict == "regression" and slower.ratio is not None and 1.2 < slower.ratio < 1.4
    checked = history.confirm(slower, 0.05, resamples=2000)
    assert checked.confirmed is True and checked.estimate is not None and checked.estimate.resamples == 2000
    boot = stats.unpaired_estimate(b.processes, c.processes, resamples=2000)
    assert slower.estimate is not None
    # Both intervals lie wholly above 1 + δ and overlap.
    assert min(slower.estimate.ci_lo, boot.ci_lo) > 1.05
    assert slower.estimate.ci_lo < boot.ci_hi and boot.ci_lo < slower.estimate.ci_hi
    # Without a stored δ nothing is claimed.
    (unknown,) = history.build_rows([a, b, c], delta=lambda *_: None)
    assert unknown.rows[2].verdict == "inconclusive" and "δ unknown" in unknown.rows[2].reason


def test_select_and_interval() -> None:
    a = _point(DATA / "sleep_5ms_a.json", "r1", "2026-11-20T10:00:00")
    c = _point(DATA / "sleep_6.5ms.json", "r3", "2026-11-22T10:00:00")
    assert history.select([a, c], since="2026-11-21") == [c]
    assert history.select([a, c], mode=("jitlist",)) == []
    interval = history.median_interval(a.process_medians)
    assert interval is not None and interval[0] < statistics.median(a.process_medians) < interval[1]
    assert history.median_interval([1.0]) is None


def test_a_chart_is_drawn_again_only_when_what_it_shows_changes(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from armjit.render.trend_plot import chart_digest, save_trend

    a = _point(DATA / "sleep_5ms_a.json", "r1", "2026-11-20T10:00:00")
    b = _point(DATA / "sleep_5ms_b.json", "r2", "2026-11-21T10:00:00")
    c = _point(DATA / "sleep_6.5ms.json", "r3", "2026-11-22T10:00:00")
    two = history.build_rows([a, b], delta=lambda *_: 0.05)
    three = history.build_rows([a, b, c], delta=lambda *_: 0.05)
    path = tmp_path / "history" / "trend-vm-nojit.png"

    first = save_trend(two, path, title="vm / nojit")
    assert first is not None and first.drawn
    png, stamp = path.read_bytes(), path.with_name(path.name + ".sha256").read_text().strip()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and stamp == chart_digest(two, title="vm / nojit")
    # The same data: the PNG on disk is the answer, byte for byte.
    again = save_trend(history.build_rows([b, a], delta=lambda *_: 0.05), path, title="vm / nojit")
    assert again is not None and not again.drawn and path.read_bytes() == png
    # A new run, another title or a lost PNG each draw it anew.
    assert chart_digest(three, title="vm / nojit") != stamp != chart_digest(two, title="vm / jitlist")
    grown = save_trend(three, path, title="vm / nojit")
    assert grown is not None and grown.drawn and path.read_bytes() != png
    path.unlink()
    redrawn = save_trend(three, path, title="vm / nojit")
    assert redrawn is not None and redrawn.drawn and path.is_file()


def test_a_remembered_recheck_is_the_recheck(tmp_path: Path) -> None:
    from armjit.seams.memo import JsonMemo

    a = _point(DATA / "sleep_5ms_b.json", "r2", "2026-11-21T10:00:00")
    b = _point(DATA / "sleep_6.5ms.json", "r3", "2026-11-22T10:00:00")
    ((_, slower),) = [s.rows for s in history.build_rows([a, b], delta=lambda *_: 0.05)]
    computed = history.confirm(slower, 0.05, resamples=500)
    assert computed.estimate is not None
    memo = JsonMemo(tmp_path / "rechecks.json")
    key = history.recheck_key(slower, resamples=500)
    memo.put(key, history.estimate_to_json(computed.estimate))
    memo.save()
    stored = JsonMemo(tmp_path / "rechecks.json").get(key)
    known = history.estimate_from_json(stored)
    assert known == computed.estimate
    assert history.confirm(slower, 0.05, resamples=500, estimate=known) == computed
    # Other values, or other resamples, are another key; a damaged entry is no estimate.
    assert history.recheck_key(slower) != key
    assert history.estimate_from_json({"ratio": 1.0}) is None
    (tmp_path / "rechecks.json").write_text("{not json")
    assert JsonMemo(tmp_path / "rechecks.json").get(key) is None
