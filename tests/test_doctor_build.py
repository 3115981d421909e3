"""``invoke doctor`` checks what a CinderX source build needs, each with what to do.

Real hosts: this machine (with a PATH that has every tool but the compilers) and the sshd fixture
on 127.0.0.1. A real git checkout stands in for CinderX: its CMakeLists.txt names the cmake it
needs, and its top-level ``build/`` directory has no ``__init__.py``, as upstream's fbcode_builder
does, so ``import build`` passes inside the tree without pypa build. The FetchContent source the
host must reach is always on 127.0.0.1 (an HTTP server that answers, or a closed port).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import run_invoke

from armjit.config import Settings
from armjit.flows import doctor_build

COMPILERS = ("cc", "gcc", "c++", "g++", "clang", "clang++", "cpp")


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def checkout(root: Path, cmake_min: str = "3.21") -> Path:
    """A CinderX-shaped checkout on arm-jit: CMakeLists.txt and a build/ without __init__.py."""
    repo = root / "cinderx"
    (repo / "build" / "fbcode_builder").mkdir(parents=True)
    (repo / "build" / "fbcode_builder" / "getdeps.py").write_text("# fbcode_builder, not pypa build\n")
    (repo / "CMakeLists.txt").write_text(f"cmake_minimum_required(VERSION {cmake_min})\nproject(cinderx)\n")
    (repo / "setup.py").write_text("raise SystemExit('not built here')\n")
    subprocess.run(["git", "init", "-q", "-b", "arm-jit", str(repo)], check=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "cinderx")
    return repo


def bare_python(root: Path) -> str:
    """A venv's python with nothing installed: no pypa build."""
    venv = root / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return str(venv / "bin" / "python")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def answering_url() -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def path_without_compilers(root: Path) -> str:
    """A PATH directory with every program of the usual PATH except the C/C++ compilers."""
    farm = root / "bin-no-cc"
    farm.mkdir()
    for directory in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep):
        if not Path(directory).is_dir():
            continue
        for entry in Path(directory).iterdir():
            name = entry.name
            if name in COMPILERS or name.endswith(("-gcc", "-g++")) or name.startswith(("gcc-", "g++-", "clang")):
                continue
            if not (farm / name).exists() and os.access(entry, os.X_OK):
                (farm / name).symlink_to(entry)
    return str(farm)


