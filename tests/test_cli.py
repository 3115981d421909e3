"""The invoke surface through the real ``invoke`` CLI: help that helps, flags each task uses, settings
resolved once, and values that look like flags refused before anything is written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from armjit.cli import ns
from armjit.cli._task import ALL, GROUPS, cli_values
from armjit.config import setting_specs

ROOT = Path(__file__).resolve().parents[1]
TASK_NAMES = sorted(ns.task_names)
ARMJIT = "import sys; from armjit.cli.program import main; sys.argv[0] = 'armjit'; main()"


def invoke(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARMJIT_")}
    return subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(ROOT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=120,
        check=False,
    )


def files_under(path: Path) -> list[Path]:
    return sorted(path.rglob("*"))


def test_status_help_is_short_and_shows_only_its_flags() -> None:
    result = invoke("--help", "status")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) <= 40, result.stdout
    assert "--reports" in result.stdout and "--notes-dir" in result.stdout
    assert "--host" not in result.stdout and "--bench" not in result.stdout


def test_a_task_refuses_flags_of_settings_it_does_not_read() -> None:
    result = invoke("status", "--host", "arm1")
    assert result.returncode != 0 and "--host" in result.stderr


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_h_is_help_for_every_task(flag: str) -> None:
    for name in ("baseline", "doctor", "red"):
        result = invoke(name, flag)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"Usage: inv[oke] [--core-opts] {name} "), result.stdout


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_help_is_readable(name: str) -> None:
    result = invoke("--help", name)
    assert result.returncode == 0, result.stderr
    options = result.stdout.split("Options:", 1)[1]
    flags = [line.split()[0] for line in options.splitlines() if line.startswith("  -")]
    assert flags, result.stdout
    assert all(not f.startswith("--=") and not f.startswith("-h") for f in flags), flags
    assert "--=" not in options
    assert [line for line in result.stdout.splitlines() if len(line) > 100] == []


def test_help_after_a_positional_flag_never_runs_the_task(tmp_path: Path) -> None:
    env = {"ARMJIT_REPORTS": str(tmp_path / "reports"), "ARMJIT_NOTES_DIR": str(tmp_path / "notes")}
    for args in (
        ["decide", "--help", "--why", "x"],
        ["decide", "-h", "--why", "x"],
        ["decide", "--x", "--why", "y"],
        ["decide", "a decision", "--why", "--help"],
    ):
        result = invoke(*args, cwd=tmp_path, env=env)
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert len(lines) == 1 and lines[0].startswith("armjit: decide: "), result.stderr
        assert "invoke --help decide" in lines[0]
    # After `--` invoke hands nothing to the task: its parser refuses the missing text itself.
    after_dashes = invoke("decide", "--", "--x", cwd=tmp_path, env=env)
    assert after_dashes.returncode != 0 and len(after_dashes.stderr.strip().splitlines()) == 1
    assert files_under(tmp_path) == []


def test_a_decision_lands_in_the_resolved_notes_dir(tmp_path: Path) -> None:
    env = {"ARMJIT_REPORTS": str(tmp_path / "reports")}
    result = invoke("decide", "Use stubs", "--why", "12 bytes smaller", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    plan = (tmp_path / "reports" / "task_plan.md").read_text()
    assert re.search(r"^\| Use stubs +\| 12 bytes smaller +\|$", plan, re.MULTILINE), plan


def test_verify_reads_armjit_reports(tmp_path: Path) -> None:
    reports = tmp_path / "elsewhere"
    result = invoke("verify", cwd=tmp_path, env={"ARMJIT_REPORTS": str(reports)})
    assert result.returncode == 2
    assert f"no successful baseline under {reports / 'runs'}" in result.stderr
    flag = invoke("verify", "--reports", str(tmp_path / "flag"), cwd=tmp_path, env={"ARMJIT_REPORTS": str(reports)})
    assert str(tmp_path / "flag" / "runs") in flag.stderr  # a flag beats the environment


def _baseline_record(reports: Path, repo: Path, *, measured: bool = True, status: str = "ok") -> str:
    """A finished baseline record of ``repo`` (what verify selects by), through the run store."""
    import datetime as dt

    from armjit.seams.records import ModeRecord, RemotePaths
    from armjit.seams.store import RunStore

    run, record = RunStore(reports / "runs").new_run("baseline", dt.datetime.now(dt.UTC), "baseline")
    record.status = status
    record.settings = {"repo": str(repo)}
    record.remote = RemotePaths(run_dir="/srv/armjit-runs/x")
    if measured:
        record.modes = {"nojit": ModeRecord(value=0.01)}
    run.save(record)
    return run.run_id


def test_every_task_that_reads_a_repo_takes_repo(tmp_path: Path) -> None:
    for name in ("verify", "history", "attach", "mine", "status", "handoff", "baseline", "ab", "red", "doctor"):
        result = invoke("--help", name)
        assert "--repo" in result.stdout, name
    reports, mine, other = tmp_path / "reports", tmp_path / "mine", tmp_path / "other"
    env = {"ARMJIT_REPORTS": str(reports)}
    none = invoke("verify", "--repo", str(mine), cwd=tmp_path, env=env)
    assert none.returncode == 2 and "No idea" not in none.stderr
    assert none.stderr.strip() == (
        f"armjit: no successful baseline of {mine} under {reports / 'runs'}: run `invoke baseline --repo {mine}` first"
    )
    theirs = _baseline_record(reports, other)
    refused = invoke("verify", "--repo", str(mine), "--baseline", theirs, cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert f"--baseline {theirs} measured {other}, not --repo {mine}" in refused.stderr
    # neither another checkout's baseline nor a deploy-only run (no modes) of this one is picked
    _baseline_record(reports, mine, measured=False)
    assert "no successful baseline of" in invoke("verify", "--repo", str(mine), cwd=tmp_path, env=env).stderr
    # attach goes on with the checkout the run started from: another --repo is refused
    failed = _baseline_record(reports, other, status="failed")
    attach = invoke("attach", "--run", failed, "--repo", str(mine), cwd=tmp_path, env=env)
    assert attach.returncode == 2
    assert attach.stderr.strip() == f"armjit: run {failed} started from {other}, not --repo {mine}"


def test_status_and_mine_use_the_same_reports_and_notes(tmp_path: Path) -> None:
    env = {"ARMJIT_REPORTS": str(tmp_path / "reports"), "ARMJIT_NOTES_DIR": str(tmp_path / "notes")}
    status = invoke("status", "--json", cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["task_plan"] == str(tmp_path / "notes" / "task_plan.md")
    mine = invoke("mine", "--json", cwd=tmp_path, env=env)
    assert mine.returncode == 2 and str(tmp_path / "reports" / "runs") in mine.stderr


def test_settings_lists_every_setting_with_its_source(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.armjit]\nwarmups = 5\n")
    (project / "invoke.yaml").write_text("armjit:\n  values: 7\n")
    (project / "tasks.py").write_text((ROOT / "tasks.py").read_text())
    argv = [sys.executable, "-m", "invoke", "-r", str(project), "settings"]
    flags = ["--bench", "go", "--bench", "a,b", "--no-rebase", "--port", "2222"]
    env = {**os.environ, "ARMJIT_PROCESSES": "6"}

    def run(*extra: str) -> str:
        return subprocess.run([*argv, *extra], cwd=project, capture_output=True, text=True, env=env, check=True).stdout

    table = run()
    assert all(f"\n{spec.name} " in table for spec in setting_specs())
    data = json.loads(run("--json", *flags))
    s, src = data["settings"], data["sources"]
    assert (s["bench"], src["bench"]) == (["go", "a", "b"], "command line")
    assert (s["rebase"], src["rebase"]) == (False, "command line")
    assert (s["port"], src["port"]) == (2222, "command line")
    assert (s["processes"], src["processes"]) == (6, "environment")
    assert (s["values"], src["values"]) == (7, "invoke config")
    assert (s["warmups"], src["warmups"]) == (5, "pyproject [tool.armjit]")
    assert "host" not in src  # a default


def test_every_setting_is_in_exactly_one_group() -> None:
    grouped = [name for group in GROUPS for name in group]
    assert sorted(grouped) == sorted(ALL), "place each setting in one group of armjit/cli/_task.py"


def test_only_given_flags_count_as_the_command_line() -> None:
    given = {"bench": [], "rebase": True, "worktree": True, "port": None, "host": "arm1", "modes": ["nojit,jitlist"]}
    assert cli_values(given) == {"worktree": True, "host": "arm1", "modes": ["nojit", "jitlist"]}


@pytest.mark.parametrize("program", ["invoke", "armjit"])
def test_help_into_a_closed_pipe_ends_quietly(program: str) -> None:
    # `invoke --help baseline | head -1`: the reader leaves before the help is written.
    argv = [sys.executable, "-m", "invoke", "-r", str(ROOT)] if program == "invoke" else [sys.executable, "-c", ARMJIT]
    proc = subprocess.Popen([*argv, "--help", "baseline"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""
