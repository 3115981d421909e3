"""Shadowing is judged by what the test process loads, against the installed wheel's RECORD.

A real wheel (the fixture target's, plus a top-level ``_cinderx`` module standing in for the
extension) is installed by real pip into a real venv; a CinderX-shaped tree holds its own
``cinderx`` package and, as a setuptools source build leaves it, ``cinderx.egg-info``. The runtime
gate script and the red/green runner run real tests in that venv and say which files they loaded.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURE_TARGET

from armjit.cinderx import pins, targeted

pytestmark = pytest.mark.slow

LIB = "cinderx/PythonLib"
TEST_MODULE = """import unittest

import cinderx


class Loaded(unittest.TestCase):
    def test_answer(self):
        self.assertEqual(cinderx.answer(), 42)
"""
EXTENSION = "def answer():\n    return 42\n"  # the wheel's "_cinderx"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def add_extension(wheel: Path) -> None:
    """Add a top-level ``_cinderx`` module to the fixture's wheel (RECORD included), as CinderX's
    wheels carry ``_cinderx.<abi>.so`` beside the ``cinderx`` package; the package imports it."""
    with zipfile.ZipFile(wheel) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    (record,) = [name for name in files if name.endswith(".dist-info/RECORD")]
    files["_cinderx.py"] = EXTENSION.encode()
    files["cinderx/__init__.py"] += b"\nfrom _cinderx import answer  # noqa: E402\n"
    lines = [_record_line(name, data) for name, data in files.items() if name != record]
    files[record] = ("\n".join([*lines, f"{record},,"]) + "\n").encode()
    wheel.unlink()
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(python, version): a venv where real pip installed the wheel."""
    root = tmp_path_factory.mktemp("shadowing")
    source = root / "fixture"
    shutil.copytree(FIXTURE_TARGET, source, ignore=shutil.ignore_patterns("__pycache__", "dist", "build"))
    env = {**os.environ, "PIP_NO_INDEX": "1"}
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(root / "dist"), str(source)], env=env, check=True)
    (wheel,) = (root / "dist").glob("cinderx-*.whl")
    add_extension(wheel)
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    python = str(root / "venv" / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], env=env, check=True)
    return python, wheel.name.split("-")[1]


def make_tree(root: Path, *, package: bool, egg_info: bool, extension: bool) -> Path:
    """A CinderX-shaped tree; returns its test file. ``test_cinderx`` is a package, so the tests
    run from ``cinderx/PythonLib`` and find the tree's own files first, as upstream's do."""
    lib = root / LIB
    (lib / "test_cinderx").mkdir(parents=True)
    (lib / "test_cinderx" / "__init__.py").write_text("")
    (lib / "test_cinderx" / "test_loaded.py").write_text(TEST_MODULE)
    if package:
        (lib / "cinderx").mkdir()
        (lib / "cinderx" / "__init__.py").write_text("from _cinderx import answer\n")
    if egg_info:  # what `setup.py bdist_wheel` leaves beside the package (package_dir = cinderx/PythonLib)
        info = lib / "cinderx.egg-info"
        info.mkdir()
        (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: cinderx\nVersion: 0.0.0+tree\n")
        (info / "SOURCES.txt").write_text("cinderx/__init__.py\n")
        (info / "top_level.txt").write_text("_cinderx\ncinderx\n")
    if extension:  # an in-place build's extension in the tree
        (lib / "_cinderx.py").write_text(EXTENSION)
    return lib / "test_cinderx" / "test_loaded.py"


def gate_run(python: str, test_file: Path) -> dict[str, Any]:
    script = Path(targeted.__file__).parent / "resources" / "unittest_gate.py"
    result = subprocess.run([python, str(script), str(test_file), ""], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return targeted.parse_run(result.stdout, result.returncode).cinderx or {}


def runner_run(python: str, test_file: Path) -> dict[str, Any]:
    command = targeted.runner_command(python, str(test_file), "test_answer", "unittest")
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False)
    run = targeted.parse_run(result.stdout, result.returncode)
    assert targeted.classify(run) == targeted.PASSED, result.stdout + result.stderr
    return run.cinderx or {}


def site_packages(python: str) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip())


