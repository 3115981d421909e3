"""RED, GREEN, status, decide and handoff from the command line, against the fixture target repo.

The fixture's ``test_arm64_fast_path`` reads a feature the build compiles in from
``// FIXTURE-FEATURE fast_path=on|off`` in the "C++" sources: build with ``off`` and the test
fails (RED); edit the source to ``on``, rebuild, and it passes (GREEN). Builds are real wheels
installed into a real venv; the tests run in real processes, locally or over a real sshd.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import run_invoke

from armjit.cinderx import targeted
from armjit.flows import iteration, task_plan
from armjit.seams.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
TEST = "test_arm64_fast_path"
CODEGEN = "cinderx/Jit/codegen_arm64.cpp"


def invoke(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return run_invoke(*args, timeout=timeout)


def make_venv(root: Path, *, test_deps: bool = True) -> Path:
    """A venv without pip; with ``test_deps`` this interpreter's site-packages (pytest, pip) are
    visible through a .pth line, so nothing is downloaded."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if test_deps:
        (Path(purelib) / "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def install_build(repo: Path, python: Path, out: Path) -> None:
    """Build the fixture wheel from ``repo``'s working tree and install it (what a deploy does)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(repo)],
        check=True, capture_output=True,
    )  # fmt: skip
    wheels = sorted(out.glob("cinderx-*.whl"))
    assert len(wheels) == 1
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--force-reinstall",
         str(wheels[0])],
        check=True, capture_output=True,
    )  # fmt: skip
    wheels[0].unlink()


def set_fast_path(repo: Any, value: str, *, commit: bool = True) -> None:
    path = repo.path / CODEGEN
    text = path.read_text()
    other = "off" if value == "on" else "on"
    path.write_text(text.replace(f"fast_path={other}", f"fast_path={value}"))
    if commit:
        repo.git("commit", "-q", "-am", f"arm-jit: fast path {value}")


def common(repo: Any, tmp_path: Path, python: Path | None = None) -> list[str]:
    args = ["--repo", str(repo.path), "--reports", str(tmp_path / "reports")]
    return [*args, "--python", str(python)] if python else args


def manifests(tmp_path: Path, kind: str) -> list[dict[str, Any]]:
    return [m for m in iteration.load_manifests(tmp_path / "reports") if m.get("kind") == kind]


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("armjit: ")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture
def red_repo(target_repo: Any, tmp_path: Path) -> tuple[Any, Path]:
    """The fixture checkout with the fast path switched off, built and installed into a venv."""
    set_fast_path(target_repo, "off")
    python = make_venv(tmp_path)
    install_build(target_repo.path, python, tmp_path / "dist")
    return target_repo, python


# -- local -------------------------------------------------------------------------------------


def test_red_then_green_locally_with_evidence(red_repo: tuple[Any, Path], tmp_path: Path) -> None:
    repo, python = red_repo
    red = invoke("red", "-k", TEST, *common(repo, tmp_path, python))
    assert red.returncode == 0, red.stderr
    assert "RED ok: the test failed (test_arm64_fast_path): AssertionError" in red.stdout
    (record,) = manifests(tmp_path, "red")
    t = record["targeted"]
    assert record["status"] == "ok" and t["verdict"] == "failed" and t["runner"] == "pytest"
    assert t["tests"][0]["id"].endswith("::ArmRuntimeTests::test_arm64_fast_path") and t["tests"][0]["status"] == "fail"
    assert "fast_path is 'off'" in t["excerpt"]
    assert record["commits"]["commit"] == repo.head()
    assert [s["name"] for s in record["steps"]] == ["targeted-test"]
    assert (tmp_path / "reports" / "runs" / record["run_id"] / record["steps"][0]["log"]).is_file()

    # GREEN before the fix: not met, and the errors table counts the attempts
    for attempt in (1, 2):
        early = invoke("green", "-k", TEST, *common(repo, tmp_path, python))
        assert early.returncode == 1
        assert "green: the test failed (test_arm64_fast_path)" in one_line_error(early)
        assert f"(attempt {attempt}, run " in one_line_error(early)
    (error,) = task_plan.load(repo.path).errors  # the state file beside the notes
    assert error.step == "green" and error.message.startswith("the test failed") and error.attempt == 2
    assert error.is_open and "| green: the test failed" in (repo.path / "task_plan.md").read_text()

    set_fast_path(repo, "on")
    install_build(repo.path, python, tmp_path / "dist")
    green = invoke("green", "-k", TEST, *common(repo, tmp_path, python))
    assert green.returncode == 0, green.stderr
    assert "GREEN ok: the test passed" in green.stdout
    greens = manifests(tmp_path, "green")
    assert [m["status"] for m in greens] == ["failed", "failed", "ok"]
    assert greens[-1]["commits"]["commit"] == repo.head() != record["commits"]["commit"]
    assert greens[-1]["red_run"] == record["run_id"]  # the RED this GREEN answers

    progress = (repo.path / "progress.md").read_text()
    rows = [ln for ln in progress.splitlines() if ln.startswith("| cinderx/")]
    assert [r.split(" | ")[4] for r in rows] == ["RED ok", "GREEN not met", "GREEN not met", "GREEN ok"]
    assert all(m["run_id"] in progress for m in [record, *greens])
    errors = task_plan.load(repo.path).errors
    assert errors[0].attempt == 2 and errors[0].resolution == f"GREEN met in run {greens[-1]['run_id']}"
    plan = (repo.path / "task_plan.md").read_text()
    assert "- [x] `invoke red -k NAME`" in plan and "- [x] `invoke green -k NAME --deploy`" in plan
    assert "Phase 1: Baseline" in plan.split("## Phases")[0]  # no baseline yet: that is the current phase


@pytest.mark.parametrize(
    ("keyword", "python", "expected"),
    [
        ("no_such_test", "venv", "no test matched -k no_such_test"),
        ("call_stub_alignment", "venv", "the test passed (test_aarch64_call_stub_alignment)"),
        (TEST, "bare", "collection errored: ImportError"),
    ],
    ids=["no-match", "passed", "collection-error"],
)
def test_red_says_why_it_is_not_red(
    red_repo: tuple[Any, Path], tmp_path: Path, keyword: str, python: str, expected: str
) -> None:
    repo, venv_python = red_repo
    # "bare": this interpreter has pytest but not the build, so the test module cannot import cinderx
    chosen = venv_python if python == "venv" else Path(sys.executable)
    result = invoke("red", "-k", keyword, *common(repo, tmp_path, chosen))
    assert result.returncode == 1
    line = one_line_error(result)
    assert line.startswith("armjit: red: ") and expected in line
    (record,) = manifests(tmp_path, "red")
    assert record["status"] == "failed" and expected in record["targeted"]["reason"]


def test_unittest_runner_and_untouched_notes(red_repo: tuple[Any, Path], tmp_path: Path) -> None:
    repo, python = red_repo
    # An engineer's own progress.md: BOM, CRLF and a GBK line; only armjit's block may change.
    original = b"\xef\xbb\xbf# Progress Log\r\n## Session: 2026-02-25\r\n- \xc8\xce\xce\xf1 (GBK)\r\n"
    (repo.path / "progress.md").write_bytes(original)
    result = invoke("red", "-k", TEST, "--runner", "unittest", "--json", *common(repo, tmp_path, python))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["runner"] == "unittest" and data["verdict"] == "failed"
    assert data["tests"] == [
        {"id": "test_arm_runtime.ArmRuntimeTests.test_arm64_fast_path", "status": "fail",
         "detail": data["tests"][0]["detail"]},
    ]  # fmt: skip
    after = (repo.path / "progress.md").read_bytes()
    assert after.startswith(original)
    assert b"<!-- armjit:begin test-results -->\r\n" in after and b"| RED ok |" in after


def test_bad_input_is_one_line_and_writes_nothing(target_repo: Any, tmp_path: Path) -> None:
    for args, fragment in (
        (["red", "-k", ""], "-k: give the name"),
        (["green", "-k", TEST, "--runner", "nose"], "--runner 'nose'"),
        (["red", "-k", TEST, "--repo", str(tmp_path / "nope")], "no such directory"),
    ):
        argv = [*args, "--reports", str(tmp_path / "reports")]
        if "--repo" not in args:
            argv += ["--repo", str(target_repo.path)]
        result = invoke(*argv)
        assert result.returncode == 2, result.stderr
        assert fragment in one_line_error(result)
    assert not (tmp_path / "reports").exists()
    assert not (target_repo.path / "progress.md").exists()


# -- over SSH ----------------------------------------------------------------------------------


def ssh_args(sshd: Any, tmp_path: Path) -> list[str]:
    return [
        "--host", f"{sshd.user}@{sshd.host}:{sshd.port}",
        "--key", str(sshd.key_path),
        "--known-hosts", str(sshd.known_hosts_path),
        "--remote-workdir", str(tmp_path / "remote" / "work"),
        "--remote-incoming", str(tmp_path / "remote" / "incoming"),
        "--remote-python", sys.executable,
    ]  # fmt: skip


def test_red_and_green_on_the_host_in_the_deployed_tree(
    shared_sshd: Any, red_repo: tuple[Any, Path], tmp_path: Path
) -> None:
    from armjit.seams import sync
    from armjit.seams.hosts import SshHost, SshTarget

    repo, python = red_repo
    # The driver venv lives on the "host" (this machine, seen over ssh); the tree is shipped by sync.
    host = SshHost(
        SshTarget(shared_sshd.host, shared_sshd.user, shared_sshd.port, str(shared_sshd.key_path),
                  shared_sshd.known_hosts_path, False, None, 10)
    )  # fmt: skip
    try:
        sync.sync_tree(host, repo.path, str(tmp_path / "remote" / "work"), ref=repo.work_branch)
    finally:
        host.close()
    args = [*ssh_args(shared_sshd, tmp_path), "--driver-venv", str(python.parent.parent), "--reports",
            str(tmp_path / "reports")]  # fmt: skip
    # no --repo: the deployed tree as it is; the evidence names the deployed commit from its marker
    red = invoke("red", "-k", TEST, *args)
    assert red.returncode == 0, red.stderr
    (record,) = manifests(tmp_path, "red")
    t = record["targeted"]
    assert not record["host"]["is_local"] and record["host"]["name"].endswith(f":{shared_sshd.port}")
    assert t["cwd"] == str(tmp_path / "remote" / "work") and t["runner"] == "pytest"
    assert record["commits"]["commit"] == repo.head() and record["deploy_marker"]["commit"] == repo.head()
    green = invoke("green", "-k", TEST, *args)
    assert green.returncode == 1 and "green: the test failed" in one_line_error(green)
    assert (tmp_path / "reports" / "progress.md").is_file()  # no repo: notes go to reports/


@pytest.mark.slow
def test_deploy_builds_before_red_and_green_over_ssh(sshd_host: Any, target_repo: Any, tmp_path: Path) -> None:
    set_fast_path(target_repo, "off")
    args = [
        *ssh_args(sshd_host, tmp_path),
        "--driver-venv", str(tmp_path / "remote" / "venv-driver"),
        "--bench-script", "bench/bm_fixture.py",
        "--no-sync-upstream", "--deploy",
        *common(target_repo, tmp_path),
    ]  # fmt: skip
    red = invoke("red", "-k", TEST, *args)
    assert red.returncode == 0, red.stderr[-3000:]
    set_fast_path(target_repo, "on")
    green = invoke("green", "-k", TEST, *args)
    assert green.returncode == 0, green.stderr[-3000:]
    baselines = manifests(tmp_path, "baseline")
    assert len(baselines) == 2 and all(b["settings"]["skip_pyperf"] for b in baselines)
    # the targeted test is left out of the deploy's runtime gate: red/green judge it
    assert all(TEST in b["settings"]["runtime_skip_tests"] for b in baselines)
    for kind, deploy in (("red", baselines[0]), ("green", baselines[1])):
        (record,) = manifests(tmp_path, kind)
        assert record["status"] == "ok" and record["deploy_run"] == deploy["run_id"]
        assert record["targeted"]["python"] == str(tmp_path / "remote" / "venv-driver" / "bin" / "python")
        assert record["deploy_marker"]["commit"] == deploy["commits"]["commit"] == record["commits"]["commit"]
    state = iteration.iteration_state(iteration.load_manifests(tmp_path / "reports"))
    assert state.step("red").done and state.step("green").done and not state.step("baseline").done
    # a deploy is no baseline: no "Iteration: baseline" block, only red and green's own notes
    findings = target_repo.path / "findings.md"
    assert not findings.exists() or "Iteration: baseline" not in findings.read_text()
    progress = (target_repo.path / "progress.md").read_text()
    assert "baseline-" not in progress and TEST in progress


def test_a_deploy_that_stops_on_a_rebase_conflict_is_reds_error(target_repo: Any, tmp_path: Path) -> None:
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(target_repo.origin), str(other)], check=True)
    (other / CODEGEN).write_text("upstream's own version\n")
    subprocess.run(["git", "-C", str(other), "-c", "user.name=up", "-c", "user.email=up@example.invalid",
                    "commit", "-q", "-am", "upstream 2"], check=True)  # fmt: skip
    subprocess.run(["git", "-C", str(other), "push", "-q", "origin", "main"], check=True)
    # red/green --deploy sync only when asked: a flag equal to its default does not count as
    # asked, so the environment asks.
    result = run_invoke(
        "red", "-k", TEST, "--deploy", "--remote-workdir", str(tmp_path / "work"),
        "--remote-incoming", str(tmp_path / "incoming"), "--driver-venv", str(tmp_path / "venv"),
        *common(target_repo, tmp_path), env={"ARMJIT_SYNC_UPSTREAM": "true"},
    )  # fmt: skip
    line = one_line_error(result)
    assert result.returncode == 2 and "stopped on a conflict in cinderx/Jit/codegen_arm64.cpp" in line
    assert "local main was fast-forwarded" in line
    (deploy,) = manifests(tmp_path, "baseline")
    assert deploy["status"] == "failed" and deploy["failure"]["step"] == "upstream-sync"
    (error,) = task_plan.load(target_repo.path).errors  # red's row, no baseline row
    assert error.step == "red" and "stopped on a conflict" in error.message
    assert "stopped on a conflict" in (target_repo.path / "task_plan.md").read_text()
    assert not (target_repo.path / "findings.md").exists()


# -- status, decide, handoff -------------------------------------------------------------------


def test_handoff_refuses_to_push_without_evidence(target_repo: Any, tmp_path: Path) -> None:
    result = invoke("handoff", "--push", "origin", "--commit", "-m", "x", *common(target_repo, tmp_path))
    assert result.returncode == 2
    line = one_line_error(result)
    assert "refusing to push: missing green evidence" in line and "verify verdict" in line
    # the plan was shown first: the delta and the JIT-related files
    assert "cinderx/Jit/codegen_arm64.cpp" in result.stdout and "2 files changed" in result.stdout
    assert target_repo.git("ls-remote", "--heads", str(target_repo.origin), "arm-jit") == ""
    assert target_repo.git("status", "--porcelain") == ""  # nothing written, nothing committed
    assert not (tmp_path / "reports").exists()


def test_scripted_iteration_status_notes_and_handoff(red_repo: tuple[Any, Path], tmp_path: Path) -> None:
    repo, python = red_repo
    plan = invoke("status", "--json", *common(repo, tmp_path))
    assert plan.returncode == 0 and json.loads(plan.stdout)["next"] == "baseline"

    assert invoke("red", "-k", TEST, *common(repo, tmp_path, python)).returncode == 0
    decided = invoke("decide", "Call helpers through shared stubs (BL)", "--why", "saves 12 bytes | call",
                     *common(repo, tmp_path))  # fmt: skip
    assert decided.returncode == 0, decided.stderr
    set_fast_path(repo, "on", commit=False)  # the fix, not committed yet: handoff commits it
    install_build(repo.path, python, tmp_path / "dist")
    assert invoke("green", "-k", TEST, *common(repo, tmp_path, python)).returncode == 0

    status = invoke("status", *common(repo, tmp_path))
    assert status.returncode == 0
    done = {ln.split()[0]: ln.split()[1] for ln in status.stdout.splitlines()[2:8]}
    assert done == {"baseline": "-", "mine": "-", "red": "done", "green": "done", "verify": "-", "handoff": "-"}
    assert "latest verdict: none yet" in status.stdout and "next: baseline" in status.stdout
    task_plan = (repo.path / "task_plan.md").read_text()
    assert "| Call helpers through shared stubs (BL) | saves 12 bytes \\| call |" in task_plan
    assert task_plan.count("- **Status:** complete") == 2 and "- **Status:** in_progress" in task_plan

    # green is there, the verify verdict is not: push is refused and says which one is missing
    refused = invoke("handoff", "--commit", "-m", "arm-jit: fast path on", "--push", "origin", *common(repo, tmp_path))
    assert refused.returncode == 2
    line = one_line_error(refused)
    assert "verify verdict" in line and "green evidence" not in line and "stale" not in line
    # --force must say why
    bare = invoke("handoff", "--commit", "-m", "arm-jit: fast path on", "--push", "origin", "--force",
                  *common(repo, tmp_path))  # fmt: skip
    assert bare.returncode == 2 and '--force "why"' in one_line_error(bare)
    assert repo.git("status", "--porcelain", CODEGEN) != ""  # nothing committed

    why = "verify needs the arm host, back tomorrow"
    pushed = invoke("handoff", "--commit", "-m", "arm-jit: fast path on", "--push", "origin", "--force", why,
                    *common(repo, tmp_path))  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    assert f"forced past: verify verdict (run `invoke verify`); why: {why}" in pushed.stdout
    # what would be committed was shown before it was: the file with its counts, the notes left out
    assert re.search(rf"\+1 +-1 +{CODEGEN}", pushed.stdout), pushed.stdout
    assert "left out (armjit's notes; --with-notes to commit them): progress.md, task_plan.md" in pushed.stdout
    assert "will push: branch arm-jit @ the new commit (refs/heads/arm-jit) to remote origin" in pushed.stdout
    head = repo.head()
    assert repo.git("log", "-1", "--format=%s") == "arm-jit: fast path on"
    committed = set(repo.git("show", "--name-only", "--format=", head).split())
    assert committed == {CODEGEN}  # armjit's notes stay out of the code commit
    assert repo.git("ls-remote", str(repo.origin), "refs/heads/arm-jit").split()[0] == head
    progress = (repo.path / "progress.md").read_text()
    assert "## Handoff: " in progress and "- Verify verdict: **missing**" in progress
    assert f"- Forced past the evidence checks (--force): {why}" in progress
    (handoff,) = manifests(tmp_path, "handoff")
    assert handoff["pushed"] == "origin" and handoff["committed"] == head and handoff["forced"] == why

    after = invoke("status", "--json", *common(repo, tmp_path))
    data = json.loads(after.stdout)
    steps = {s["name"]: s for s in data["steps"]}
    assert steps["handoff"]["done"] and steps["handoff"]["run_id"] == handoff["run_id"]
    assert data["next"] == "baseline"


def write_verify(reports: Path, commit: str, *, verdict: str = "no clear improvement", failed_to: int = 0) -> str:
    """A verify record and the run it measured, as ``invoke verify`` leaves them (the measured
    run's deploy marker names the commit); returns the verify run id."""
    store = RunStore(reports / "runs")
    now = dt.datetime.now(dt.UTC)
    measured, record = store.new_run("baseline", now, commit[:8], "baseline")
    record.status = "ok"
    record.commits = {"commit": commit, "deployed": {"commit": commit, "dirty_hash": None}}
    measured.save(record)
    verify, data = store.new_run("verify", now + dt.timedelta(seconds=1), "verify")
    data.status = "ok"
    rows = [{"benchmark": "nbody", "mode": "jitlist", "verdict": verdict, "ratio": 2.49}]
    data.details |= {
        "verdict": verdict,
        "to_run": measured.run_id,
        "report": {"overall": verdict, "comparisons": rows},
        "size_guard": {"jitlist": {"failed": {"from": 0, "to": failed_to}}},
    }
    verify.save(data)
    return verify.run_id


def test_handoff_pushes_only_what_green_and_verify_covered(red_repo: tuple[Any, Path], tmp_path: Path) -> None:
    repo, python = red_repo
    reports = tmp_path / "reports"
    # The checkout tracks a notes file, as upstream CinderX tracks findings.md.
    (repo.path / "findings.md").write_text("# Findings\n")
    repo.git("add", "findings.md")
    repo.git("commit", "-q", "-m", "team findings")
    set_fast_path(repo, "on", commit=False)
    install_build(repo.path, python, tmp_path / "dist")
    assert invoke("green", "-k", TEST, *common(repo, tmp_path, python)).returncode == 0
    parent = repo.head()
    (repo.path / "findings.md").write_text("# Findings\narmjit wrote here\n")  # notes change: no code change

    before = repo.git("status", "--porcelain")
    preview = invoke("handoff", "--commit", "-m", "arm-jit: fast path on", "--push", "origin", "--dry-run",
                     *common(repo, tmp_path))  # fmt: skip
    assert preview.returncode == 0, preview.stderr
    assert re.search(rf"\+1 +-1 +{CODEGEN}", preview.stdout) and "findings.md" in preview.stdout.split("left out")[1]
    assert "would be refused: refusing to push: missing verify verdict" in preview.stdout
    assert "dry run: nothing written, committed or pushed" in preview.stdout
    assert repo.git("status", "--porcelain") == before and manifests(tmp_path, "handoff") == []

    committed = invoke("handoff", "--commit", "-m", "arm-jit: fast path on", *common(repo, tmp_path))
    assert committed.returncode == 0, committed.stderr
    head = repo.head()
    assert set(repo.git("show", "--name-only", "--format=", head).split()) == {CODEGEN}
    assert "armjit wrote here" in (repo.path / "findings.md").read_text()  # kept, uncommitted

    # verify measured the head: green (on the uncommitted fix, now committed) and verify both cover it
    write_verify(reports, head)
    ok = invoke("handoff", "--push", "origin", "--dry-run", *common(repo, tmp_path))
    assert "would be refused" not in ok.stdout and "not covered" not in ok.stdout, ok.stdout

    # a code change after the evidence: both are stale, and the refusal says which file and what to run
    other = repo.path / "cinderx" / "Jit" / "other.cpp"
    other.write_text("// later change\n")
    repo.git("add", str(other))
    repo.git("commit", "-q", "-m", "later change")
    stale = invoke("handoff", "--push", "origin", *common(repo, tmp_path))
    assert stale.returncode == 2
    line = one_line_error(stale)
    green_at = f"green is stale: recorded at {parent[:8]} + uncommitted changes"
    assert green_at in line and f"verify is stale: recorded at {head[:8]}" in line
    assert "differs: cinderx/Jit/other.cpp" in line and f"run `invoke green -k {TEST}`" in line
    assert "run `invoke verify`" in line
    assert repo.git("ls-remote", "--heads", str(repo.origin), "arm-jit") == ""

    # verify on the new head, with a regression and new failed compiles: refused for those
    write_verify(reports, repo.head(), verdict="regression", failed_to=55)
    bad = invoke("handoff", "--push", "origin", *common(repo, tmp_path))
    line = one_line_error(bad)
    assert bad.returncode == 2 and "verify is stale" not in line
    assert "shows a regression (nbody/jitlist)" in line and "shows 55 new failed compile(s) in jitlist" in line


def test_handoff_with_notes_commits_the_notes(target_repo: Any, tmp_path: Path) -> None:
    (target_repo.path / CODEGEN).write_text((target_repo.path / CODEGEN).read_text() + "// x\n")
    result = invoke("handoff", "--commit", "-m", "with notes", "--with-notes", *common(target_repo, tmp_path))
    assert result.returncode == 0, result.stderr
    files = set(target_repo.git("show", "--name-only", "--format=", target_repo.head()).split())
    assert files == {CODEGEN, "progress.md", "task_plan.md"}


# -- pure parts --------------------------------------------------------------------------------


def _run_record(kind: str, second: int, **extra: Any) -> dict[str, Any]:
    return {"run_id": f"20261124T1200{second:02d}Z_{kind}", "kind": kind, "status": "ok", **extra}


def test_iteration_state_window_and_verify_targets() -> None:
    records = [
        _run_record("baseline", 1, settings={"skip_pyperf": False}),
        _run_record("red", 2, targeted={"keyword": "t", "verdict": "failed", "ok": True}),
        _run_record("baseline", 3, settings={"skip_pyperf": True}),  # a deploy, not a baseline
        _run_record("green", 4, targeted={"keyword": "t", "verdict": "passed", "ok": True}),
        _run_record("baseline", 5, settings={"skip_pyperf": False}),  # verify's fresh "to" run
        _run_record("verify", 6, verdict="no clear improvement", to_run="20261124T120005Z_baseline"),
    ]
    state = iteration.iteration_state(records)
    assert state.step("baseline").run_id == "20261124T120001Z_baseline"
    assert [s.done for s in state.steps] == [True, False, True, True, True, False]
    assert state.next_step == "mine" and state.verdict == "no clear improvement"
    closed = iteration.iteration_state([*records, _run_record("handoff", 7, pushed="origin")])
    assert closed.next_step == "mine" and closed.step("handoff").done  # mine was never run
    # `invoke mine` keeps no run record: its notes.md block names the run it mined
    mined = iteration.iteration_state(records, mined="20261124T120001Z_baseline")
    assert mined.step("mine").done and mined.step("mine").run_id == "20261124T120001Z_baseline"
    assert mined.next_step == "handoff"
    assert not iteration.iteration_state(records, mined="20261001T000000Z_old").step("mine").done
    fresh = iteration.iteration_state([*records, _run_record("handoff", 7, pushed="origin"), _run_record("red", 8)])
    assert fresh.since == "20261124T120007Z_handoff" and fresh.next_step == "baseline"
    assert fresh.step("red").done and not fresh.step("green").done and fresh.verdict is None


def test_classify_the_five_outcomes() -> None:
    def run(selected: tuple[str, ...], *statuses: str, errors: int = 0, code: int = 0) -> targeted.TargetedRun:
        outcomes = tuple(targeted.Outcome(f"t{i}", s) for i, s in enumerate(statuses))
        errs = tuple(targeted.Outcome("f", "error", "ImportError: x") for _ in range(errors))
        return targeted.TargetedRun("pytest", selected, outcomes, errs, code)

    assert targeted.classify(run(("t0",), "fail", code=1)) == targeted.FAILED
    assert targeted.classify(run(("t0",), "error", code=1)) == targeted.FAILED
    assert targeted.classify(run(("t0",), "pass")) == targeted.PASSED
    assert targeted.classify(run(("t0", "t1"), "pass", "skip")) == targeted.SKIPPED
    assert targeted.classify(run((), code=5)) == targeted.NO_MATCH
    assert targeted.classify(run((), errors=1, code=2)) == targeted.COLLECTION_ERROR
    assert targeted.classify(run(("t0",), code=-11)) == targeted.FAILED  # died inside the test (SIGSEGV)
    assert targeted.classify(targeted.TargetedRun("", (), (), (), 127)) == targeted.COLLECTION_ERROR


def test_mined_source_reads_the_mine_block(tmp_path: Path) -> None:
    assert iteration.mined_source(tmp_path) is None
    iteration.notes.upsert_block(
        tmp_path / "notes.md", "mine-findings", "- Source: 20261124T120001Z_x + 20261124T120009Z_y; 8 processes\n"
    )
    assert iteration.mined_source(tmp_path / "elsewhere", tmp_path) == "20261124T120001Z_x + 20261124T120009Z_y"


def test_targeted_module_runs_the_repo_test_with_pytest(red_repo: tuple[Any, Path], tmp_path: Path) -> None:
    repo, python = red_repo

    def targeted_cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "armjit.cinderx.targeted", *args]
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)

    red = targeted_cli("-k", TEST, "--repo", str(repo.path), "--python", str(python))
    assert red.returncode == 1, red.stderr
    assert red.stdout.strip().splitlines()[-1] == f"failed (-k {TEST}, pytest)"
    assert "fast_path is 'off'" in red.stdout and "1 failed, 3 deselected" in red.stdout
    set_fast_path(repo, "on")
    install_build(repo.path, python, tmp_path / "dist")
    green = targeted_cli("-k", TEST, "--repo", str(repo.path), "--python", str(python))
    assert green.returncode == 0 and green.stdout.strip().splitlines()[-1] == f"passed (-k {TEST}, pytest)"
    none = targeted_cli("-k", "no_such_test", "--repo", str(repo.path), "--python", str(python))
    assert none.returncode == 5 and none.stdout.strip().splitlines()[-1].startswith("no-match")
    missing = targeted_cli("-k", TEST, "--repo", str(repo.path), "--test-file", "nope.py")
    assert missing.returncode == 2 and missing.stderr.strip() == f"armjit: no test file {repo.path / 'nope.py'}"


