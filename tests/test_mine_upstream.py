"""``mine`` on real logs of CinderX upstream main (tests/data/jitlogs-main, see its README.md).

Every expectation is counted from the log files themselves (grep-like), never typed in: the
refusals (``LIR function '...' has too many instructions``), the inlinings, the split between the
two benchmarks that shared a mode's log directory, and the process that died while compiling.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from armjit.analysis.mine import collect, mine, report_json
from armjit.jitlog import shipped_table
from armjit.render.mine_tables import render_report
from armjit.seams.store import RunStore

DATA = Path(__file__).resolve().parent / "data" / "jitlogs-main"
BENCHES = ["nbody", "richards"]
LIR = "LIR function '{}' has too many instructions ({}, max={})"
LINE = re.compile(r"^JIT: \S+:\d+ -- (.*)$")


def _messages(paths: list[Path]) -> list[str]:
    out = []
    for p in paths:
        for line in p.read_text(encoding="utf-8").splitlines():
            m = LINE.match(line)
            if m:
                out.append(m[1])
    return out


def _membership() -> dict[str, tuple[str, str]]:
    """file name -> (mode, benchmark), as the run that made the logs recorded it."""
    rows = (line.split() for line in (DATA / "membership.txt").read_text(encoding="utf-8").splitlines())
    return {name: (mode, bench) for mode, bench, name in rows}


def _make_run(reports: Path, *, with_steps: bool = True) -> Path:
    """A run directory as the baseline task writes it: jitlogs/<mode>/jit_<pid>.log, step logs, run.json."""
    run = reports / "runs" / "20261208T000000Z_main"
    modes: dict[str, dict[str, object]] = {}
    for mode_dir in sorted(p for p in DATA.iterdir() if p.is_dir() and p.name != "steps"):
        dest = run / "jitlogs" / mode_dir.name
        shutil.copytree(mode_dir, dest)
        logs = sorted(p.relative_to(run).as_posix() for p in dest.glob("*.log"))
        benches = BENCHES if mode_dir.name != "crash" else []
        modes[mode_dir.name] = {"pyperf_json": None, "jit_logs": logs, "benchmarks": benches}
    steps = []
    if with_steps:
        for console in sorted((DATA / "steps").glob("*.log")):
            dest = run / "steps" / console.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(console, dest)
            steps.append({"name": f"bench {console.stem}", "log": dest.relative_to(run).as_posix()})
    record = {"schema_version": 1, "run_id": run.name, "modes": modes, "steps": steps}
    (run / "run.json").write_text(json.dumps(record), encoding="utf-8")
    return run


def test_a_refusal_is_the_functions_reason_verbatim_grouped_by_its_format(tmp_path: Path) -> None:
    _make_run(tmp_path)
    report = mine(*collect([], RunStore(tmp_path / "runs")))
    jitlist = next(g for g in report.groups if g.label == "jitlist")
    lines = _messages(sorted((DATA / "jitlist").glob("*.log")))
    refused = {re.match(r"LIR function '([^']+)'", m)[1]: m for m in lines if "has too many instructions" in m}  # type: ignore[index]
    assert refused, "the fixture must hold refusals"
    by_function = {f.function: f for f in jitlist.failures}
    for function in refused:
        failure = by_function[function]
        assert failure.format == LIR
        assert failure.kind == "logged"
        assert failure.message in lines  # verbatim, a line of the log
    assert not [f for f in jitlist.failures if f.kind in ("unmatched", "crash")]
    text = render_report(report)
    assert LIR in text
    assert "crash or silent failure" not in text


def test_every_line_of_upstream_main_is_a_known_format() -> None:
    label, inputs = collect([str(DATA / "jitlist"), str(DATA / "autojit")], RunStore(Path("nowhere")))
    report = mine(label, inputs)
    assert report.overall.unrecognised == 0
    assert "47f254f1" in shipped_table().origin


def test_each_benchmark_is_counted_from_its_own_logs(tmp_path: Path) -> None:
    """Two benchmarks shared each mode's log directory; each log goes to the benchmark that ran it.

    A log that names a ``__main__`` function is always placed; one that names none (pyperf's parent,
    or a mode that compiled nothing of the benchmark) is placed by pid range, or left under "?".
    """
    _make_run(tmp_path)
    report = mine(*collect([], RunStore(tmp_path / "runs")))
    members = _membership()
    placed: dict[str, str] = {}
    for agg in report.benches:
        mode, bench = agg.label.split("/")
        for log in agg.processes:
            placed[Path(log.source).name] = bench
        if bench != "?":
            names = [DATA / mode / Path(log.source).name for log in agg.processes]
            finished = [m for m in _messages(names) if m.startswith("Finished compiling ")]
            assert agg.compiled == len(finished), agg.label
    assert set(placed) == set(members)
    for name, (mode, bench) in members.items():
        names_main = any("__main__:" in m for m in _messages([DATA / mode / name]))
        if names_main:
            assert placed[name] == bench, name
        else:
            assert placed[name] in (bench, "?"), name
    assert {f"{mode}/{bench}" for mode, bench in members.values() if mode == "jitlist"} <= {
        g.label for g in report.benches
    }
    data = report_json(report)
    assert set(data["benchmarks"]) >= {"jitlist/nbody", "jitlist/richards"}


def test_inlined_callees_are_the_inliners_own_lines() -> None:
    label, inputs = collect([str(DATA / "jitlist")], RunStore(Path("nowhere")))
    agg = mine(label, inputs).overall
    pairs = set()
    for m in _messages(sorted((DATA / "jitlist").glob("*.log"))):
        hit = re.match(r"^Inlining function (\S+) into (\S+)$", m)
        if hit:
            pairs.add((hit[1], hit[2]))
    assert pairs, "the fixture must hold inlinings"
    assert {(c, i.caller) for i in agg.inlined for c, _n in i.callees} == pairs
    assert agg.inlines == sum(
        1 for m in _messages(sorted((DATA / "jitlist").glob("*.log"))) if m.startswith("Inlining ")
    )


def test_code_size_columns_say_what_they_are() -> None:
    label, inputs = collect([str(DATA / "autojit")], RunStore(Path("nowhere")))
    report = mine(label, inputs)
    sizes: dict[str, list[int]] = {}
    for m in _messages(sorted((DATA / "autojit").glob("*.log"))):
        hit = re.match(r"^Finished compiling (\S+) in \d+µs, code size: (\d+) bytes", m)
        if hit:
            sizes.setdefault(hit[1], []).append(int(hit[2]))
    for f in report.overall.functions:
        assert (f.code_size, f.total_size, f.compiles) == (max(sizes[f.name]), sum(sizes[f.name]), len(sizes[f.name]))
    text = render_report(report)
    assert "max bytes: its largest single compile" in text and "all bytes" in text


def test_a_crash_is_said_only_when_the_process_died(tmp_path: Path) -> None:
    died = mine(*collect([], RunStore(_make_run(tmp_path / "a").parent))).overall
    crash_logs = sorted((DATA / "crash").glob("*.log"))
    messages = _messages(crash_logs)
    assert not any(m.startswith("CinderX JIT Total Compilation Time") for m in messages)  # no shutdown line
    started = {m[len("Compiling ") :] for m in messages if m.startswith("Compiling ") and " along with " not in m}
    finished = {
        m.split(" in ")[0][len("Finished compiling ") :] for m in messages if m.startswith("Finished compiling ")
    }
    unfinished = started - finished
    assert unfinished, "the fixture must hold a compile cut short"
    crashes = {f.function: f for f in died.failures if f.kind == "crash"}
    assert set(crashes) == unfinished
    assert all("SIGSEGV" in f.detail or "Segmentation fault" in f.detail for f in crashes.values())
    # The same logs without the step transcript that saw the signal: no evidence, no crash.
    quiet = mine(*collect([], RunStore(_make_run(tmp_path / "b", with_steps=False).parent))).overall
    assert {f.function for f in quiet.failures if f.kind == "unmatched"} == unfinished
    assert not [f for f in quiet.failures if f.kind == "crash"]
    assert "no reason logged" in render_report(mine(*collect([str(DATA / "crash")], RunStore(Path("nowhere")))))


def test_step_logs_are_one_line_not_noise(tmp_path: Path) -> None:
    _make_run(tmp_path)
    text = render_report(mine(*collect([], RunStore(tmp_path / "runs"))))
    assert "not a CinderX JIT log" not in text
    assert "unrecognised lines: 0" not in text
    assert re.search(r"step logs read for crash signs: \d+ \(\d+ crash signatures\)", text)


@pytest.mark.parametrize("mode", ["jitlist", "autojit"])
def test_no_function_is_left_without_its_logged_reason(mode: str) -> None:
    """A start with no finish and a line naming it never reads "no reason logged"."""
    label, inputs = collect([str(DATA / mode)], RunStore(Path("nowhere")))
    agg = mine(label, inputs).overall
    lines = _messages(sorted((DATA / mode).glob("*.log")))
    for f in agg.failures:
        if f.kind == "unmatched":
            named = [
                m for m in lines if f.function in m and not m.startswith(("Compiling ", "Inlining ", "Can't inline"))
            ]
            assert not named, (f.function, named)
