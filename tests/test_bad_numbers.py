"""Bad numbers are refused in one line, exit 2: in noise.json, in pyperf files and in flags; and a
flag combination one task refuses is refused by every task that takes the flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from invoke_cli import run_invoke
from test_crossrun import FAST_A, SLOW, baseline_run

from armjit.analysis import compare, noise_store, pyperf_data
from armjit.errors import UsageError
from armjit.seams.store import RunStore

BAD = ["NaN", "Infinity", "-Infinity", "true", "false", '"2%"', "null", "0", "-0.02", "[0.02]"]


def write_noise(reports: Path, *, delta: str = "0.02", between: str = "0.05") -> Path:
    """noise.json as armjit writes it, with the raw JSON text of each δ given."""
    path = compare.noise_path(reports)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = f'{{"delta": {delta}, "blocks": 30, "between_runs": {{"delta": {between}, "runs": ["x", "y"]}}}}'
    path.write_text(f'{{"schema_version": 1, "hosts": {{"arm1": {{"sleep": {{"nojit": {entry}}}}}}}}}', "utf-8")
    return path


def one_line_exit_2(result: object, message: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in lines[0], lines


@pytest.mark.parametrize("bad", BAD)
def test_a_stored_delta_that_is_not_a_positive_number_is_refused(tmp_path: Path, bad: str) -> None:
    for where in ({"delta": bad}, {"between": bad}):
        path = write_noise(tmp_path, **where)
        key = "delta" if "delta" in where else "between_runs.delta"
        with pytest.raises(UsageError) as info:
            noise_store.lookup_noise_floor(path, host="arm1", benchmark="sleep", mode="nojit")
        assert f"arm1/sleep/nojit {key} is {bad}" in str(info.value) and "\n" not in str(info.value)
        with pytest.raises(UsageError):
            noise_store.lookup_between_run_noise(path, host="arm1", benchmark="sleep", mode="nojit")
    good = write_noise(tmp_path)
    assert noise_store.lookup_noise_floor(good, host="arm1", benchmark="sleep", mode="nojit") == 0.02
    assert noise_store.lookup_between_run_noise(good, host="arm1", benchmark="sleep", mode="nojit") == (0.05, 2)


def test_compare_and_history_refuse_a_nan_delta(tmp_path: Path) -> None:
    """``"delta": NaN`` was read as the 1% floor and gave "real improvement"; now it is named."""
    store = RunStore(tmp_path / "runs")
    baseline_run(store, "slow", SLOW, commit="a" * 40)
    baseline_run(store, "fast", FAST_A, commit="b" * 40)
    write_noise(tmp_path, between="NaN")
    env = {"ARMJIT_REPORTS": str(tmp_path)}
    shown = run_invoke("compare", "--from", "slow", "--to", "fast", timeout=120, env=env)
    one_line_exit_2(shown, "arm1/sleep/nojit between_runs.delta is NaN, not a positive number")
    assert shown.stdout == ""
    history = run_invoke("history", "--reports", str(tmp_path), "--no-notes", "--no-plots", timeout=120, env=env)
    one_line_exit_2(history, "between_runs.delta is NaN")
    write_noise(tmp_path, delta="true")
    aa = run_invoke("ab", "--aa", "--reports", str(tmp_path), timeout=120, env=env)
    one_line_exit_2(aa, "arm1/sleep/nojit delta is true, not a positive number")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["fast", "slow"]  # no run was started


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"loops": True}, "loops true in its metadata, not a positive integer"),
        ({"loops": 0}, "loops 0 in its metadata"),
        ({"inner_loops": "8"}, 'inner_loops "8" in its metadata'),
        ({"value": "NaN"}, "values are not positive numbers"),
        ({"value": "Infinity"}, "not a measurement"),
        ({"value": "true"}, "values are not positive numbers"),
        ({"value": '"0.005"'}, "values are not positive numbers"),
    ],
)
def test_bad_numbers_in_a_pyperf_file_are_refused(tmp_path: Path, change: dict[str, object], message: str) -> None:
    data = json.loads(FAST_A.read_text(encoding="utf-8"))
    text = json.dumps(data)
    if "value" in change:
        first = data["benchmarks"][0]["runs"][-1]["values"][0]
        text = text.replace(json.dumps(first), str(change["value"]), 1)
    else:
        data["metadata"].update(change)
        text = json.dumps(data)
    bad = tmp_path / "bad.json"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=r"bad\.json"):
        pyperf_data.load(bad)
    shown = run_invoke(
        "compare", "--from", str(SLOW), "--to", str(bad), timeout=120, env={"ARMJIT_REPORTS": str(tmp_path)}
    )
    one_line_exit_2(shown, message)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "true", "2x", "1e400"])
def test_bad_numbers_in_flags_are_refused(tmp_path: Path, value: str) -> None:
    env = {"ARMJIT_REPORTS": str(tmp_path)}
    one_line_exit_2(
        run_invoke("compare", "--from", str(SLOW), "--to", str(FAST_A), "--delta", value, timeout=120, env=env),
        "--delta",
    )
    one_line_exit_2(run_invoke("ab", "--aa", "--until-decided", "--budget", value, timeout=120, env=env), "--budget")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--budget", "5m"), "--budget is the time limit of --until-decided"),
        (("--blocks", "2"), "--blocks 2: at least"),
        (("--fleet", "latest", "--until-decided"), "apply to one baseline, not to --fleet"),
    ],
)
def test_verify_refuses_what_ab_refuses(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    """`invoke verify --budget 5m` without --until-decided was silently ignored; ab refuses it."""
    for task in ("verify", "ab") if args[0] != "--fleet" else ("verify",):
        extra = ("--aa",) if task == "ab" else ()
        result = run_invoke(task, *extra, *args, "--reports", str(tmp_path / "reports"), timeout=120)
        one_line_exit_2(result, message)
    assert not (tmp_path / "reports" / "runs").exists()