def test_a_source_build_egg_info_does_not_hide_the_tree_shadowing_the_wheel(
    venv: tuple[str, str], tmp_path: Path
) -> None:
    python, version = venv
    site = site_packages(python)
    test_file = make_tree(tmp_path / "checkout", package=True, egg_info=True, extension=False)
    lib = tmp_path / "checkout" / LIB
    for seen in (gate_run(python, test_file), runner_run(python, test_file)):
        # The package is the tree's, the extension the wheel's: the mix the tests really ran.
        assert seen["path"] == str(lib / "cinderx" / "__init__.py") and seen["imported"]
        assert seen["installed"] == str(site / "cinderx" / "__init__.py")
        assert seen["extension"] == {"path": str(site / "_cinderx.py"), "installed": str(site / "_cinderx.py"),
                                     "imported": True}  # fmt: skip
        # The wheel is the dist-info with a RECORD, not the egg-info importlib.metadata finds first.
        assert seen["version"] == version != "0.0.0+tree"
        assert seen["wheel"] == str(site / f"cinderx-{version}.dist-info")
        assert seen["other_metadata"] == [str(lib / "cinderx.egg-info")]
        assert seen["shadowed"] and seen["not_from_wheel"] == ["cinderx"]
    warning = targeted.shadow_warning(seen)
    assert warning == (
        f"warning: the tests imported cinderx from {lib}/cinderx/__init__.py, not the installed wheel's "
        f"{site}/cinderx/__init__.py (cinderx {version}); _cinderx came from the wheel"
    )


def test_an_in_place_extension_in_the_tree_is_named(venv: tuple[str, str], tmp_path: Path) -> None:
    python, _ = venv
    test_file = make_tree(tmp_path / "checkout", package=True, egg_info=True, extension=True)
    seen = gate_run(python, test_file)
    assert seen["shadowed"] and seen["not_from_wheel"] == ["cinderx", "_cinderx"]
    assert seen["extension"]["path"] == str(tmp_path / "checkout" / LIB / "_cinderx.py")
    assert "; _cinderx from " in targeted.shadow_warning(seen)


def test_tests_that_load_the_wheel_are_not_shadowed(venv: tuple[str, str], tmp_path: Path) -> None:
    python, version = venv
    site = site_packages(python)
    # An egg-info without a package beside it changes nothing: the files loaded are the wheel's.
    test_file = make_tree(tmp_path / "checkout", package=False, egg_info=True, extension=False)
    seen = gate_run(python, test_file)
    assert seen["path"] == seen["installed"] == str(site / "cinderx" / "__init__.py")
    assert seen["extension"]["path"] == seen["extension"]["installed"] == str(site / "_cinderx.py")
    assert not seen["shadowed"] and seen["not_from_wheel"] == [] and seen["version"] == version
    assert targeted.shadow_warning(seen) == ""


def test_without_an_installed_wheel_nothing_is_shadowed(tmp_path: Path) -> None:
    """Only metadata from the tree (no wheel installed): nothing to judge the loaded files against."""
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    test_file = make_tree(tmp_path / "checkout", package=True, egg_info=True, extension=True)
    seen = gate_run(str(bare / "bin" / "python"), test_file)
    assert seen["installed"] == seen["version"] == seen["wheel"] == "" and not seen["shadowed"]
    assert seen["other_metadata"] == [str(tmp_path / "checkout" / LIB / "cinderx.egg-info")]


def test_the_pins_probe_reads_the_wheel_not_the_tree_egg_info(venv: tuple[str, str], tmp_path: Path) -> None:
    python, version = venv
    make_tree(tmp_path / "checkout", package=True, egg_info=True, extension=False)
    command = pins.pins_command(python, None, ("cinderx",))
    where = tmp_path / "checkout" / LIB  # the tree's egg-info is the first cinderx metadata on sys.path here
    result = subprocess.run(["sh", "-c", command], cwd=where, capture_output=True, text=True, check=True)
    assert pins.parse_pins(result.stdout)["cinderx"] == {"version": version, "location": str(site_packages(python))}
