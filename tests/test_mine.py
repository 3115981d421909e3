"""armjit.analysis.mine and ``invoke mine`` on real CinderX logs laid out as armjit runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from armjit.analysis.mine import candidates, collect, diff, mine, report_json
from armjit.errors import UsageError
from armjit.render.mine_tables import mining_notes_block, render_report
from armjit.seams import notes
from armjit.seams.store import RunStore

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures" / "cinderx-2026.11"
LOGS = FIXTURES / "jitlogs"
pytestmark = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"real CinderX fixtures not found at {FIXTURES} (../shared beside the clone)"
)


def _grep(paths: list[Path], needle: bytes) -> int:
    return sum(p.read_bytes().count(needle) for p in paths)


def _make_run(reports: Path, run_id: str, modes: dict[str, str]) -> Path:
    """A run directory as the baseline task writes it: jitlogs/<mode>/jit_<pid>.log + run.json."""
    run = reports / "runs" / run_id
    record = {}
    for mode, fixture in modes.items():
        rels = []
        for src in sorted((LOGS / fixture).glob("*.log")):
            pid = src.name.rsplit(".", 2)[1]
            dest = run / "jitlogs" / mode / f"jit_{pid}.log"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            rels.append(dest.relative_to(run).as_posix())
        record[mode] = {"pyperf_json": None, "jit_logs": rels}
    (run / "run.json").write_text(json.dumps({"schema_version": 1, "run_id": run_id, "modes": record, "steps": []}))
    return run


def test_a_run_is_mined_per_mode(tmp_path: Path) -> None:
    run = _make_run(
        tmp_path, "20260101T000000Z_a", {"jitlist": "richards_jitlist_w10", "compile50": "richards_compile50_w10"}
    )
    label, inputs = collect([], RunStore(tmp_path / "runs"))  # no ref: the latest run
    assert label == "20260101T000000Z_a"
    report = mine(label, inputs)
    modes = {g.label: g for g in report.groups}
    assert set(modes) == {"jitlist", "compile50"}
    jitlist_logs = sorted((run / "jitlogs" / "jitlist").glob("*.log"))
    assert modes["jitlist"].compiled_main == _grep(jitlist_logs, b"Finished compiling __main__:")
    assert modes["jitlist"].failed == 0
    assert modes["compile50"].thresholds.calls == 50
    data = report_json(report)
    all_logs = sorted(run.rglob("*.log"))
    assert data["processes"] == 24
    assert data["compiled"]["total"] == _grep(all_logs, b"Finished compiling ")
    assert data["compiled"]["main"] == _grep(all_logs, b"Finished compiling __main__:")
    assert data["compiled"]["other"] == data["compiled"]["total"] - data["compiled"]["main"]
    assert data["failed"] == _grep(all_logs, b"Cannot compile ")
    assert data["modes"]["jitlist"]["compiled"]["main"] == 1 + 37 * 11
    assert data["unrecognised_lines"] == 0


def test_json_shape_is_the_documented_interface() -> None:
    label, inputs = collect(
        [str(LOGS / "features" / "features_jitlist.log"), str(LOGS / "richards_autojit_w10")], RunStore(Path("nowhere"))
    )
    data = report_json(mine(label, inputs))
    assert isinstance(data["processes"], int) and data["processes"] == 13
    assert set(data["compiled"]) >= {"total", "main", "other"}
    assert data["thresholds"] == {"calls": 1000, "bytecodes": 100000}
    for row in data["failures"]:
        assert set(row) >= {"function", "reason", "opcode", "opcode_name", "count"}
        assert row["opcode"] is None or isinstance(row["opcode"], int)
    opcodes = {(r["opcode"], r["opcode_name"]) for r in data["failures"] if r["opcode"] is not None}
    assert opcodes == {(64, "DELETE_GLOBAL"), (62, "DELETE_DEREF")}
    for row in data["functions"]:
        assert set(row) >= {"name", "code_size", "compile_us", "count"}
    assert all(set(c) >= {"signature", "count"} for c in data["crashes"])
    assert isinstance(data["unrecognised_lines"], int)
    json.dumps(data)  # serialisable as is


def test_candidates_point_at_source_areas() -> None:
    label, inputs = collect([str(LOGS / "features")], RunStore(Path("nowhere")))
    report = mine(label, inputs)
    areas = {c.target: c.area for c in candidates(report)}
    assert areas["__main__:del_and_global"].startswith("Jit/hir/builder.cpp")
    # the banned-global refusal is thrown in builder.cpp (its format string's file), logged by pyjit.cpp
    assert areas["__main__:use_locals"].startswith("Jit/hir/builder.cpp")
    assert areas["agen"].startswith("Jit/pyjit.cpp")
    text = render_report(report, top=3)
    assert "Unsupported opcodes" in text and "DELETE_GLOBAL" in text
    assert "| __main__:del_and_global" not in text  # console tables are not markdown
    assert "### Failures by format" in mining_notes_block(report)


def test_diff_function_by_function(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    a = mine(*collect([str(LOGS / "richards_jitlist_w10")], store)).overall
    b = mine(*collect([str(LOGS / "richards_compile50_w10")], store)).overall
    d = diff(a, b)
    newly = {r.name for r in d.changed("newly compiled")}
    assert "re._parser:_parse" in newly and "__main__:Richards.run" not in newly
    assert {r.name for r in d.changed("newly failing")} >= {"collections:namedtuple"}
    assert d.total_from == sum(f.code_size for f in a.functions)
    assert d.compiled_from == a.compiled and d.failed_to == b.failed
    # A grown function is seen and breaks a per-function guard.
    grown = tmp_path / "grown"
    grown.mkdir()
    for src in (LOGS / "richards_jitlist_w10").glob("*.log"):
        text = (
            src.read_bytes()
            .replace(b"code size: 11648 bytes", b"code size: 13000 bytes")
            .replace(b"code size: 11664 bytes", b"code size: 13000 bytes")
        )
        (grown / src.name).write_bytes(text)
    g = mine(*collect([str(grown)], store)).overall
    d2 = diff(a, g)
    row = next(r for r in d2.rows if r.name == "__main__:Richards.run")
    assert (row.size_to, row.change) == (13000, "bigger")
    assert row.size_from is not None
    assert d2.common_to - d2.common_from == 13000 - row.size_from
    assert any("Richards.run grew" in v for v in d2.violations(5.0, per_function=True))
    assert diff(a, a).violations(0.0, per_function=True) == []


def test_bad_refs_are_usage_errors(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    with pytest.raises(UsageError, match="no such log file"):
        collect([str(tmp_path / "missing.log")], store)
    with pytest.raises(UsageError, match="no runs yet"):
        collect([], store)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"no \*\.log files"):
        collect([str(tmp_path / "empty")], store)
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    with pytest.raises(UsageError, match=r"nothing to mine.*empty file"):
        mine(*collect([str(empty)], store))
    broken = _make_run(tmp_path, "r1", {"jitlist": "richards_jitlist_w10"})
    next((broken / "jitlogs" / "jitlist").glob("*.log")).unlink()
    with pytest.raises(UsageError, match="is missing"):
        collect(["r1"], store)


# ----------------------------------------------------------------------------- CLI ------------
def _invoke(*args: str, reports: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARMJIT_REPORTS": str(reports)}
    return subprocess.run(
        [str(Path(sys.executable).with_name("invoke")), "mine", *args],
        cwd=cwd,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_several_paths_json(tmp_path: Path) -> None:
    a = LOGS / "richards_jitlist_w10" / "richards_jitlist_w10.2410.log"
    b = LOGS / "richards_jitlist_w10" / "richards_jitlist_w10.2406.log"
    done = _invoke("--source", str(a), "--source", str(b), "--json", reports=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["processes"] == 2 and data["compiled"]["main"] == 38
    assert not (tmp_path / "notes.md").exists()  # --json writes no notes
    flags_first = _invoke("--json", "--top", "3", "--source", str(a), "--source", str(b), reports=tmp_path)
    assert json.loads(flags_first.stdout)["functions"] == data["functions"][:3]


def test_cli_tables_write_notes_blocks(tmp_path: Path) -> None:
    notes_dir = tmp_path / "notes"
    done = _invoke("--source", str(LOGS / "features"), "--notes-dir", str(notes_dir), reports=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Compiles per mode" in done.stdout and "DELETE_DEREF" in done.stdout
    findings = notes.read_block(notes_dir / notes.NOTES, "mine-findings")
    plan = notes.read_block(notes_dir / notes.TASK_PLAN, "mine-candidates")
    assert findings is not None and "Unsupported opcode 64 (DELETE_GLOBAL)" in findings
    assert plan is not None and "Jit/hir/builder.cpp" in plan and "| __main__:delete_deref" in plan
    again = _invoke("--source", str(LOGS / "features"), "--notes-dir", str(notes_dir), reports=tmp_path)
    assert again.returncode == 0
    assert (notes_dir / notes.NOTES).read_text().count("armjit:begin mine-findings") == 1
    quiet = tmp_path / "quiet"
    assert (
        _invoke(
            "--source", str(LOGS / "features"), "--no-notes", "--notes-dir", str(quiet), reports=tmp_path
        ).returncode
        == 0
    )
    assert not quiet.exists()


def test_cli_diff_of_two_runs(tmp_path: Path) -> None:
    _make_run(tmp_path, "20260101_a", {"autojit": "richards_autojit_w10"})
    _make_run(tmp_path, "20260102_b", {"autojit": "richards_compile50_w10"})
    done = _invoke("--diff", "--source", "20260101_a", "--source", "20260102_b", "--no-notes", reports=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "20260101_a -> 20260102_b" in done.stdout and "newly failing" in done.stdout
    as_json = json.loads(
        _invoke("--diff", "--source", "20260101_a", "--source", "20260102_b", "--json", reports=tmp_path).stdout
    )
    assert as_json["compiled"]["from"] == _grep(
        sorted((LOGS / "richards_autojit_w10").glob("*.log")), b"Finished compiling "
    )
    assert any(r["change"] == "newly failing" for r in as_json["functions"])
    latest = _invoke("--json", reports=tmp_path)  # no argument: the latest run
    assert json.loads(latest.stdout)["label"] == "20260102_b"


@pytest.mark.parametrize(
    "args",
    [["--source", "/nonexistent/jit.log"], ["--diff", "--source", "only-one"], ["--top", "-1", "--source", "x"]],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str]) -> None:
    done = _invoke(*args, reports=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("armjit: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_cli_garbage_file_is_one_line_exit_2(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.log"
    garbage.write_bytes(bytes(range(256)) * 100)
    done = _invoke("--source", str(garbage), reports=tmp_path)
    assert done.returncode == 2 and "nothing to mine" in done.stderr and "binary data" in done.stderr


def test_mining_leaves_a_run_record_and_latest_stays_the_measured_run(tmp_path: Path) -> None:
    _make_run(tmp_path, "20261124T100000Z_abc_host", {"jitlist": "richards_jitlist_w10"})
    first = _invoke(reports=tmp_path)
    assert first.returncode == 0, first.stderr
    (record,) = (tmp_path / "runs").glob("*_mine")
    manifest = json.loads((record / "run.json").read_text())
    assert manifest["kind"] == "mine" and manifest["source"] == "20261124T100000Z_abc_host"
    assert manifest["summary"]["compiled"]["main"] == 37 * 11 + 1
    again = _invoke("--json", reports=tmp_path)  # "latest" is still the benchmark run, not the mine record
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["compiled"]["main"] == 37 * 11 + 1
