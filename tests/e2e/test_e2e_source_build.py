"""CinderX built from source on the e2e host, offline, then red/green on a one-line C++ change.

The checkout is the real cinderx sdist committed into git (``cinderx_tree``); the host is the
Debian sid chroot with the toolchain, whose ccache directory outlives the run (the cold build is
paid once per cache). The tests run in file order and share the host's work dir: the red/green
test's builds are incremental on the baseline's CMake tree.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import run_invoke

from .cinderx_tree import BRANCH, RUNTIME_TEST_NAME, git, make_upstream_like

pytestmark = pytest.mark.e2e
WORKDIR = "/root/work/cinderx"  # fixed: ccache's hashes include the build's directory
GEN_ASM = "cinderx/Jit/codegen/gen_asm.cpp"
# getCompiledFunctionStackSize() is what cinderx.jit.get_compiled_stack_size() returns.
GOOD_LINE = "  return env_.stack_frame_size;\n"
BAD_LINE = "  return env_.stack_frame_size + 8;\n"


def host_args(host: Any, checkout: Path, deps: Path, tmp_path: Path) -> list[str]:
    return [
        "--host", host.target,
        "--key", str(host.key_path),
        "--known-hosts", str(host.known_hosts_path),
        "--repo", str(checkout),
        "--branch", BRANCH,
        "--no-sync-upstream",
        "--build", "source",
        "--deps-dir", str(deps),
        "--parallel", "2",
        "--remote-python", "/usr/bin/python3.14",
        "--remote-workdir", WORKDIR,
        "--reports", str(tmp_path / "reports"),
        "--notes-dir", str(tmp_path / "notes"),
    ]  # fmt: skip


def record(tmp_path: Path, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "reports" / "runs" / run_id / "run.json").read_text())
    return data


def on_host(host: Any, command: str) -> str:
    done = subprocess.run(host.ssh_argv(command), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_baseline_builds_cinderx_from_source_offline(
    cinderx_host: Any, cinderx_checkout: Path, cinderx_deps: Path, tmp_path: Path
) -> None:
    args = host_args(cinderx_host, cinderx_checkout, cinderx_deps, tmp_path)
    bench = ["--modes", "jitlist,autojit", "--bench", "richards", "--bench-runner", "pyperf"]
    bench += ["--processes", "2", "--values", "2", "--warmups", "1", "--runtime-test", RUNTIME_TEST_NAME]
    result = run_invoke("baseline", *args, *bench, timeout=5400)
    assert result.returncode == 0, result.stderr[-4000:]
    (run,) = list((tmp_path / "reports" / "runs").iterdir())
    m = record(tmp_path, run.name)
    steps = {s["name"]: s for s in m["steps"]}
    for name in ("deploy", "build-wheel", "driver-venv", "runtime-tests", "jit-smoke", "jit-gate"):
        assert steps[name]["status"] == "ok", steps[name]
    # built offline from the shipped FetchContent sources, through ccache, the disassembler off
    build = m["build"]
    assert sorted(build["deps"]["sources"]) == ["fmt", "parallel-hashmap", "usdt"]
    assert build["env"]["CMAKE_TOOLCHAIN_FILE"].endswith("armjit-fetchcontent.cmake")
    assert build["env"]["ENABLE_DISASSEMBLER"] == "0" and "ENABLE_CCACHE" not in build["env"]
    assert build["ccache"]["via"].startswith("CMAKE_C_COMPILER_LAUNCHER")
    assert build["ninja_steps"] and build["ninja_steps"] > 200 and build["seconds"] > 0
    assert build["objects_compiled"] > 200 and build["ccache"]["hits"] + build["ccache"]["misses"] >= 200
    assert m["remote"]["wheel"].endswith(".whl") and "cinderx-2026.11.2.0" in m["remote"]["wheel"]
    # the driver venv runs the extension from this wheel, not a released one
    check = (
        "import hashlib, zipfile, sys, _cinderx; w = zipfile.ZipFile(sys.argv[1]); "
        "n = [x for x in w.namelist() if x.startswith('_cinderx') and x.endswith('.so')][0]; "
        "h = lambda b: hashlib.sha256(b).hexdigest(); "
        "print(h(w.read(n)) == h(open(_cinderx.__file__, 'rb').read()))"
    )
    venv_python = f"{m['remote']['driver_venv']}/bin/python"
    assert on_host(cinderx_host, f'{venv_python} -c "{check}" {m["remote"]["wheel"]}').strip() == "True"
    # the runtime test passed on the source build, and the JIT compiled __main__ in both modes
    assert steps["runtime-tests"]["detail"] == "2 pass"
    for mode in ("jitlist", "autojit"):
        assert m["modes"][mode]["compiles"]["main"] > 0, mode
    # progress during the build was ninja's counter, never a stale warning. A progress line comes
    # every 15 s off a terminal: a build that ccache answers whole may end before the first one.
    running = [ln for ln in result.stderr.splitlines() if re.match(r"\s+build-wheel\s+running", ln)]
    assert running or steps["build-wheel"]["seconds"] < 60, steps["build-wheel"]
    assert all(re.search(r"running\s+\d+s\s+(\[\d+/\d+\]|\S)", ln) for ln in running)
    assert not running or any(re.search(r"\[\d+/\d+\]", ln) for ln in running), running[-3:]
    assert not any("warning" in ln for ln in running), [ln for ln in running if "warning" in ln][:3]


def _targeted(step: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    return run_invoke(
        step, "-k", "test_stack_size", "--test-file", RUNTIME_TEST_NAME, "--deploy", "--json",
        "--bench-runner", "pyperf",  # the bench venv the baseline made (not pyperformance's): no new venv
        *args, timeout=3600,
    )  # fmt: skip


def test_red_green_on_a_one_line_cpp_change(
    cinderx_host: Any, cinderx_checkout: Path, cinderx_deps: Path, tmp_path: Path
) -> None:
    args = host_args(cinderx_host, cinderx_checkout, cinderx_deps, tmp_path)
    source = cinderx_checkout / GEN_ASM
    text = source.read_text()
    assert text.count(GOOD_LINE) == 1
    source.write_text(text.replace(GOOD_LINE, BAD_LINE))
    git(cinderx_checkout, "commit", "-q", "-am", "codegen: count the return address in the frame size")
    try:
        red = _targeted("red", args)
    finally:
        git(cinderx_checkout, "revert", "--no-edit", "HEAD")
    assert red.returncode == 0, red.stdout[-2000:] + red.stderr[-3000:]
    red_json = json.loads(red.stdout)
    assert red_json["verdict"] == "failed" and "is not 16-byte aligned" in red_json["excerpt"], red_json
    green = _targeted("green", args)
    assert green.returncode == 0, green.stdout[-2000:] + green.stderr[-3000:]
    assert json.loads(green.stdout)["verdict"] == "passed"
    # each run rebuilt incrementally after the deploy, and its record says how long that took
    for out in (red, green):
        rg = record(tmp_path, json.loads(out.stdout)["run_id"])
        built = rg["deploy_build"]
        assert built["seconds"] > 0 and 0 < built["ninja_steps"] < 200, built
        deploy = record(tmp_path, rg["deploy_run"])
        assert {s["name"]: s["status"] for s in deploy["steps"]}["build-wheel"] == "ok"


def test_offline_build_without_deps_names_the_download_failure(
    cinderx_host: Any, cinderx_checkout: Path, cinderx_deps: Path, tmp_path: Path
) -> None:
    """The host cannot reach GitHub: without --deps-dir, FetchContent's download fails first and CMake
    goes on for a while; the step line and the record name the download, not the log's last line."""
    args = host_args(cinderx_host, cinderx_checkout, cinderx_deps, tmp_path)
    at = args.index("--deps-dir")
    del args[at : at + 2]
    args[args.index("--remote-workdir") + 1] = "/root/work/cinderx-online"  # not the incremental tree
    result = run_invoke("baseline", *args, "--skip-pyperf", timeout=1800)
    assert result.returncode == 1, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("armjit: step build-wheel: the build failed (exit 1): "), last
    assert re.search(r"(downloading '[^']+' failed|Failed to clone repository|unable to access)", last), last
    (run,) = list((tmp_path / "reports" / "runs").iterdir())
    m = record(tmp_path, run.name)
    assert m["status"] == "failed" and m["failure"]["step"] == "build-wheel"
    assert m["failure"]["cause"] in last and "Build step for" not in m["failure"]["cause"]