def checks_of(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    data = json.loads(result.stdout)
    return {c["name"]: c for c in data["checks"] if c["group"] == "build"}


def test_local_path_without_a_compiler_and_the_build_namespace_trap(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    workdir = tmp_path / "work"
    shutil.copytree(repo, workdir, ignore=shutil.ignore_patterns(".git"))  # as a deploy leaves it
    python = bare_python(tmp_path)
    # The trap itself, on this machine: in the tree `import build` passes with no pypa build.
    assert subprocess.run([python, "-c", "import build"], cwd=workdir, check=False).returncode == 0
    env = {"PATH": path_without_compilers(tmp_path)}
    args = ["--host", "local", "--repo", str(repo), "--build", "source", "--remote-python", python]
    args += ["--remote-workdir", str(workdir), "--deps-url", f"http://127.0.0.1:{closed_port()}/", "--json"]
    result = run_invoke("doctor", *args, env=env, timeout=180)
    assert result.returncode == 1, result.stderr
    checks = checks_of(result)
    assert list(checks) == ["compilers", "cmake version", "Python.h", "pypa build", "ninja", "ccache", "deps"]
    compilers = checks["compilers"]
    assert compilers["status"] == "fail" and compilers["needed"]
    assert compilers["detail"].startswith("no C and no C++ compiler on PATH")
    assert "apt-get install gcc g++" in compilers["fix"] and "--build-env CC=" in compilers["fix"]
    build = checks["pypa build"]
    assert build["status"] == "fail" and "namespace package" in build["detail"]
    assert build["fix"] == f"{python} -m pip install build (pypa build, for python -m build)"
    deps = checks["deps"]
    assert deps["status"] == "fail" and "--deps-dir DIR" in deps["fix"] and "127.0.0.1" in deps["detail"]
    failing = json.loads(result.stdout)["failed_needed"]
    assert {"compilers", "pypa build", "deps"} <= set(failing)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("armjit: baseline would fail:") and "compilers: no C and no C++ compiler" in last
    # The table shows the failing line with its fix.
    table = run_invoke("doctor", *args[:-1], env=env, timeout=180)
    line = next(ln for ln in table.stdout.splitlines() if ln.startswith("build") and "compilers" in ln)
    assert "FAIL" in line and "apt-get install gcc g++" in line


def test_sshd_host_has_what_a_source_build_needs(shared_sshd: Any, tmp_path: Path, answering_url: str) -> None:
    repo = checkout(tmp_path)
    (repo / "build" / "__init__.py").write_text("")  # a tree without the trap
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "build is a package")
    args = [
        "--host", f"{shared_sshd.user}@{shared_sshd.host}:{shared_sshd.port}", "--key", str(shared_sshd.key_path),
        "--known-hosts", str(shared_sshd.known_hosts_path), "--remote-python", bare_python(tmp_path),
        "--remote-workdir", str(tmp_path / "remote" / "work"), "--repo", str(repo), "--build", "source",
        "--deps-url", answering_url, "--json",
    ]  # fmt: skip
    checks = checks_of(run_invoke("doctor", *args, timeout=180))
    for name in ("compilers", "cmake version", "Python.h", "deps"):
        assert checks[name]["status"] == "ok", checks[name]
    assert checks["cmake version"]["detail"].endswith("CMakeLists.txt asks for 3.21")
    assert checks["deps"]["detail"] == f"the host reaches {answering_url} (HTTP 200)"
    assert checks["pypa build"]["status"] == "warn" and not checks["pypa build"]["needed"]
    ccache = checks["ccache"]
    if shutil.which("ccache"):  # the sshd host is this machine: no kept build tree in a new work dir
        assert ccache["status"] == "ok" and ccache["detail"].endswith("no kept build tree yet"), ccache
    else:
        assert ccache["status"] == "warn" and ccache["fix"].startswith("apt-get install ccache")

    # The same host, a CMakeLists.txt asking for more than the host's cmake, and the dependencies unreachable.
    (repo / "CMakeLists.txt").write_text("cmake_minimum_required(VERSION 99.1)\n")
    git(repo, "commit", "-qam", "newer cmake")
    args[args.index(answering_url)] = f"http://127.0.0.1:{closed_port()}/"
    result = run_invoke("doctor", *args, timeout=180)
    checks = checks_of(result)
    assert checks["cmake version"]["status"] == "fail" and checks["cmake version"]["detail"].endswith("< 99.1")
    assert "install cmake 99.1+" in checks["cmake version"]["fix"]
    assert checks["deps"]["status"] == "fail" and result.returncode == 1


# -- the judgement, from plain data --------------------------------------------------------------

FACTS = {
    "cc": "cc /usr/bin/cc",
    "cxx": "c++ /usr/bin/c++",
    "cmake_version": "4.3.4",
    "ninja": "/usr/bin/ninja",
    "ccache": "",
    "python_h": "/usr/include/python3.14/Python.h",
    "build_origin": "/venv/lib/python3.14/site-packages/build/__init__.py",
    "deps": "ok HTTP 200",
}


def judged(facts: dict[str, str], **settings: Any) -> dict[str, Any]:
    s = Settings(**{"repo": "/src", "remote_python": "/usr/bin/python3.14", **settings})
    return {c.name: c for c in doctor_build.build_checks(facts, s, cmake_needs=(3, 21), tree_shadows_build=False)}


def test_build_checks_from_facts() -> None:
    ok = judged(FACTS)
    assert {n: c.status for n, c in ok.items()} == {
        "compilers": "ok", "cmake version": "ok", "Python.h": "ok", "pypa build": "ok",
        "ninja": "ok", "ccache": "warn", "deps": "ok",
    }  # fmt: skip
    assert not ok["ccache"].needed and ok["compilers"].needed
    headers = judged({**FACTS, "python_h": "missing /usr/include/python3.14"})["Python.h"]
    assert headers.status == "fail" and headers.fix.startswith("apt-get install python3.14-dev")
    assert judged({**FACTS, "cxx": ""})["compilers"].detail.startswith("no C++ compiler")
    assert judged({**FACTS, "cmake_version": "3.18.4"})["cmake version"].detail == "cmake 3.18.4 < 3.21"
    assert judged({**FACTS, "cmake_version": ""})["cmake version"].status == "fail"
    shadowed = judged({**FACTS, "build_origin": "", "build_in_tree": "namespace /root/work/build"})["pypa build"]
    assert shadowed.status == "fail" and shadowed.needed
    assert judged({**FACTS, "deps": ""})["deps"].status == "fail"
    for build in ("none", "pypi"):
        (only,) = judged(FACTS, build=build).values()
        assert only.status == "skip" and only.name == "source build"


def test_ccache_is_judged_by_the_kept_tree_and_the_last_build_not_by_being_installed() -> None:
    s = Settings(repo="/src", remote_python="/usr/bin/python3.14")

    def ccache(facts: dict[str, str], last: Any = None) -> Any:
        checks = doctor_build.build_checks(
            {**FACTS, **facts}, s, cmake_needs=None, tree_shadows_build=False, last_build=last
        )
        return next(c for c in checks if c.name == "ccache")

    ignored = ccache({"ccache": "/usr/bin/ccache", "ccache_tree": "without /w/scratch/temp.linux-x86_64-cpython-314"})
    assert ignored.status == "warn" and "does not compile through it" in ignored.detail
    assert "CMAKE_<LANG>_COMPILER_LAUNCHER" in ignored.fix
    build = {"ninja_steps": 4, "objects_compiled": 1, "ccache": {"path": "/usr/bin/ccache", "hits": 0, "misses": 1}}
    used = ccache({"ccache": "/usr/bin/ccache", "ccache_tree": "launcher /w/scratch/t"}, ("20261208-r1", build))
    assert used.status == "ok"
    assert used.detail == (
        "/usr/bin/ccache; the kept tree /w/scratch/t compiles through it; "
        "last build (run 20261208-r1): 4 ninja steps, 1 objects compiled, ccache 0 hits / 1 misses"
    )
    fresh = ccache({"ccache": "/usr/bin/ccache", "ccache_tree": "none"})
    assert fresh.status == "ok" and fresh.detail.endswith("no kept build tree yet")
    assert ccache({"ccache": ""}).status == "warn"


def test_cmake_required_reads_the_minimum() -> None:
    assert doctor_build.cmake_required("cmake_minimum_required(VERSION 3.21...3.31)\n") == (3, 21)
    assert doctor_build.cmake_required("CMAKE_MINIMUM_REQUIRED( VERSION 3.30.1 FATAL_ERROR)") == (3, 30, 1)
    assert doctor_build.cmake_required("project(x)") is None


def test_deps_dir_names_the_archives(tmp_path: Path) -> None:
    vendor = tmp_path / "deps"
    vendor.mkdir()
    (vendor / "fmt-12.1.0.tar.gz").write_bytes(b"x")
    settings = Settings(repo="/src")
    object.__setattr__(settings, "deps_dir", str(vendor))  # the source-build settings add this field
    check = doctor_build.build_checks(FACTS, settings, cmake_needs=None, tree_shadows_build=False)[-1]
    assert check.status == "fail" and check.detail.endswith("lacks parallel-hashmap, usdt")
    for name in ("parallel-hashmap-896f1a03.tar.gz", "usdt-f4ea2f52.tar.gz"):
        (vendor / name).write_bytes(b"x")
    check = doctor_build.build_checks({}, settings, cmake_needs=None, tree_shadows_build=False)[-1]
    assert check.status == "ok" and "fmt-12.1.0.tar.gz" in check.detail
    assert "deps" not in doctor_build.build_probe_command(settings, "/w")  # no network probe with --deps-dir
