"""A real CinderX checkout for the e2e tier: the PyPI sdist of cinderx, committed into a git repository.

The sdist is CinderX's source tree (830 files, 318 C/C++ sources; cinderx-source-build.md). It is
downloaded once with pip and kept under the sandbox cache base; each session unpacks it into a
fresh repository on the work branch ``arm-jit`` and adds one runtime test file at the top level
(the sdist has no ``test_cinderx/``). The vendored FetchContent sources are found next to the
checkout (``../shared/vendor/cinderx-fetchcontent``) or at ``ARMJIT_E2E_DEPS_DIR``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

__all__ = [
    "BRANCH",
    "RUNTIME_TEST",
    "RUNTIME_TEST_NAME",
    "SDIST_VERSION",
    "CheckoutError",
    "deps_dir",
    "fetch_sdist",
    "git",
    "make_checkout",
    "make_upstream_like",
]

SDIST_VERSION = "2026.11.2.0"
BRANCH = "arm-jit"
RUNTIME_TEST_NAME = "test_jit_frame.py"
# Frame sizes as cinderx.jit reports them: the x86-64 and AArch64 ABIs keep the stack 16-byte
# aligned, and gen_asm.cpp pads each compiled function's frame to keep it so.
RUNTIME_TEST = '''\
"""The JIT's frames, as cinderx.jit reports them for a compiled function."""

import unittest

import cinderx.jit as jit


def squares(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


class JitFrameTest(unittest.TestCase):
    def test_compiled_result(self):
        jit.force_compile(squares)
        self.assertTrue(jit.is_jit_compiled(squares))
        self.assertEqual(squares(10), 285)

    def test_stack_size_is_16_byte_aligned(self):
        jit.force_compile(squares)
        size = jit.get_compiled_stack_size(squares)
        self.assertGreater(size, 0)
        self.assertEqual(size % 16, 0, f"stack size {size} is not 16-byte aligned")


if __name__ == "__main__":
    unittest.main()
'''


class CheckoutError(Exception):
    """The sdist cannot be had; the message is one line saying why."""


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "e2e",
        "GIT_AUTHOR_EMAIL": "e2e@example.invalid",
        "GIT_COMMITTER_NAME": "e2e",
        "GIT_COMMITTER_EMAIL": "e2e@example.invalid",
    }
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CheckoutError(f"git {' '.join(args)} failed: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


def fetch_sdist(cache: Path) -> Path:
    """The cached sdist tarball, downloaded with pip when missing (renamed into place when complete)."""
    name = f"cinderx-{SDIST_VERSION}.tar.gz"
    target = cache / name
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        # --ignore-requires-python: the driver's Python is not 3.14; the sdist is only unpacked here.
        argv = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        argv += ["--ignore-requires-python", f"cinderx=={SDIST_VERSION}", "-d", tmp]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        got = Path(tmp) / name
        if done.returncode != 0 or not got.is_file():
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise CheckoutError(f"pip download cinderx=={SDIST_VERSION} (sdist) failed: {tail}")
        got.replace(target)
    return target


def make_checkout(sdist: Path, root: Path) -> Path:
    """Unpack ``sdist`` into ``root/cinderx``, add the runtime test, commit on ``arm-jit``."""
    with tarfile.open(sdist) as tar:
        tar.extractall(root, filter="data")
    unpacked = root / f"cinderx-{SDIST_VERSION}"
    repo = root / "cinderx"
    shutil.move(unpacked, repo)
    (repo / RUNTIME_TEST_NAME).write_text(RUNTIME_TEST, encoding="utf-8")
    git(repo, "init", "-q", "-b", BRANCH)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"cinderx {SDIST_VERSION} (sdist) and a runtime test")
    return repo


_CCACHE_OPTION = re.compile(r"^option\(ENABLE_CCACHE .*\n", re.M)
_CCACHE_BLOCK = re.compile(r"^if\(ENABLE_CCACHE\)\n.*?^endif\(\)\n", re.M | re.S)
_CCACHE_SETUP = re.compile(r"^\s*set_option\(\"ENABLE_CCACHE\", False\)\n", re.M)


def make_upstream_like(repo: Path) -> str:
    """Commit the build behaviour of upstream main (``47f254f1``, cinderx-source-build.md) on top
    of the sdist: its CMakeLists.txt and setup.py know no ``ENABLE_CCACHE``, so ccache comes in
    only through CMake's launcher variables. The other trait is the sdist's own: CMakeLists.txt
    copies ``generated/cinderx/Interpreter/cinder_opcode*.h`` with ``file(WRITE)`` at every
    configure (checked here), and setup.py configures before every build. Returns the commit."""
    cmakelists, setup = repo / "CMakeLists.txt", repo / "setup.py"
    cmake_text, setup_text = cmakelists.read_text(encoding="utf-8"), setup.read_text(encoding="utf-8")
    if not re.search(r"file\(WRITE \$\{CINDER_OPCODE_H\}", cmake_text):
        raise CheckoutError("the sdist's CMakeLists.txt no longer rewrites cinder_opcode.h at configure")
    stripped = _CCACHE_BLOCK.sub("", _CCACHE_OPTION.sub("", cmake_text, count=1), count=1)
    setup_stripped = _CCACHE_SETUP.sub("", setup_text, count=1)
    if "ENABLE_CCACHE" in stripped or "ENABLE_CCACHE" in setup_stripped:
        raise CheckoutError("ENABLE_CCACHE is still read by the sdist's CMakeLists.txt or setup.py")
    cmakelists.write_text(stripped, encoding="utf-8")
    setup.write_text(setup_stripped, encoding="utf-8")
    git(repo, "commit", "-q", "-am", "build: as upstream main, no ENABLE_CCACHE option")
    return git(repo, "rev-parse", "HEAD")


def deps_dir(repo_root: Path) -> Path | None:
    """The vendored FetchContent sources: ``ARMJIT_E2E_DEPS_DIR``, else ``../shared/vendor/...``."""
    configured = os.environ.get("ARMJIT_E2E_DEPS_DIR", "").strip()
    candidate = Path(configured) if configured else repo_root.parent / "shared" / "vendor" / "cinderx-fetchcontent"
    return candidate.resolve() if candidate.is_dir() else None