def _build_only(args: list[str], tmp_path: Path) -> dict[str, Any]:
    before = set((tmp_path / "reports" / "runs").glob("*"))
    result = run_invoke("baseline", *args, "--skip-pyperf", "--bench-runner", "pyperf", timeout=3600)
    assert result.returncode == 0, result.stderr[-4000:]
    (run,) = set((tmp_path / "reports" / "runs").glob("*")) - before
    return record(tmp_path, run.name)


def test_a_one_line_change_on_an_upstream_like_tree_recompiles_a_few_objects(
    cinderx_host: Any, cinderx_checkout: Path, cinderx_deps: Path, tmp_path: Path
) -> None:
    """Upstream main's build (no ENABLE_CCACHE; opcode headers rewritten by every configure, which
    setup.py runs before every build) made each one-line change recompile ~70 objects. Through
    armjit's toolchain file, ccache is CMake's launcher and the rewritten headers keep their
    mtimes: the change recompiles the changed file."""
    args = host_args(cinderx_host, cinderx_checkout, cinderx_deps, tmp_path)
    start = git(cinderx_checkout, "rev-parse", "HEAD")
    try:
        make_upstream_like(cinderx_checkout)
        first = _build_only(args, tmp_path)["build"]
        assert "ENABLE_CCACHE" not in first["env"] and first["ccache"]["path"].endswith("ccache")
        # the kept tree really compiles through ccache: its rules name the launcher
        rules = on_host(cinderx_host, f"cat {WORKDIR}/scratch/*/build.ninja {WORKDIR}/scratch/*/CMakeFiles/rules.ninja")
        assert f"{first['ccache']['path']} " in rules
        source = cinderx_checkout / GEN_ASM
        text = source.read_text()
        # a value no earlier run compiled: ccache cannot answer for gen_asm.cpp
        changed = f"  return env_.stack_frame_size + 0 * {int(time.time() * 1000) % 1_000_000_007};\n"
        source.write_text(text.replace(GOOD_LINE, changed))
        git(cinderx_checkout, "commit", "-q", "-am", "codegen: a one-line change")
        second = _build_only(args, tmp_path)["build"]
    finally:
        git(cinderx_checkout, "revert", "--no-edit", f"{start}..HEAD")
    # configure ran and rewrote the four opcode headers with the same content; they kept their mtimes
    assert second["generated_kept"] is not None and second["generated_kept"] >= 4, second
    objects = second["objects"]
    assert any(o.endswith("/gen_asm.cpp.o") for o in objects), objects
    assert second["objects_compiled"] <= 3 and second["ninja_steps"] <= 8, second
    assert second["ccache"]["misses"] >= 1  # gen_asm.cpp was compiled, not answered from the cache
