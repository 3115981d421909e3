"""Run records: typed, made by the store, and every run.json written before them still loads."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from armjit.seams.records import Failure, HostFacts, ModeRecord, RunRecord, StepRecord
from armjit.seams.store import SCHEMA_VERSION, RunStore

# A baseline's run.json as armjit wrote it before run records were typed: an id without the random
# part, no armjit_version, host facts merged into "host", a mode fetched and judged, a failed step.
OLD_BASELINE: dict[str, Any] = {
    "schema_version": 1,
    "run_id": "20261124T120000Z_abcdef12_host",
    "kind": "baseline",
    "status": "failed",
    "started": "2026-11-24T12:00:00.123456+00:00",
    "settings": {"bench": ["fixture"], "modes": ["nojit", "jitlist"], "code_size_limit": 0},
    "explicit_settings": ["bench", "host"],
    "host": {
        "name": "root@arm:22",
        "is_local": False,
        "uname": "Linux arm 6.8.0 aarch64",
        "arch": "aarch64",
        "nproc": "2",
        "cpu": "Neoverse-N1",
        "loadavg": "0.10 0.20 0.30",
        "hostname": "arm",
        "rsync": "/usr/bin/rsync",
        "cmake": "",
        "python": "3.14.0",
        "kernel_extra": "kept though armjit never knew it",
    },
    "commits": {"commit": "abcdef1234567890", "branch": "work", "deployed": {"commit": "abcdef1234567890"}},
    "modes": {
        "nojit": {
            "description": "interpreter only",
            "env": {},
            "pyperf_json": "pyperf/nojit.json",
            "jit_logs": [],
            "benchmarks": ["fixture"],
            "runner": "pyperf",
            "inherit_environ": "",
            "value": 0.0125,
            "processes": 3,
            "values": 9,
            "gate": {"ok": True, "message": "nojit: no JIT expected"},
        },
        "jitlist": {
            "description": "JIT on a jitlist",
            "env": {"PYTHONJITLISTFILE": "/r/jitlist-jitlist.txt"},
            "pyperf_json": None,
            "jit_logs": ["jitlogs/jitlist/jit_7.log"],
            "benchmarks": ["fixture"],
            "runner": "pyperf",
            "inherit_environ": "PYTHONJITLISTFILE",
        },
    },
    "skipped_modes": "",
    "remote": {"run_dir": "/in/armjit-runs/x", "wheel": "/w/dist/cinderx.whl", "bench_python": "/v/bin/python"},
    "tests": [{"id": "test_x", "status": "pass", "detail": ""}],
    "steps": [
        {
            "name": "deploy",
            "status": "ok",
            "exit_code": 0,
            "seconds": 1.5,
            "log": "logs/deploy.log",
            "command": "rsync",
            "detail": "rsync: 3 sent",
        },
        {
            "name": "bench-jitlist",
            "status": "failed",
            "exit_code": -11,
            "seconds": 4.0,
            "log": None,
            "command": None,
            "detail": "benchmark jitlist failed (fixture: exit -11)",
        },
    ],
    "owner": {"pid": 4242, "hostname": "laptop"},
    "failure": {"step": "bench-jitlist", "cause": "benchmark jitlist failed (fixture: exit -11)"},
    "finished": "2026-11-24T12:03:00+00:00",
}

# Kinds whose own facts live in ``details``: a red run and a handoff, as written before.
OLD_RED: dict[str, Any] = {
    "schema_version": 1,
    "run_id": "20261124T120500Z_abcdef12_host_red",
    "kind": "red",
    "status": "ok",
    "started": "2026-11-24T12:05:00+00:00",
    "settings": {"repo": "target"},
    "explicit_settings": [],
    "host": {"name": "local", "is_local": True},
    "commits": {},
    "deploy_run": None,
    "deploy_marker": None,
    "red_run": None,
    "steps": [],
    "owner": {"pid": 1},
    "targeted": {"step": "red", "keyword": "test_x", "ok": True, "verdict": "failed", "tests": []},
    "finished": "2026-11-24T12:05:09+00:00",
}
OLD_HANDOFF: dict[str, Any] = {
    "schema_version": 1,
    "run_id": "20261124T121000Z_abcdef12_handoff",
    "kind": "handoff",
    "status": "ok",
    "started": "2026-11-24T12:10:00+00:00",
    "commits": {"branch": "work", "commit": "abcdef12", "upstream": "origin/main"},
    "committed": None,
    "pushed": "origin",
    "forced": False,
    "missing": [],
    "changed_files": ["a.cpp"],
    "jit_files": ["a.cpp"],
    "evidence": [["baseline", "x", "ok"]],
    "iteration_verdict": None,
}


def _write_old(store: RunStore, data: dict[str, Any], name: str = "") -> Path:
    path = store.root / (name or data["run_id"]) / "run.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_an_old_baseline_run_json_loads_typed(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    _write_old(store, OLD_BASELINE)
    record = store.resolve(OLD_BASELINE["run_id"]).record()
    assert record.kind == "baseline" and record.status == "failed"
    assert record.commit == "abcdef1234567890"
    assert record.setting("bench") == ["fixture"]
    assert record.host is not None and record.host.arch == "aarch64" and record.host.is_local is False
    assert record.host.extra == {"kernel_extra": "kept though armjit never knew it"}
    assert record.modes is not None
    nojit, jitlist = record.modes["nojit"], record.modes["jitlist"]
    assert nojit.value == 0.0125 and nojit.processes == 3 and nojit.gate == OLD_BASELINE["modes"]["nojit"]["gate"]
    assert jitlist.pyperf_json is None and jitlist.jit_logs == ["jitlogs/jitlist/jit_7.log"]
    assert record.remote is not None and record.remote.wheel == "/w/dist/cinderx.whl"
    assert record.steps is not None and record.steps[1] == StepRecord(
        "bench-jitlist", "failed", -11, 4.0, None, None, "benchmark jitlist failed (fixture: exit -11)"
    )
    assert record.failure == Failure("bench-jitlist", "benchmark jitlist failed (fixture: exit -11)")
    assert record.details == {"tests": [{"id": "test_x", "status": "pass", "detail": ""}]}


def test_old_records_save_again_without_losing_a_key(tmp_path: Path) -> None:
    # Loading and saving an old record must give back the same JSON: readers that still use the
    # plain data (and older armjit checkouts sharing the reports dir) see no difference.
    store = RunStore(tmp_path / "runs")
    for old in (OLD_BASELINE, OLD_RED, OLD_HANDOFF):
        path = _write_old(store, old)
        run = store.resolve(old["run_id"])
        run.save(run.record())
        assert json.loads(path.read_text(encoding="utf-8")) == old


def test_a_record_without_a_run_id_takes_its_directorys(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    _write_old(store, {k: v for k, v in OLD_HANDOFF.items() if k != "run_id"}, name=OLD_HANDOFF["run_id"])
    assert store.resolve(OLD_HANDOFF["run_id"]).record().run_id == OLD_HANDOFF["run_id"]


def test_the_store_makes_new_records_with_one_id_format(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
    run, record = store.new_run("ab", now, "ab", "root@arm:22")
    assert re.fullmatch(r"20261124T120000Z-[0-9a-f]{6}_ab_root-arm-22", run.run_id)
    assert (record.run_id, record.kind, record.status) == (run.run_id, "ab", "running")
    assert record.armjit_version and record.started == "2026-11-24T12:00:00.000000+00:00"
    record.host = HostFacts("root@arm:22", False).with_facts({"arch": "aarch64", "new_fact": "x"})
    record.set_mode("nojit", ModeRecord(jit_proof={"a": {"main": 0}}, blocks=4))
    run.save(record)
    data = json.loads((run.path / "run.json").read_text(encoding="utf-8"))
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["host"] == {"name": "root@arm:22", "is_local": False, "arch": "aarch64", "new_fact": "x"}
    assert data["modes"] == {"nojit": {"jit_proof": {"a": {"main": 0}}, "blocks": 4}}
    assert RunRecord.from_json(data) == record


def test_an_old_baseline_renders_and_verifies_without_the_newer_keys(tmp_path: Path) -> None:
    # Written before gate, warnings, measurement and pins existed: the notes and verify still read it.
    from armjit.flows.verify import baseline_settings
    from armjit.render.baseline_report import baseline_findings_block, summary_text

    store = RunStore(tmp_path / "runs")
    _write_old(store, OLD_BASELINE)
    run = store.resolve(OLD_BASELINE["run_id"])
    manifest = run.record().to_json()
    assert not {"gate", "warnings", "measurement", "pins"} & set(manifest)
    assert "runtime test gate" not in baseline_findings_block(run, manifest)
    assert "warning" not in summary_text(run, manifest)
    assert baseline_settings(run.record()).build == "source"


def test_warnings_reach_the_summary_and_the_findings_block(tmp_path: Path) -> None:
    from armjit.render.baseline_report import baseline_findings_block, summary_text

    store = RunStore(tmp_path / "runs")
    _write_old(store, OLD_BASELINE)
    run = store.resolve(OLD_BASELINE["run_id"])
    warning = "gate: none: no test_oss_quick.py or test_arm_runtime.py (not on the host: x); the build was not tested"
    manifest = {**run.record().to_json(), "gate": "none", "warnings": [warning]}
    assert f"warning: {warning}" in summary_text(run, manifest).splitlines()
    block = baseline_findings_block(run, manifest)
    assert f"- **Warning**: {warning}" in block and "runtime test gate: `none`" in block
