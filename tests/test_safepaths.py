"""The path guard as plain data: which directories armjit may write into, delete from or recreate."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from armjit.config import Settings, checked_host_dirs, merge_settings, setting_specs
from armjit.errors import UsageError
from armjit.seams import workdir
from armjit.seams.safepaths import check_host_dir, check_local_dir

HOME = "/home/dev"

# (path, home, min_depth, normalised result)
ACCEPTED: list[tuple[str, str | None, int, str]] = [
    ("/root/work/cinderx-main", None, 2, "/root/work/cinderx-main"),  # the default work dir
    ("/root/work/cinderx-main", "/root", 2, "/root/work/cinderx-main"),  # ... when root logs in
    ("/root/venv-cinderx314", "/root", 1, "/root/venv-cinderx314"),
    ("/srv/x", None, 2, "/srv/x"),
    ("/srv/x/", None, 2, "/srv/x"),
    ("//srv//x/./", None, 2, "/srv/x"),
    ("/data", None, 1, "/data"),  # one level is enough for a venv or the incoming dir
    ("/opt/venv", HOME, 1, "/opt/venv"),
    ("/work dir/it's", None, 2, "/work dir/it's"),
    ("~/work/x", None, 2, "~/work/x"),  # checked again once the home is known
    ("~/work/x", HOME, 2, "/home/dev/work/x"),
    ("~/x", HOME, 2, "/home/dev/x"),
    ("/home/dev/x", HOME, 2, "/home/dev/x"),
    ("/var/tmp/cinderx-work", None, 2, "/var/tmp/cinderx-work"),
    ("/tmp/armjit/work", None, 2, "/tmp/armjit/work"),
]

# (path, home, min_depth, words of the one-line refusal)
REFUSED: list[tuple[str, str | None, int, str]] = [
    ("/", None, 1, "root directory"),
    ("//", None, 1, "root directory"),
    ("/./", None, 1, "root directory"),
    ("~", None, 2, "home itself"),
    ("~/", HOME, 2, "home itself"),
    ("~/.", None, 2, "home itself"),
    ("/home/dev", HOME, 1, "home itself"),
    ("/home/dev/", HOME, 1, "home itself"),
    ("/usr", None, 1, "system directory"),
    ("/srv", None, 2, "system directory"),
    ("/root", "/root", 2, "system directory"),
    ("/tmp/", None, 1, "system directory"),
    ("/lib64", None, 1, "system directory"),
    ("/libx32", None, 1, "system directory"),
    ("/srv/x/..", None, 2, "'..'"),
    ("/srv/../etc/x", None, 2, "'..'"),
    ("~/../other", HOME, 2, "'..'"),
    ("/data", None, 2, "2 levels deep"),
    ("~/x", "/", 2, "2 levels deep"),  # a user whose home is / ends up one level deep
    ("relative/dir", None, 1, "absolute path"),
    ("~other/x", None, 1, "~user"),
    ("", None, 1, "empty path"),
    ("/srv/x\n/y", None, 1, "newline"),
    # Anything inside the system's own trees, at any depth (a deps dir once made /etc/armjit-deps).
    ("/etc/armjit-deps", None, 2, "inside /etc, which belongs to the system"),
    ("/usr/local/cinderx-work", None, 2, "inside /usr"),
    ("/run/user/0/work", None, 2, "inside /run"),
    ("/lib/x/y", None, 2, "inside /lib"),
    ("/boot/efi/x", None, 1, "inside /boot"),
]


@pytest.mark.parametrize(("path", "home", "depth", "expected"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_host_dirs(path: str, home: str | None, depth: int, expected: str) -> None:
    assert check_host_dir(path, what="--remote-workdir", home=home, min_depth=depth) == expected


@pytest.mark.parametrize(("path", "home", "depth", "why"), REFUSED, ids=[repr(r[0]) for r in REFUSED])
def test_refused_host_dirs(path: str, home: str | None, depth: int, why: str) -> None:
    with pytest.raises(UsageError) as caught:
        check_host_dir(path, what="--remote-workdir", home=home, min_depth=depth)
    message = str(caught.value)
    assert why in message and message.startswith("--remote-workdir") and "\n" not in message


@pytest.mark.parametrize(
    ("given", "expected"),
    [("reports", "/work/here/reports"), ("~/notes", "/home/dev/notes"), ("/srv/notes/", "/srv/notes")],
)
def test_accepted_local_dirs(given: str, expected: str) -> None:
    assert check_local_dir(given, what="--reports", cwd=Path("/work/here"), home=Path(HOME)) == Path(expected)


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("/", "root directory"),
        ("~", "home directory itself"),
        ("/home/dev", "home directory itself"),
        ("../reports", "'..'"),
        ("/srv/a/../b", "'..'"),
        ("", "empty path"),
        *([("/usr", "system directory"), ("/etc/", "system directory")] if os.name != "nt" else []),
        *([("/etc/armjit/reports", "inside /etc")] if os.name != "nt" else []),
    ],
)
def test_refused_local_dirs(given: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        check_local_dir(given, what="--reports", cwd=Path("/work/here"), home=Path(HOME))


def test_settings_refuse_before_anything_else_sees_the_path() -> None:
    for flag, value in (("remote_workdir", "/"), ("remote_incoming", "/usr"), ("driver_venv", "~")):
        with pytest.raises(UsageError, match=f"--{flag.replace('_', '-')}"):
            merge_settings(cli={flag: value})
    assert merge_settings().remote_workdir == "/root/work/cinderx-main"


def test_host_dirs_are_expanded_and_checked_against_the_host_home() -> None:
    s = merge_settings(cli={"remote_workdir": "~/work/cx/", "driver_venv": "~/venv"})
    checked = checked_host_dirs(s, home="/home/dev")
    assert (checked.remote_workdir, checked.driver_venv) == ("/home/dev/work/cx", "/home/dev/venv")
    with pytest.raises(UsageError, match="home itself"):
        checked_host_dirs(merge_settings(cli={"remote_workdir": "/home/dev"}), home="/home/dev")


def test_adopt_workdir_is_a_setting() -> None:
    spec = {s.name: s for s in setting_specs()}["adopt_workdir"]
    assert spec.default is False and spec.flag == "--adopt-workdir"
    assert Settings().adopt_workdir is False


def test_adopt_plan_groups_what_deploy_would_delete() -> None:
    listing = [".git/HEAD", ".git/objects/ab/cd", "README", "cinderx/Jit/lir.h", "notes.txt", "build/x.o", ""]
    count, groups = workdir.adopt_plan(listing, {"README": "", "cinderx/Jit/lir.h": ""}, keep=("build",))
    assert count == 3
    assert groups == [".git/ (2 files)", "notes.txt"]


def test_refusal_text_says_what_is_there_and_how_to_proceed() -> None:
    out = "noise\narmjit-refused workdir 7\n.git\nREADME\nsrc\nsentinel.txt\nsetup.py\n"
    refusal = workdir.parse_refusal("/srv/x", out)
    assert refusal is not None and refusal.count == 7 and refusal.names[0] == ".git"
    text = refusal.message("root@arm1:22")
    assert "root@arm1:22:/srv/x holds 7 entries" in text and ".git, README" in text and ", ..." in text
    assert "--adopt-workdir" in text and "\n" not in text
    venv = workdir.parse_refusal("/srv/v", "armjit-refused venv 1\nnotes.txt\n")
    assert venv is not None and "no venv" in venv.message("h") and "--driver-venv" in venv.message("h")
    assert workdir.parse_refusal("/srv/x", "all fine\n") is None
