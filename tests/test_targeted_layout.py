"""red/green on CinderX's real test layout, through the real CLI and real interpreters.

The tree is shaped like upstream's: ``cinderx/PythonLib/test_cinderx/`` is a package of unittest
modules; a sibling module and a subpackage fail to import (upstream's need CPython's ``test``
package, which Debian's python3.14 lacks); ``cinderx/PythonLib/cinderx/`` holds the Python side
of cinderx, which shadows the installed wheel when the tests run from ``cinderx/PythonLib``. The
"installed wheel" is a cinderx distribution (dist-info and package) in the test venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import run_invoke

from armjit.cinderx import targeted

LIB = "cinderx/PythonLib"
TARGET = f"{LIB}/test_cinderx/test_jit_target.py"
TEST_MODULE = """import unittest

import cinderx


class JitTarget(unittest.TestCase):
    def test_answer(self):
        self.assertEqual(cinderx.answer(), 42)

    def test_other(self):
        self.assertTrue(True)
"""
TREE = {
    f"{LIB}/cinderx/__init__.py": "def answer():\n    return 41  # the bug red must see\n",
    f"{LIB}/test_cinderx/__init__.py": "",
    f"{LIB}/test_cinderx/test_jit_target.py": TEST_MODULE,
    # Upstream's siblings import CPython's test package (test.fork_wait), absent on Debian's python3.14.
    f"{LIB}/test_cinderx/test_fork_sibling.py": "from test import fork_wait_not_shipped  # noqa\n",
    f"{LIB}/test_cinderx/test___static__/__init__.py": "from test.support import not_shipped  # noqa\n",
    f"{LIB}/test_cinderx/test_pytest_style.py": "def test_plain():\n    assert 1 + 1 == 2\n",
    "setup.py": "raise SystemExit('not built in this test')\n",
}


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    repo = tmp_path / "cinderx-checkout"
    for rel, text in TREE.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "arm-jit", str(repo)], check=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "cinderx layout")
    return repo


def venv_with_wheel(root: Path, *, with_pytest: bool) -> str:
    """A venv with a cinderx 2026.11.2.0 distribution installed (no pytest unless asked)."""
    venv = root / ("venv-pytest" if with_pytest else "venv-bare")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    (site / "cinderx").mkdir()
    (site / "cinderx" / "__init__.py").write_text("def answer():\n    return 42\n")
    info = site / "cinderx-2026.11.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cinderx\nVersion: 2026.11.2.0\n")
    (info / "RECORD").write_text("cinderx/__init__.py,,\n")
    if with_pytest:
        (site / "_armjit_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def red_green(step: str, repo: Path, tmp_path: Path, python: str, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [step, "-k", "test_answer", "--repo", str(repo), "--test-file", TARGET, "--python", python]
    return run_invoke(*args, "--reports", str(tmp_path / "reports"), "--json", *extra, timeout=300)


def test_the_fixture_reproduces_the_discover_trap(tree: Path) -> None:
    # What the old runner did: discover on the test file's directory. The package's subpackage is
    # imported on the way and fails, although the target module itself imports fine.
    directory = tree / TARGET.rsplit("/", 1)[0]
    code = (
        "import sys, unittest; s = unittest.TestLoader().discover(sys.argv[1], pattern='test_jit_target.py', "
        "top_level_dir=sys.argv[1]); print([t.id() for x in s for y in x for t in getattr(y, '_tests', [y])])"
    )
    found = subprocess.run([sys.executable, "-c", code, str(directory)], capture_output=True, text=True, check=True)
    assert "unittest.loader._FailedTest.test___static__" in found.stdout


def test_unittest_red_then_green_imports_only_the_named_module(tree: Path, tmp_path: Path) -> None:
    python = venv_with_wheel(tmp_path, with_pytest=False)
    red = red_green("red", tree, tmp_path, python)
    assert red.returncode == 0, red.stderr
    data = json.loads(red.stdout)
    assert data["runner"] == "unittest" and data["verdict"] == "failed" and data["collection_errors"] == []
    assert [t["id"] for t in data["tests"]] == ["test_cinderx.test_jit_target.JitTarget.test_answer"]
    assert "AssertionError: 41 != 42" in data["excerpt"]
    # Which cinderx was tested: the source tree's, shadowing the installed wheel, and armjit says so.
    seen = data["cinderx"]
    assert seen["path"] == str(tree / LIB / "cinderx" / "__init__.py") and seen["imported"]
    assert seen["version"] == "2026.11.2.0" and seen["shadowed"]
    assert seen["installed"].endswith("site-packages/cinderx/__init__.py")
    assert data["warnings"] and "not the installed wheel" in data["warnings"][0]
    assert "warning: the tests imported cinderx from" in red.stderr

    (tree / LIB / "cinderx" / "__init__.py").write_text("def answer():\n    return 42\n")
    git(tree, "commit", "-qam", "fix: answer")
    green = red_green("green", tree, tmp_path, python)
    assert green.returncode == 0, green.stderr
    data = json.loads(green.stdout)
    assert data["verdict"] == "passed" and data["ok"] and data["cinderx"]["shadowed"]


def test_pytest_style_test_without_pytest_is_named_as_such(tree: Path, tmp_path: Path) -> None:
    python = venv_with_wheel(tmp_path, with_pytest=False)
    args = ["red", "-k", "test_plain", "--repo", str(tree), "--python", python, "--reports", str(tmp_path / "r")]
    result = run_invoke(*args, "--test-file", f"{LIB}/test_cinderx/test_pytest_style.py", timeout=300)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "pytest-style test(s) test_plain: pytest is not installed for" in last, last
    assert "no test matched" not in result.stderr


def test_pytest_runner_runs_the_file_only(tree: Path, tmp_path: Path) -> None:
    python = venv_with_wheel(tmp_path, with_pytest=True)
    result = red_green("red", tree, tmp_path, python, "--runner", "pytest")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["runner"] == "pytest" and data["verdict"] == "failed" and data["collection_errors"] == []
    assert [t["id"].rsplit("::", 1)[-1] for t in data["tests"]] == ["test_answer"]
    # pytest's default import mode puts cinderx/PythonLib first on sys.path: the tree shadows the wheel.
    assert data["cinderx"]["shadowed"] and data["cinderx"]["path"].startswith(str(tree))


def test_runner_output_carries_which_cinderx() -> None:
    line = 'armjit-cinderx {"path": "/t/cinderx/__init__.py", "version": "1", "installed": "/s/cinderx/__init__.py",'
    line += ' "imported": true, "shadowed": true}'
    run = targeted.parse_run(f'armjit-runner {{"name": "unittest"}}\n{line}\n', 1)
    assert run.cinderx is not None and run.cinderx["version"] == "1"
    assert (
        targeted.cinderx_line(run.cinderx)
        == "cinderx 1 imported from /t/cinderx/__init__.py (shadows the installed wheel)"
    )
    assert targeted.shadow_warning(None) == "" and targeted.cinderx_line(None) == ""


def gate(python: str, test_file: Path) -> subprocess.CompletedProcess[str]:
    script = Path(targeted.__file__).parent / "resources" / "unittest_gate.py"
    return subprocess.run([python, str(script), str(test_file), ""], capture_output=True, text=True, check=False)


def test_the_gate_script_imports_only_its_module(tree: Path, tmp_path: Path) -> None:
    python = venv_with_wheel(tmp_path, with_pytest=False)
    result = gate(python, tree / TARGET)
    assert result.returncode == 1, result.stdout + result.stderr  # test_answer fails, nothing errors on import
    lines = [json.loads(ln.split(" ", 1)[1]) for ln in result.stdout.splitlines() if ln.startswith("armjit-test ")]
    assert {t["id"]: t["status"] for t in lines} == {
        "test_cinderx.test_jit_target.JitTarget.test_answer": "fail",
        "test_cinderx.test_jit_target.JitTarget.test_other": "pass",
    }
    seen: dict[str, Any] = targeted.parse_run(result.stdout, result.returncode).cinderx or {}
    assert seen["shadowed"] and seen["version"] == "2026.11.2.0"
    broken = gate(python, tree / LIB / "test_cinderx" / "test_fork_sibling.py")
    assert (
        broken.returncode == 4 and "armjit-gate-error: cannot load test_fork_sibling.py: ImportError" in broken.stdout
    )
