"""``invoke baseline`` from the command line: the embedded default, and bad input that must give
one line, exit status 2 and no new file under reports/ or in the notes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def invoke(
    *args: str, cwd: Path = ROOT, timeout: int = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(ROOT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*")) if path.exists() else []


@pytest.mark.slow
def test_embedded_default_runs_the_pipeline_here(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = invoke("baseline", "--reports", str(reports), "--processes", "2", "--values", "2", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "ok"
    assert "jitlist, autojit cannot run here" in result.stderr
    run = Path(summary["run_dir"])
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["schema_version"] == 1 and manifest["settings"]["build"] == "none"
    nojit = manifest["modes"]["nojit"]
    assert nojit["processes"] == 2 and nojit["value"] > 0
    assert (run / nojit["pyperf_json"]).is_file()
    steps = {s["name"]: s for s in manifest["steps"]}
    assert steps["bench-nojit"]["status"] == "ok" and steps["bench-nojit"]["seconds"] > 0
    assert (run / steps["bench-nojit"]["log"]).is_file()
    findings = (reports / "findings.md").read_text()
    assert f"<!-- armjit:begin baseline-{manifest['run_id']} -->" in findings
    assert "| nojit" in findings and "## Session:" in (reports / "progress.md").read_text()


BAD_INPUTS: list[tuple[str, list[str], str]] = [
    ("unknown host", ["--host", "no-such-host.invalid", "--connect-timeout", "3"], "unknown host"),
    ("port 0", ["--port", "0"], "outside 1-65535"),
    ("port 70000", ["--host", "root@127.0.0.1:70000"], "outside 1-65535"),
    ("bench ;", ["--bench", "richards;reboot"], "benchmark names"),
    ("bench $(", ["--bench", "$(reboot)"], "benchmark names"),
    ("autojit -1", ["--autojit", "-1"], "cannot be negative"),
    ("missing repo", ["--repo", "{tmp}/nope"], "no such"),
    ("not a git repo", ["--repo", "{tmp}"], "not a git"),
]


def _check_refused(result: subprocess.CompletedProcess[str], fragment: str, reports: Path, notes: list[Path]) -> None:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("armjit: "), result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr
    assert files_under(reports) == []
    for note in notes:
        assert not note.exists()


@pytest.mark.parametrize(("label", "args", "fragment"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, label: str, args: list[str], fragment: str
) -> None:
    reports = tmp_path / "reports"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = invoke("baseline", "--reports", str(reports), *args)
    _check_refused(result, fragment, reports, [reports / "findings.md"])


def test_missing_branch(tmp_path: Path, target_repo: Any) -> None:
    reports = tmp_path / "reports"
    result = invoke(
        "baseline", "--reports", str(reports), "--repo", str(target_repo.path), "--branch", "no-such-branch"
    )
    _check_refused(result, "no-such-branch", reports, [target_repo.path / "findings.md"])


def test_refused_connection_and_wrong_key(tmp_path: Path, sshd_host: Any) -> None:
    reports = tmp_path / "reports"
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    common = ["--reports", str(reports), "--known-hosts", str(sshd_host.known_hosts_path)]
    host = f"{sshd_host.user}@{sshd_host.host}:{sshd_host.port}"
    _check_refused(invoke("baseline", *common, "--host", host, "--key", str(wrong)), "authentication", reports, [])
    sshd_host.stop()
    _check_refused(
        invoke("baseline", *common, "--host", host, "--key", str(sshd_host.key_path)), "refused", reports, []
    )


def test_unreadable_notes_file(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    notes = tmp_path / "notes"
    (notes / "findings.md").mkdir(parents=True)  # a directory where the notes file should be
    result = invoke("baseline", "--reports", str(reports), "--notes-dir", str(notes))
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "findings.md" in lines[0]
    assert files_under(reports) == []
    assert files_under(notes) == [notes / "findings.md"]


def test_armjit_console_script_takes_the_repo_from_the_cwd(tmp_path: Path) -> None:
    armjit = Path(sys.executable).parent / "armjit"
    if not armjit.exists():
        pytest.skip("the armjit console script is not installed in this environment (pip install -e .)")
    checkout = tmp_path / "cinderx"
    (checkout / "sub").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    inside = subprocess.run(
        [str(armjit), "settings", "--json"], cwd=checkout / "sub", capture_output=True, text=True, check=True
    )
    assert json.loads(inside.stdout)["settings"]["repo"] == str(checkout)
    outside = subprocess.run(
        [str(armjit), "settings", "--json"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert json.loads(outside.stdout)["settings"]["repo"] == ""
    via_invoke = invoke("settings", "--json", cwd=checkout)
    assert json.loads(via_invoke.stdout)["settings"]["repo"] == ""  # invoke in the armjit checkout: explicit --repo


def test_settings_sources_layer_through_the_real_cli(tmp_path: Path) -> None:
    """pyproject [tool.armjit] < invoke.yaml < ARMJIT_* environment < flags, as invoke loads them."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "tasks.py").write_text((ROOT / "tasks.py").read_text())
    (project / "pyproject.toml").write_text("[tool.armjit]\nautojit = 10\nbench = ['go']\nparallel = 3\nport = 2200\n")
    (project / "invoke.yaml").write_text("armjit:\n  autojit: 20\n  parallel: 4\n  port: 2201\n")
    argv = [sys.executable, "-m", "invoke", "-r", str(project), "settings", "--json", "--autojit", "40"]
    env = {**os.environ, "ARMJIT_AUTOJIT": "30", "ARMJIT_PARALLEL": "5"}
    result = subprocess.run(argv, cwd=project, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    s, src = data["settings"], data["sources"]
    assert (s["autojit"], src["autojit"]) == (40, "command line")
    assert (s["parallel"], src["parallel"]) == (5, "environment")
    assert (s["port"], src["port"]) == (2201, "invoke config")
    assert (s["bench"], src["bench"]) == (["go"], "pyproject [tool.armjit]")
