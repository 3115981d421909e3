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


def _advance_upstream(repo: Any, tmp_path: Path, name: str, text: str) -> str:
    """A new commit on the repo's upstream (origin/main), made from a second clone."""
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(repo.origin), str(other)], check=True)
    (other / name).write_text(text)
    for args in (
        ["add", name],
        ["-c", "user.name=up", "-c", "user.email=up@example.invalid", "commit", "-q", "-m", "upstream 2"],
        ["push", "-q", "origin", "main"],
    ):
        subprocess.run(["git", "-C", str(other), *args], check=True)
    return repo.git("ls-remote", str(repo.origin), "refs/heads/main").split()[0]


def _sync_baseline(repo: Any, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """A local baseline that syncs upstream, deploys, then stops at host-facts (no such python):
    enough to name the run, fast."""
    result = invoke(
        "baseline", "--repo", str(repo.path), "--branch", "arm-jit", "--reports", str(tmp_path / "reports"),
        "--remote-workdir", str(tmp_path / "work"), "--remote-incoming", str(tmp_path / "incoming"),
        "--driver-venv", str(tmp_path / "venv"), "--remote-python", str(tmp_path / "no-python"),
        "--build", "none", "--skip-pyperf",
    )  # fmt: skip
    (run,) = (tmp_path / "reports" / "runs").iterdir()
    return result, json.loads((run / "run.json").read_text())


def test_the_run_id_names_the_commit_measured_after_a_rebase(tmp_path: Path, target_repo: Any) -> None:
    before = target_repo.head("arm-jit")
    _advance_upstream(target_repo, tmp_path, "upstream2.txt", "upstream 2\n")
    result, manifest = _sync_baseline(target_repo, tmp_path)
    after = target_repo.head("arm-jit")
    assert after != before, result.stderr  # the sync rebased arm-jit
    assert f"_{after[:8]}_" in manifest["run_id"] and before[:8] not in manifest["run_id"]
    assert manifest["commits"]["commit"] == after
    steps = {s["name"]: s for s in manifest["steps"]}
    assert (
        steps["upstream-sync"]["status"] == "ok"
        and f"rebased {before[:10]} -> {after[:10]}" in steps["upstream-sync"]["detail"]
    )
    assert steps["deploy"]["status"] == "ok"


def test_a_rebase_conflict_is_the_runs_failed_step_and_says_main_moved(tmp_path: Path, target_repo: Any) -> None:
    main_before = target_repo.git("rev-parse", "main").strip()
    upstream = _advance_upstream(target_repo, tmp_path, "cinderx/Jit/codegen_arm64.cpp", "upstream's own version\n")
    result, manifest = _sync_baseline(target_repo, tmp_path)
    assert result.returncode != 0
    line = result.stderr.strip().splitlines()[-1]
    assert "stopped on a conflict in cinderx/Jit/codegen_arm64.cpp" in line
    assert f"local main was fast-forwarded {main_before[:10]} -> {upstream[:10]} (origin/main)" in line
    assert manifest["status"] == "failed" and manifest["failure"]["step"] == "upstream-sync"
    assert f"_{target_repo.head('arm-jit')[:8]}_" in manifest["run_id"]
