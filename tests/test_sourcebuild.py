"""Source builds: the build environment, the offline toolchain file (with a real CMake), the build
venv's requirements, and shipping --deps-dir to a real host once."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from armjit.cinderx import sourcebuild
from armjit.errors import UsageError
from armjit.seams.hosts import SshHost, SshTarget
from armjit.seams.sync.deps import local_archives, ship_deps

CINDERX_PYPROJECT = """
[build-system]
requires = ["setuptools >= 77.0.3"]
build-backend = "setuptools.build_meta"

[project]
name = "cinderx"
"""


def test_build_plan_offline_sets_the_toolchain_and_turns_the_disassembler_off() -> None:
    plan = sourcebuild.build_plan(parallel=2, build_env=(), toolchain="/d/tc.cmake", ccache=True)
    assert plan.env == {
        "CMAKE_BUILD_PARALLEL_LEVEL": "2",
        "ENABLE_CCACHE": "1",
        "CMAKE_TOOLCHAIN_FILE": "/d/tc.cmake",
        "ENABLE_DISASSEMBLER": "0",
    }
    assert plan.chosen == plan.env


def test_build_plan_the_users_values_win_and_online_builds_keep_the_disassembler() -> None:
    plan = sourcebuild.build_plan(
        parallel=1, build_env=("ENABLE_DISASSEMBLER=1", "CC=clang"), toolchain="/d/tc.cmake", ccache=False
    )
    assert plan.env["ENABLE_DISASSEMBLER"] == "1" and plan.env["CC"] == "clang"
    assert "ENABLE_DISASSEMBLER" not in plan.chosen and "ENABLE_CCACHE" not in plan.env
    online = sourcebuild.build_plan(parallel=1, build_env=(), toolchain=None, ccache=True)
    assert "ENABLE_DISASSEMBLER" not in online.env and "CMAKE_TOOLCHAIN_FILE" not in online.env


def test_build_requires_follow_the_trees_build_system() -> None:
    assert sourcebuild.build_requires(CINDERX_PYPROJECT) == ("setuptools >= 77.0.3",)
    assert sourcebuild.build_requires('[build-system]\nrequires = []\nbuild-backend = "x"\n') == ()
    assert sourcebuild.build_requires(None) == sourcebuild.DEFAULT_REQUIRES
    assert sourcebuild.build_requires("[project]\nname = 'x'\n") == sourcebuild.DEFAULT_REQUIRES
    assert sourcebuild.build_requires("not toml [") == sourcebuild.DEFAULT_REQUIRES


def test_ninja_steps_is_the_last_counter() -> None:
    out = "  [1/73] Building CXX object a.o\n  [72/73] Building CXX object b.o\n  [73/73] Linking CXX shared library\n"
    assert sourcebuild.ninja_steps(out) == 73
    assert sourcebuild.ninja_steps("no ninja here\n") is None


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_toolchain_file_makes_fetchcontent_use_local_sources_offline(tmp_path: Path) -> None:
    """CinderX's FetchContent declarations, with unreachable URLs: configuring succeeds only if the
    toolchain file (through the CMAKE_TOOLCHAIN_FILE environment variable) points them at local dirs."""
    sources = {}
    for name in ("fmt", "parallel-hashmap"):
        src = tmp_path / "deps" / "src" / name
        src.mkdir(parents=True)
        (src / "CMakeLists.txt").write_text(f'message(STATUS "using local {name}")\n')
        sources[name] = str(src)
    project = tmp_path / "project"
    project.mkdir()
    (project / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.21)\nproject(p NONE)\ninclude(FetchContent)\n"
        "FetchContent_Declare(fmt GIT_REPOSITORY https://unreachable.invalid/fmt GIT_TAG 12.1.0)\n"
        "FetchContent_Declare(parallel-hashmap GIT_REPOSITORY https://unreachable.invalid/phmap GIT_TAG 896f1a03)\n"
        "FetchContent_MakeAvailable(fmt parallel-hashmap)\n"
    )
    toolchain = tmp_path / "deps" / sourcebuild.TOOLCHAIN_NAME
    toolchain.write_text(sourcebuild.toolchain_text(sources))
    env = {**os.environ, "CMAKE_TOOLCHAIN_FILE": str(toolchain)}
    done = subprocess.run(
        ["cmake", "-S", str(project), "-B", str(tmp_path / "b")], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "using local fmt" in done.stdout and "using local parallel-hashmap" in done.stdout
    # and without it, the same project cannot configure here (the URLs are unreachable)
    env.pop("CMAKE_TOOLCHAIN_FILE")
    offline = subprocess.run(
        ["cmake", "-S", str(project), "-B", str(tmp_path / "c")], env=env, capture_output=True, text=True, check=False
    )
    assert offline.returncode != 0


def _archive(directory: Path, name: str, top: str, text: str) -> Path:
    src = directory / "staging" / top
    src.mkdir(parents=True, exist_ok=True)
    (src / "CMakeLists.txt").write_text(text)
    path = directory / name
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src, arcname=top)
    shutil.rmtree(directory / "staging")
    return path


@pytest.fixture
def deps_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "vendor"
    directory.mkdir()
    _archive(directory, "fmt-12.1.0.tar.gz", "fmt", "# fmt\n")
    _archive(directory, "usdt-f4ea2f52.tar.gz", "usdt", "# usdt\n")
    return directory


def test_local_archives_are_checked_against_sha256sums(deps_dir: Path, tmp_path: Path) -> None:
    archives = local_archives(deps_dir)
    assert sorted(archives) == ["fmt-12.1.0.tar.gz", "usdt-f4ea2f52.tar.gz"]
    sums = f"{archives['fmt-12.1.0.tar.gz']}  fmt-12.1.0.tar.gz\n{'0' * 64}  usdt-f4ea2f52.tar.gz\n"
    (deps_dir / "SHA256SUMS").write_text(sums)
    with pytest.raises(UsageError, match=r"usdt-f4ea2f52\.tar\.gz does not match its SHA256SUMS"):
        local_archives(deps_dir)
    with pytest.raises(UsageError, match="no such directory"):
        local_archives(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no source archives"):
        local_archives(tmp_path / "empty")


@pytest.fixture
def ssh(shared_sshd: Any) -> Iterator[SshHost]:
    target = SshTarget(
        host=shared_sshd.host,
        user=shared_sshd.user,
        port=shared_sshd.port,
        key=str(shared_sshd.key_path),
        known_hosts=shared_sshd.known_hosts_path,
        strict=False,
        ssh_config=None,
        connect_timeout=10,
    )
    with contextlib.closing(SshHost(target)) as host:
        yield host


def test_deps_are_shipped_once_and_unpacked(ssh: SshHost, deps_dir: Path, tmp_path: Path) -> None:
    remote = tmp_path / "host side" / "armjit-deps"
    first = ship_deps(ssh, deps_dir, str(remote), home=str(Path.home()))
    assert first.sent and sorted(first.sources) == ["fmt", "usdt"]
    assert (Path(first.sources["fmt"]) / "CMakeLists.txt").read_text() == "# fmt\n"
    unpacked = (remote / "src" / "usdt" / "CMakeLists.txt").stat().st_mtime_ns
    again = ship_deps(ssh, deps_dir, str(remote), home=str(Path.home()))
    assert not again.sent and again.sources == first.sources
    assert (remote / "src" / "usdt" / "CMakeLists.txt").stat().st_mtime_ns == unpacked  # not unpacked again
    # a changed archive is shipped again, and a removed one is gone from the host
    (deps_dir / "usdt-f4ea2f52.tar.gz").unlink()
    _archive(deps_dir, "fmt-12.1.0.tar.gz", "fmt", "# fmt, patched\n")
    third = ship_deps(ssh, deps_dir, str(remote), home=str(Path.home()))
    assert third.sent and sorted(third.sources) == ["fmt"]
    assert (remote / "src" / "fmt" / "CMakeLists.txt").read_text() == "# fmt, patched\n"
    assert not (remote / "archives" / "usdt-f4ea2f52.tar.gz").exists()


def test_deps_are_never_shipped_into_a_guarded_directory(deps_dir: Path, tmp_path: Path) -> None:
    # ship_deps replaces src/ and archives/ under its directory: the path guard comes first, so
    # `/`, a system directory and a one-level path are refused before anything is removed.
    from armjit.seams.hosts import LocalHost

    home = tmp_path / "home"
    for bad in ("/", "/usr", "/x"):
        with pytest.raises(UsageError):
            ship_deps(LocalHost(), deps_dir, bad, home=str(home))
