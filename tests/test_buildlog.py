"""A failed CinderX build names its cause: the first real error line, not the log's last line."""

from __future__ import annotations

import io
import time

from armjit.cinderx.buildlog import first_error
from armjit.render.progress import Progress, is_counter_line

# The shape of `pip wheel -v` over CinderX's setup.py when one C++ file does not compile: ninja's
# FAILED line, the command, the error with file:line, more errors, then pip's and setup.py's ends.
COMPILER_ERROR = """\
  [71/238] Building CXX object CMakeFiles/jit.dir/cinderx/Jit/codegen/autogen.cpp.o
  [72/238] Building CXX object CMakeFiles/jit.dir/cinderx/Jit/codegen/gen_asm.cpp.o
  FAILED: CMakeFiles/jit.dir/cinderx/Jit/codegen/gen_asm.cpp.o
  /usr/bin/ccache /usr/bin/c++ -DENABLE_USDT -I/root/work/cinderx -O2 -g -std=gnu++20 -MD -MT \
CMakeFiles/jit.dir/cinderx/Jit/codegen/gen_asm.cpp.o -c /root/work/cinderx/cinderx/Jit/codegen/gen_asm.cpp
  /root/work/cinderx/cinderx/Jit/codegen/gen_asm.cpp: In member function 'int jit::codegen::NativeGenerator::\
getCompiledFunctionStackSize() const':
  /root/work/cinderx/cinderx/Jit/codegen/gen_asm.cpp:1106:30: error: expected ';' before '}' token
   1106 |   return env_.stack_frame_size
        |                              ^
        |                              ;
   1107 | }
  /root/work/cinderx/cinderx/Jit/codegen/gen_asm.cpp:1110:3: error: 'spill_stack_size' was not declared
  ninja: build stopped: subcommand failed.
  Traceback (most recent call last):
    File "/root/work/cinderx/setup.py", line 498, in build_extension
  subprocess.CalledProcessError: Command '['cmake', '--build', 'scratch/temp.linux-x86_64-cpython-314']' \
returned non-zero exit status 1.
  error: command '/usr/bin/cmake' failed with exit code 1
  error: subprocess-exited-with-error
ERROR: Failed to build one or more wheels
"""

# CMake FetchContent without network: the download error, then ~170 lines of CMake going on.
DOWNLOAD_FAILED = (
    """\
  -- Found Python: /root/work/incoming/armjit-build-venv/bin/python (found version "3.14.10")
  [1/9] Creating directories for 'fmt-populate'
  [1/9] Performing download step (git clone) for 'fmt-populate'
  -- Had to git clone more than once: 3 times.
  CMake Error at fmt-subbuild/fmt-populate-prefix/tmp/fmt-populate-gitclone.cmake:50 (message):
    Failed to clone repository: 'https://github.com/fmtlib/fmt'
  FAILED: fmt-populate-prefix/src/fmt-populate-stamp/fmt-populate-download
  CMake Error at download-fmt-populate.cmake:170 (message):
    Each download failed!
      error: downloading 'https://codeload.github.com/fmtlib/fmt/tar.gz/12.1.0' failed
            status_code: 6
            status_string: "Couldn't resolve host name"
"""
    + "  CMake Warning (dev) at CMakeLists.txt:300 (FetchContent_MakeAvailable):\n" * 170
    + """\
  CMake Error at /usr/share/cmake-4.3/Modules/FetchContent.cmake:1918 (message):
    Build step for asmjit failed: 2
  error: command '/usr/bin/cmake' failed with exit code 1
"""
)

NO_COMPILER = """\
  running bdist_wheel
  running build
  running build_ext
  Traceback (most recent call last):
    File "/root/work/cinderx/setup.py", line 126, in find_compiler
      raise RuntimeError("Cannot find suitable C/C++ compiler (tried gcc and clang)")
  RuntimeError: Cannot find suitable C/C++ compiler (tried gcc and clang)
  error: subprocess-exited-with-error
ERROR: Failed to build one or more wheels
"""

NO_SPACE = """\
  [201/238] Building CXX object CMakeFiles/jit.dir/cinderx/Jit/hir/builder.cpp.o
  [202/238] Building CXX object CMakeFiles/jit.dir/cinderx/Jit/hir/simplify.cpp.o
  FAILED: CMakeFiles/jit.dir/cinderx/Jit/hir/simplify.cpp.o
  /usr/bin/ccache /usr/bin/c++ -O2 -g -c /root/work/cinderx/cinderx/Jit/hir/simplify.cpp
  ccache: error: Failed to create temporary file for /home/u/.cache/ccache/tmp/tmp.cpp_stdout: No space left on \
device
  ninja: build stopped: subcommand failed.
  error: command '/usr/bin/cmake' failed with exit code 1
"""


def test_compiler_error_with_file_and_line() -> None:
    assert first_error(COMPILER_ERROR) == (
        "/root/work/cinderx/cinderx/Jit/codegen/gen_asm.cpp:1106:30: error: expected ';' before '}' token"
    )


def test_download_failure_not_the_stale_build_step_line() -> None:
    cause = first_error(DOWNLOAD_FAILED)
    assert cause == "Failed to clone repository: 'https://github.com/fmtlib/fmt'"
    # without git's line (CMake's archive download), the download error itself
    only_download = "\n".join(line for line in DOWNLOAD_FAILED.splitlines() if "clone" not in line)
    assert first_error(only_download) == (
        "error: downloading 'https://codeload.github.com/fmtlib/fmt/tar.gz/12.1.0' failed"
    )


def test_missing_compiler() -> None:
    assert first_error(NO_COMPILER) == "RuntimeError: Cannot find suitable C/C++ compiler (tried gcc and clang)"


def test_disk_full() -> None:
    cause = first_error(NO_SPACE)
    assert cause is not None and "No space left on" in cause and cause.startswith("ccache: error:")


def test_generic_error_only_when_no_known_cause_and_none_without_errors() -> None:
    assert first_error("-- Configuring done\nCMake Error: something new\nerror: command failed\n") == (
        "CMake Error: something new"
    )
    assert first_error("-- Configuring done\n[3/3] Linking CXX shared library _cinderx.so\n") is None
    long = "x.cpp:1:1: error: " + "y" * 500
    assert len(first_error(long) or "") == 300


def _status_after(progress: Progress, stream: io.StringIO, *lines: str) -> str:
    """The next status line the progress thread prints after ``lines`` arrived."""
    for line in lines:
        progress.line(line)
    mark = len(stream.getvalue())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        new = stream.getvalue()[mark:]
        if "running" in new and new.endswith("\n"):
            return new.strip().splitlines()[-1]
        time.sleep(0.02)
    raise AssertionError("no status line printed")


def test_progress_keeps_the_counter_not_a_later_warning() -> None:
    stream = io.StringIO()
    progress = Progress(stream, interval=0.05)
    progress.start("build-wheel")
    assert _status_after(progress, stream, "-- Configuring done").endswith("-- Configuring done")
    status = _status_after(
        progress,
        stream,
        "  [12/238] Building CXX object CMakeFiles/jit.dir/cinderx/Jit/codegen/gen_asm.cpp.o",
        "cinderx/Jit/codegen/gen_asm.cpp:99:5: warning: unused variable 'x' [-Wunused-variable]",
        "   99 |   int x;",
    )
    assert status.endswith("gen_asm.cpp.o") and "[12/238]" in status and "warning" not in status
    progress.finish("ok", 1.0)
    assert is_counter_line("[ 45%] Building C object x.o") and not is_counter_line("[warn] x")
