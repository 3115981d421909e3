"""The test fixtures are real: the sshd answers over SSH, the target repo builds and benchmarks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.resources import files
from pathlib import Path

import fabric
import paramiko
import pyperf
import pytest
from conftest import TargetRepo, make_target_repo
from sshd import SshdHost, descendants

from armjit.cinderx.modes import inherit_environ, jit_mode, jitlist_text
from armjit.jitlog import read_log


def _server_key(host: SshdHost) -> paramiko.PKey:
    with host.fabric_connection() as conn:
        conn.open()
        key: paramiko.PKey = conn.transport.get_remote_server_key()
        return key


def test_sshd_runs_a_command_with_the_key_and_an_empty_home(
    shared_sshd: SshdHost, request: pytest.FixtureRequest
) -> None:
    assert request.node.get_closest_marker("ssh") is not None
    with shared_sshd.fabric_connection() as conn:
        result = conn.run("echo ready; echo $HOME; ls -A ~ | wc -l", hide=True)
    lines = result.stdout.split()
    assert lines[0] == "ready"
    assert lines[1] == str(shared_sshd.home) and shared_sshd.home.is_dir()
    assert shared_sshd.known_hosts_path.read_bytes() == b""
    assert f"{shared_sshd.host_key_line().split()[2]}" == _server_key(shared_sshd).get_base64()


def test_sshd_refuses_another_key(shared_sshd: SshdHost, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    conn = fabric.Connection(
        shared_sshd.host,
        port=shared_sshd.port,
        user=shared_sshd.user,
        connect_timeout=5,
        connect_kwargs={"key_filename": str(other), "allow_agent": False, "look_for_keys": False},
        config=fabric.Config(overrides={"load_ssh_configs": False}),
    )
    with pytest.raises(paramiko.AuthenticationException):
        conn.open()
    conn.close()


def test_sftp_and_ssh_config_alias(shared_sshd: SshdHost, tmp_path: Path) -> None:
    cfg = shared_sshd.write_ssh_config("armtest", tmp_path / "ssh_config")
    local = tmp_path / "payload.bin"
    local.write_bytes(os.urandom(4096))
    remote = shared_sshd.home / "payload.bin"
    config = fabric.Config(runtime_ssh_path=str(cfg), overrides={"run": {"in_stream": False}})
    with fabric.Connection("armtest", config=config, connect_kwargs={"allow_agent": False}) as conn:
        assert (conn.host, conn.port, conn.user) == (shared_sshd.host, shared_sshd.port, shared_sshd.user)
        conn.put(str(local), str(remote))
        conn.get(str(remote), str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == local.read_bytes()
    remote.unlink()


def test_stop_start_keeps_the_port_and_kills_open_connections(sshd_host: SshdHost) -> None:
    conn = sshd_host.fabric_connection()
    conn.run("true", hide=True)
    listener = sshd_host.pid
    assert listener is not None
    children = descendants(listener)
    assert children, "an open connection has its own sshd child"

    sshd_host.stop()
    assert not sshd_host.running
    for pid in [listener, *children]:
        assert not _alive(pid), f"process {pid} survived stop()"
    with pytest.raises(paramiko.ssh_exception.NoValidConnectionsError):
        sshd_host.fabric_connection().open()
    conn.close()

    port = sshd_host.port
    sshd_host.start()
    assert sshd_host.port == port
    with sshd_host.fabric_connection() as again:
        assert again.run("echo back", hide=True).stdout == "back\n"


def test_regenerate_host_key_changes_what_the_server_presents(sshd_host: SshdHost) -> None:
    before = _server_key(sshd_host)
    old_line = sshd_host.host_key_line()
    sshd_host.regenerate_host_key()
    after = _server_key(sshd_host)
    assert before.get_base64() != after.get_base64()
    assert sshd_host.host_key_line() != old_line
    assert sshd_host.host_key_line().split()[2] == after.get_base64()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; init reaps it


# --- the fixture target repository ------------------------------------------------------------


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False
    )


def _build_and_install(repo: TargetRepo, site: Path, env: dict[str, str] | None = None) -> Path:
    """Build the wheel the way the pipeline does without `build` (pip, isolated) and install it."""
    dist = repo.path / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    # PIP_NO_INDEX proves the isolated build needs nothing from the network.
    built = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-w",
        dist,
        ".",
        cwd=repo.path,
        env={"PIP_NO_INDEX": "1", **(env or {})},
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("cinderx-*.whl")
    installed = _run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--upgrade",
        "--target",
        site,
        wheel,
        cwd=repo.path,
        env={"PIP_NO_INDEX": "1"},
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return wheel


def _gate(repo: TargetRepo, site: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    test_file = repo.path / "cinderx/PythonLib/test_cinderx/test_arm_runtime.py"
    return _run(sys.executable, test_file, "-v", cwd=repo.path, env={"PYTHONPATH": str(site), **(env or {})})


def test_target_repo_has_upstream_and_work_branches(target_repo: TargetRepo) -> None:
    repo = target_repo
    assert repo.git("branch", "--show-current") == "arm-jit"
    assert repo.git("status", "--porcelain") == ""
    assert repo.head("main") == repo.head("origin/main") == repo.git("rev-parse", "main@{upstream}")
    assert repo.git("rev-list", "--count", "main..arm-jit") == "1"
    changed = repo.git("diff", "--name-only", "main...arm-jit").splitlines()
    assert changed == ["cinderx/Jit/codegen_arm64.cpp", "cinderx/StaticPython/classloader.c"]
    assert repo.git("config", "user.email") == "fixture@example.invalid"
    assert (repo.path / "cinderx/PythonLib/test_cinderx/test_arm_runtime.py").is_file()
    assert (repo.path / "bench/bm_fixture.py").is_file()

    # Upstream moves on; the old workflow's sync (fetch, ff-only, rebase) works offline against origin.
    upstream = repo.push_upstream("cinderx/Jit/pyjit.cpp", "// upstream change\n", "upstream: pyjit")
    repo.git("fetch", "-q", "origin")
    repo.git("checkout", "-q", "main")
    repo.git("pull", "-q", "--ff-only")
    repo.git("checkout", "-q", "arm-jit")
    repo.git("rebase", "-q", "main")
    assert repo.head("main") == upstream
    assert repo.git("merge-base", "main", "arm-jit") == upstream
    assert repo.git("rev-list", "--count", "main..arm-jit") == "1"


def test_target_builds_offline_and_its_test_gate_passes_from_the_installed_wheel(
    target_repo: TargetRepo, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    wheel = _build_and_install(target_repo, site, env={"CMAKE_BUILD_PARALLEL_LEVEL": "3"})
    assert wheel.name == "cinderx-2026.11.0.dev0-py3-none-any.whl"
    info = (site / "cinderx/_build_info.py").read_text()
    assert "BUILD_PARALLEL = '3'" in info  # the build environment reached the build

    gate = _gate(target_repo, site)
    assert gate.returncode == 0, gate.stderr
    assert "Ran 4 tests" in gate.stderr and "\nOK" in gate.stderr
    assert "test_installed_build_matches_checkout" in gate.stderr


@pytest.mark.slow
def test_target_gate_goes_red_and_green(target_repo: TargetRepo, tmp_path: Path) -> None:
    site = tmp_path / "site"
    _build_and_install(target_repo, site)
    source = target_repo.path / "cinderx/Jit/codegen_arm64.cpp"
    original = source.read_text()

    # An env toggle fails the named test only.
    toggled = _gate(target_repo, site, env={"CINDERX_FIXTURE_FAIL": "stub_alignment"})
    assert toggled.returncode == 1
    assert "FAIL: test_aarch64_call_stub_alignment" in toggled.stderr and "failures=1" in toggled.stderr

    # An edit that is not rebuilt: the gate sees a stale wheel.
    source.write_text(original.replace("fast_path=on", "fast_path=off"))
    stale = _gate(target_repo, site)
    assert "FAIL: test_installed_build_matches_checkout" in stale.stderr and "failures=1" in stale.stderr

    # Rebuilt: red on the feature test, then green after the fix.
    _build_and_install(target_repo, site)
    red = _gate(target_repo, site)
    assert red.returncode == 1 and "FAIL: test_arm64_fast_path" in red.stderr and "failures=1" in red.stderr
    source.write_text(original)
    _build_and_install(target_repo, site)
    assert _gate(target_repo, site).returncode == 0


def test_target_compile_error_fails_the_build(target_repo: TargetRepo) -> None:
    source = target_repo.path / "cinderx/StaticPython/classloader.c"
    text = source.read_text()
    source.write_text(text + "#error unsupported relocation\n")
    line = len(text.splitlines()) + 1
    built = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-w",
        "dist",
        ".",
        cwd=target_repo.path,
        env={"PIP_NO_INDEX": "1"},
    )
    assert built.returncode != 0
    assert f"cinderx/StaticPython/classloader.c:{line}: error: #error unsupported relocation" in built.stderr
    assert not list((target_repo.path / "dist").glob("*.whl"))


def test_target_benchmark_writes_a_valid_pyperf_json(target_repo: TargetRepo, tmp_path: Path) -> None:
    out = tmp_path / "richards.json"
    ran = _run(
        sys.executable,
        "bench/bm_fixture.py",
        "--processes",
        "2",
        "--values",
        "2",
        "--warmups",
        "1",
        "--inherit-environ",
        "PYTHONJITAUTO,PYTHONJITLOGFILE",
        "-o",
        out,
        "--quiet",
        cwd=target_repo.path,
        env={"PYTHONJITAUTO": "50"},
    )
    assert ran.returncode == 0, ran.stderr
    suite = pyperf.BenchmarkSuite.load(str(out))
    assert suite.get_benchmark_names() == ["richards"]
    bench = suite.get_benchmark("richards")
    values = bench.get_values()
    assert len(values) == 4 and all(0 < v < 1 for v in values)  # 2 processes x 2 values, seconds per call
    assert bench.get_metadata()["description"].startswith("richards-like")


# --- the stand-in JIT (cinderx.jit of the fixture) ----------------------------------------------


def _bench_venv(repo: TargetRepo, root: Path) -> Path:
    """A venv shaped like the pipeline's benchmark venv: the fixture wheel, armjit's .pth JIT hook,
    and pyperf (from this interpreter's site-packages, through a .pth line: no network)."""
    venv = root / "bench-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root).stdout.strip()
    )
    (purelib / "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _build_and_install(repo, purelib)
    hook = files("armjit.cinderx") / "resources" / "armjit_jit_hook.py"
    (purelib / "armjit_jit_hook.py").write_text(hook.read_text())
    (purelib / "armjit_jit_hook.pth").write_text("import armjit_jit_hook\n")
    return python


@pytest.fixture(scope="module")
def bench_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[TargetRepo, Path]:
    """One fixture checkout and its benchmark venv, shared by the tests that only read them."""
    root = tmp_path_factory.mktemp("bench-venv")
    repo = make_target_repo(root)
    return repo, _bench_venv(repo, root)


def test_stand_in_jit_passes_the_jit_smoke(bench_venv: tuple[TargetRepo, Path], tmp_path: Path) -> None:
    _, python = bench_venv
    smoke = files("armjit.cinderx") / "resources" / "jit_smoke.py"
    ran = _run(python, smoke, cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.startswith("jit-effective-ok compiled_size ")


@pytest.mark.parametrize("inherit", [True, False], ids=["inherit-environ", "env-not-inherited"])
def test_stand_in_jit_logs_per_worker_only_when_the_mode_env_reaches_it(
    bench_venv: tuple[TargetRepo, Path], tmp_path: Path, inherit: bool
) -> None:
    target_repo, python = bench_venv
    logs = tmp_path / "logs"
    logs.mkdir()
    jitlist = tmp_path / "jitlist.txt"
    mode = jit_mode("autojit", log_dir=str(logs), jitlist_path=str(jitlist), autojit=20, jitlist_filter=True)
    jitlist.write_text(jitlist_text(mode.jitlist))
    args = ["--processes", "2", "--values", "1", "--warmups", "1", "--loops", "2", "-o", tmp_path / "a.json"]
    if inherit:
        args += ["--inherit-environ", inherit_environ(mode)]
    ran = _run(python, "bench/bm_fixture.py", *args, "--quiet", cwd=target_repo.path, env=mode.env)
    assert ran.returncode == 0, ran.stderr

    parsed = [read_log(path) for path in sorted(logs.glob("jit_*.log"))]
    workers = [log for log in parsed if log.compiled_main]
    assert all(log.thresholds.calls == 20 for log in parsed)  # the parent always has the env
    if inherit:
        assert len(workers) == 2  # one log per worker process, each with __main__ compiles
        assert all(log.compiled == log.compiled_main for log in workers)  # the jitlist filter held
    else:
        assert workers == [] and len(parsed) == 1  # pyperf stripped the env: only the parent logged