def test_handoff_commit_checks_come_before_any_write(target_repo: Any, tmp_path: Path) -> None:
    target_repo.git("checkout", "-q", "main")
    wrong_branch = invoke("handoff", "--commit", "-m", "msg", *common(target_repo, tmp_path))
    assert wrong_branch.returncode == 2 and "the checkout is on main, not arm-jit" in one_line_error(wrong_branch)
    target_repo.git("checkout", "-q", "arm-jit")
    no_message = invoke("handoff", "--commit", *common(target_repo, tmp_path))
    assert no_message.returncode == 2 and "--commit needs a message" in one_line_error(no_message)
    assert target_repo.git("status", "--porcelain") == ""  # no notes written


def test_a_crash_inside_the_test_is_red(red_repo: tuple[Any, Path], tmp_path: Path) -> None:
    repo, python = red_repo
    test_file = repo.path / targeted.DEFAULT_TEST_FILE
    text = test_file.read_text().replace(
        "\n\nif __name__",
        "\n\n    def test_deopt_crash(self) -> None:\n"
        "        import signal\n        os.kill(os.getpid(), signal.SIGSEGV)\n\n\nif __name__",
    )
    repo.commit_file(targeted.DEFAULT_TEST_FILE, text, "test: deopt of a compiled frame (crashes today)")
    red = invoke("red", "-k", "test_deopt_crash", *common(repo, tmp_path, python))
    assert red.returncode == 0, red.stderr
    assert "the interpreter died with SIGSEGV inside the test" in red.stdout
    (record,) = manifests(tmp_path, "red")
    assert record["targeted"]["verdict"] == "failed" and record["targeted"]["tests"] == []
    assert record["targeted"]["selected"][0].endswith("::test_deopt_crash")
