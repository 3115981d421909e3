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

from armjit.cinderx import ccache_stats, sourcebuild
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


def test_build_plan_offline_turns_the_disassembler_off_and_ccache_shares_objects_across_dirs() -> None:
    plan = sourcebuild.build_plan(
        parallel=2, build_env=(), toolchain="/d/tc.cmake", offline=True, ccache=True, workdir="/w/cinderx"
    )
    assert plan.env == {
        "CMAKE_BUILD_PARALLEL_LEVEL": "2",
        "CMAKE_TOOLCHAIN_FILE": "/d/tc.cmake",
        "CCACHE_BASEDIR": "/w/cinderx",
        "CCACHE_NOHASHDIR": "1",
        "ENABLE_DISASSEMBLER": "0",
    }
    assert plan.chosen == plan.env
    # ccache comes in through the toolchain's launcher, never a project option a tree may lack
    assert "ENABLE_CCACHE" not in plan.env


def test_build_plan_the_users_values_win_and_online_builds_keep_the_disassembler() -> None:
    plan = sourcebuild.build_plan(
        parallel=1,
        build_env=("ENABLE_DISASSEMBLER=1", "CC=clang"),
        toolchain="/d/tc.cmake",
        offline=True,
        ccache=False,
        workdir="/w",
    )
    assert plan.env["ENABLE_DISASSEMBLER"] == "1" and plan.env["CC"] == "clang"
    assert "ENABLE_DISASSEMBLER" not in plan.chosen and "CCACHE_BASEDIR" not in plan.env
    online = sourcebuild.build_plan(
        parallel=1, build_env=(), toolchain="/d/tc.cmake", offline=False, ccache=True, workdir="/w"
    )
    assert "ENABLE_DISASSEMBLER" not in online.env and online.env["CMAKE_TOOLCHAIN_FILE"] == "/d/tc.cmake"
    # an empty CCACHE_* takes armjit's variable out (ccache reads CCACHE_NOHASHDIR= as true)
    unset = sourcebuild.build_plan(
        parallel=1,
        build_env=("CCACHE_NOHASHDIR=", "CCACHE_BASEDIR="),
        toolchain=None,
        offline=False,
        ccache=True,
        workdir="/w",
    )
    assert not any(k.startswith("CCACHE_") for k in unset.env), unset.env


def test_toolchain_text_names_the_launcher_and_the_keeper_and_needs_no_deps() -> None:
    text = sourcebuild.toolchain_text({}, launcher="/usr/bin/ccache", keep_generated="/d/keep.cmake")
    assert 'set(CMAKE_C_COMPILER_LAUNCHER "/usr/bin/ccache")' in text
    assert 'set(CMAKE_CXX_COMPILER_LAUNCHER "/usr/bin/ccache")' in text
    assert 'set(CMAKE_PROJECT_INCLUDE "/d/keep.cmake")' in text
    assert "FETCHCONTENT" not in text
    assert "LAUNCHER" not in sourcebuild.toolchain_text({"fmt": "/d/src/fmt"})


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


def test_compiled_objects_are_read_from_ninja_and_make_output() -> None:
    ninja = (
        "  [1/3] Building CXX object CMakeFiles/jit.dir/cinderx/Jit/codegen/gen_asm.cpp.o\n"
        "  [2/3] Linking CXX static library libjit.a\n"
        "  [3/3] Building C object CMakeFiles/parallel-gc.dir/generated/dummy-parallel-gc.c.o\n"
    )
    assert sourcebuild.compiled_objects(ninja) == [
        "CMakeFiles/jit.dir/cinderx/Jit/codegen/gen_asm.cpp.o",
        "CMakeFiles/parallel-gc.dir/generated/dummy-parallel-gc.c.o",
    ]
    make = "[ 45%] Building CXX object CMakeFiles/jit.dir/a.cpp.o\n[100%] Linking CXX shared library _cinderx.so\n"
    assert sourcebuild.compiled_objects(make) == ["CMakeFiles/jit.dir/a.cpp.o"]
    assert sourcebuild.compiled_objects("ninja: no work to do.\n") == []


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
    assert "LAUNCHER" not in toolchain.read_text()
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


