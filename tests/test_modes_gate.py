"""JIT modes pass every variable through --inherit-environ; the gate names the likely cause."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from armjit.cinderx import gate, modes
from armjit.cinderx.commands import bench_command
from armjit.cinderx.modes import JitMode, inherit_environ, jit_mode, missing_inherited
from armjit.config import merge_settings
from armjit.errors import UsageError
from armjit.flows.baseline import plan_modes
from armjit.render.baseline_report import modes_table

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "cinderx-2026.11"


def _mode(name: str, extra_jitlist: tuple[str, ...] = ()) -> JitMode:
    return jit_mode(
        name,
        log_dir="/w d/logs",
        jitlist_path="/w d/list.txt",
        autojit=50,
        jitlist_filter=True,
        extra_jitlist=extra_jitlist,
    )


@pytest.mark.parametrize("name", ["nojit", "jitlist", "autojit"])
def test_every_mode_variable_is_inherited(name: str) -> None:
    mode = _mode(name)
    assert "PYTHONJITLOGFILE" in mode.env and mode.env["PYTHONJITLOGFILE"].endswith("jit_{pid}.log")
    assert missing_inherited(mode, inherit_environ(mode)) == []
    cmd = bench_command(
        runner="pyperf",
        python="/v/bin/python",
        bench="richards",
        mode=mode,
        output="/o.json",
        bench_file="/b.py",
        processes=2,
        values=2,
        warmups=1,
        loops=0,
    )
    for var in mode.env:
        assert var in cmd.command.split("--inherit-environ ", 1)[1].split(" ", 1)[0]


def test_missing_inherited_names_the_dropped_variable() -> None:
    mode = _mode("jitlist")
    assert missing_inherited(mode, "PYTHONJITDEBUG,PYTHONJITLOGFILE") == [
        "PYTHONJITLISTFILE",
        "PYTHONJITENABLEJITLISTWILDCARDS",
    ]


def test_autojit_filter_adds_the_jitlist_and_extras() -> None:
    mode = _mode("autojit", extra_jitlist=("re:*",))
    assert mode.jitlist == ("__main__:*", "re:*")
    plain = jit_mode("autojit", log_dir="/l", jitlist_path="/j", autojit=7, jitlist_filter=False)
    assert "PYTHONJITLISTFILE" not in plain.env and plain.env["PYTHONJITAUTO"] == "7"


def _fixture_counts(directory: str) -> list[gate.LogCounts]:
    logs = sorted((FIXTURES / "jitlogs" / directory).glob("*.log"))
    if not logs:
        pytest.skip(f"fixture logs not found under {FIXTURES}")
    return [gate.count_log(p.name, p.read_bytes()) for p in logs]


def test_gate_on_real_jitlist_logs() -> None:
    counts = _fixture_counts("richards_jitlist_w10")
    assert sorted(c.main for c in counts).count(37) == 11
    result = gate.judge_mode("jitlist", counts, expects_compiles=True, expected_processes=10)
    assert result.ok and result.main == 37 * 11 + 1 and result.processes_with_compiles == 12


def test_gate_reads_the_logged_threshold_on_real_autojit_logs() -> None:
    counts = _fixture_counts("richards_autojit_w10")
    result = gate.judge_mode("autojit", counts, expects_compiles=True, expected_processes=10)
    assert result.ok and result.main > 0
    assert result.thresholds == {"calls": 1000, "bytecodes": 100000}


def test_gate_failure_names_the_cause() -> None:
    no_logs = gate.judge_mode("autojit", [], expects_compiles=True, expected_processes=4)
    assert not no_logs.ok and "no process wrote a JIT log" in no_logs.message
    parent_only = [
        gate.count_log("jit_1.log", b"JIT: a.cpp:1 -- Configuring JIT to compile functions after 50 calls\n")
    ]
    dropped = gate.judge_mode("jitlist", parent_only, expects_compiles=True, expected_processes=4)
    assert not dropped.ok and "--inherit-environ" in dropped.message
    nojit = gate.judge_mode("nojit", parent_only, expects_compiles=False, expected_processes=4)
    assert nojit.ok and nojit.total == 0


# -- the mode registry: a new mode is one register() call ----------------------------------------


@pytest.fixture
def jitall() -> Iterator[modes.ModeSpec]:
    """A mode that compiles every function at its first call, registered the way modes.py does."""

    def build(c: modes.ModeContext) -> JitMode:
        return JitMode("jitall", {"PYTHONJITALL": "1"}, description="compile everything at first call")

    spec = modes.register(modes.ModeSpec("jitall", build))
    try:
        yield spec
    finally:
        modes.unregister("jitall")


def test_a_registered_mode_flows_through_settings_plan_commands_gate_and_summary(jitall: modes.ModeSpec) -> None:
    settings = merge_settings(cli={"modes": "nojit,jitall"})
    assert settings.modes == ("nojit", "jitall")
    assert plan_modes(settings) == (["nojit", "jitall"], "")
    # --build none keeps the modes that need no cinderx and names the dropped one
    runnable, why = plan_modes(replace(settings, build="none"))
    assert runnable == ["nojit"] and "jitall" in why

    mode = _mode("jitall")
    assert mode.env["PYTHONJITALL"] == "1" and "PYTHONJITLOGFILE" in mode.env and mode.expects_compiles
    cmd = bench_command(
        runner="pyperf",
        python="/v/bin/python",
        bench="richards",
        mode=mode,
        output="/o.json",
        bench_file="/b.py",
        processes=2,
        values=2,
        warmups=1,
        loops=0,
    )
    assert "PYTHONJITALL=1" in cmd.command and missing_inherited(mode, inherit_environ(mode)) == []

    # the gate asks the registry: jitall must compile, nojit must not
    assert gate.compiles_expected(mode, build="source") and not gate.compiles_expected(mode, build="none")
    assert not gate.compiles_expected(_mode("nojit"), build="source")
    counts = _fixture_counts("richards_jitlist_w10")
    verdict = gate.judge_mode(
        "jitall", counts, expects_compiles=gate.compiles_expected(mode, build="source"), expected_processes=10
    )
    assert verdict.ok and verdict.main > 0
    empty = [gate.count_log("jit_1.log", b"")]
    assert not gate.judge_mode("jitall", empty, expects_compiles=True, expected_processes=1).ok
    assert modes.expects_compiles("jitall") and not modes.expects_compiles("nojit")

    manifest = {"modes": {"jitall": {"benchmarks": ["richards"], "value": 0.01, "compiles": {"main": verdict.main}}}}
    summary = modes_table(manifest, "github")
    assert "| jitall " in summary and str(verdict.main) in summary


def test_unknown_and_duplicate_modes_are_refused() -> None:
    with pytest.raises(UsageError, match="unknown mode"):
        merge_settings(cli={"modes": "nojit,jitall"})
    with pytest.raises(ValueError, match="twice"):
        modes.register(modes.ModeSpec("nojit", lambda c: JitMode("nojit")))
    assert modes.default_modes() == ("nojit", "jitlist", "autojit")