# CinderX's pattern (CMakeLists.txt of upstream main and of the sdist): a header copied into the
# build tree with file(WRITE) at every configure, and no ENABLE_CCACHE handling.
REWRITING_PROJECT = """\
cmake_minimum_required(VERSION 3.12)
project(p C)
set(GREETING "hello" CACHE STRING "")
file(WRITE ${CMAKE_BINARY_DIR}/generated/greeting.h "#define GREETING \\"${GREETING}\\"\\n")
include_directories(${CMAKE_BINARY_DIR}/generated)
add_library(uses_header STATIC uses_header.c)
add_library(other STATIC other.c)
"""


def _configure_and_build(project: Path, build: Path, env: dict[str, str], *options: str) -> str:
    """What setup.py does at every build: configure again, then build; the output of both."""
    output = ""
    for argv in (
        ["cmake", "-G", "Ninja", *options, "-S", str(project), "-B", str(build)],
        ["cmake", "--build", str(build)],
    ):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        output += done.stdout
    return output


@pytest.mark.skipif(
    not all(shutil.which(t) for t in ("cmake", "ninja", "cc", "ccache")), reason="needs cmake, ninja, cc, ccache"
)
def test_toolchain_brings_ccache_in_and_a_reconfigure_keeps_unchanged_generated_headers(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "CMakeLists.txt").write_text(REWRITING_PROJECT)
    (project / "uses_header.c").write_text('#include "greeting.h"\nconst char *greeting(void) { return GREETING; }\n')
    (project / "other.c").write_text("int other(void) { return 1; }\n")
    keeper = tmp_path / sourcebuild.KEEP_GENERATED_NAME
    keeper.write_text(sourcebuild.keep_generated_text())
    toolchain = tmp_path / sourcebuild.TOOLCHAIN_NAME
    ccache = str(shutil.which("ccache"))
    toolchain.write_text(sourcebuild.toolchain_text({}, launcher=ccache, keep_generated=str(keeper)))
    env = {**os.environ, "CMAKE_TOOLCHAIN_FILE": str(toolchain), "CCACHE_DIR": str(tmp_path / "ccache")}
    build = tmp_path / "build"

    first = _configure_and_build(project, build, env)
    assert len(sourcebuild.compiled_objects(first)) == 2
    rules = "".join(p.read_text() for p in [build / "build.ninja", *build.glob("CMakeFiles/rules.ninja")])
    assert f"{ccache} " in rules  # every compile goes through ccache
    counts = lambda: ccache_stats.parse_stats(  # noqa: E731
        subprocess.run(["ccache", "--print-stats"], env=env, capture_output=True, text=True, check=True).stdout
    )
    before = counts()
    assert before is not None and before.hits == 0 and before.misses >= 2  # (CMake's compiler checks add some)

    # configure again with nothing changed: the rewritten header keeps its mtime, nothing compiles
    again = _configure_and_build(project, build, env)
    assert sourcebuild.compiled_objects(again) == [], again
    # a real change to what configure writes still rebuilds what includes it, and only that
    changed = _configure_and_build(project, build, env, "-DGREETING=bye")
    assert sourcebuild.compiled_objects(changed) == ["CMakeFiles/uses_header.dir/uses_header.c.o"], changed
    assert "bye" in (build / "generated" / "greeting.h").read_text()
    after = counts()
    assert after is not None and after.minus(before) == ccache_stats.CcacheCounts(hits=0, misses=1)
    # the keeper says what it did: the header back once, nothing when its content changed
    assert (sourcebuild.generated_kept(again), sourcebuild.generated_kept(changed)) == (1, 0)

    # without the keeper, the same reconfigure makes the object stale: the behaviour it removes
    toolchain.write_text(sourcebuild.toolchain_text({}, launcher=ccache))
    bare = tmp_path / "bare"
    _configure_and_build(project, bare, env)
    assert sourcebuild.compiled_objects(_configure_and_build(project, bare, env)) == [
        "CMakeFiles/uses_header.dir/uses_header.c.o"
    ]


@pytest.mark.skipif(
    not all(shutil.which(t) for t in ("cmake", "ninja", "cc", "ccache")), reason="needs cmake, ninja, cc, ccache"
)
def test_two_checkouts_of_the_same_code_share_ccache_objects_with_debug_info(tmp_path: Path) -> None:
    """ab builds each side in its own work dir. With -g, ccache hashes the build directory unless
    told not to: the plan's CCACHE_BASEDIR/CCACHE_NOHASHDIR make the second side all hits."""
    ccache = str(shutil.which("ccache"))
    toolchain = tmp_path / sourcebuild.TOOLCHAIN_NAME
    toolchain.write_text(sourcebuild.toolchain_text({}, launcher=ccache))
    results = []
    for side in ("a", "b"):
        work = tmp_path / "ab" / side
        work.mkdir(parents=True)
        (work / "CMakeLists.txt").write_text(
            "cmake_minimum_required(VERSION 3.12)\nproject(p C)\nadd_library(x STATIC x.c y.c)\n"
        )
        (work / "x.c").write_text('#include "x.h"\nint x(void) { return X; }\n')
        (work / "x.h").write_text("#define X 1\n")
        (work / "y.c").write_text("int y(void) { return 2; }\n")
        plan = sourcebuild.build_plan(
            parallel=1, build_env=(), toolchain=str(toolchain), offline=False, ccache=True, workdir=str(work)
        )
        env = {**os.environ, **plan.env, "CCACHE_DIR": str(tmp_path / "ccache")}
        stats = ["ccache", "--print-stats"]
        before = ccache_stats.parse_stats(
            subprocess.run(stats, env=env, capture_output=True, text=True, check=True).stdout
        )
        _configure_and_build(work, work / "scratch" / "temp", env, "-DCMAKE_BUILD_TYPE=RelWithDebInfo")
        after = ccache_stats.parse_stats(
            subprocess.run(stats, env=env, capture_output=True, text=True, check=True).stdout
        )
        assert before is not None and after is not None
        results.append(after.minus(before))
    assert results[0].misses >= 2  # x.c, y.c (and CMake's compiler checks)
    assert results[1].misses == 0 and results[1].hits >= 2, results


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_a_kept_tree_configured_without_the_toolchain_is_configured_afresh(tmp_path: Path) -> None:
    """CMake reads CMAKE_TOOLCHAIN_FILE from the environment only on a tree's first configure."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "CMakeLists.txt").write_text("cmake_minimum_required(VERSION 3.12)\nproject(p NONE)\n")
    toolchain = tmp_path / "tc dir" / sourcebuild.TOOLCHAIN_NAME  # a space: the path is quoted
    toolchain.parent.mkdir()
    toolchain.write_text(sourcebuild.toolchain_text({}))
    work = tmp_path / "work"
    old, kept = work / "scratch" / "temp.old", work / "scratch" / "temp.kept"
    without = {k: v for k, v in os.environ.items() if k != "CMAKE_TOOLCHAIN_FILE"}
    for tree, env in ((old, without), (kept, {**without, "CMAKE_TOOLCHAIN_FILE": str(toolchain)})):
        subprocess.run(["cmake", "-S", str(project), "-B", str(tree)], env=env, capture_output=True, check=True)
    done = subprocess.run(
        ["sh", "-c", sourcebuild.fresh_configure_command(str(toolchain))],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not (old / "CMakeCache.txt").exists() and "configuring scratch/temp.old afresh" in done.stdout
    assert (kept / "CMakeCache.txt").exists() and "temp.kept" not in done.stdout
    # in a tree without scratch/ it does nothing
    nothing = subprocess.run(["sh", "-c", sourcebuild.fresh_configure_command("/x")], cwd=project, check=False)
    assert nothing.returncode == 0


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
