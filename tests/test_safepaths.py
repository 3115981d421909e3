"""The path guard as plain data: which directories armjit may write into, delete from or recreate."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from armjit.config import Settings, checked_host_dirs, merge_settings, setting_specs
from armjit.errors import UsageError
from armjit.seams import safepaths, workdir
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
    ("~other/x", None, 1, "~other/x"),  # expanded from the host's passwd database, then judged
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
    ("~-x/y", None, 1, "user name"),
    ("", None, 1, "empty path"),
    ("/srv/x\n/y", None, 1, "newline"),
    # Anything inside the system's own trees, at any depth (a deps dir once made /etc/armjit-deps).
    ("/etc/armjit-deps", None, 2, "inside /etc, which belongs to the system"),
    ("/usr/local/cinderx-work", None, 2, "inside /usr"),
    ("/run/user/0/work", None, 2, "inside /run"),
    ("/lib/x/y", None, 2, "inside /lib"),
    ("/boot/efi/x", None, 1, "inside /boot"),
    ("/var/lib/dpkg", None, 2, "inside /var/lib, which belongs to the system"),  # system data below /var
    ("/var/log/armjit", None, 2, "inside /var/log"),
    ("/var/cache/x/y", None, 2, "inside /var/cache"),
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


def test_adopt_counts_are_read_and_said_in_one_line() -> None:
    out = "armjit-adopted 12 5 123456\nsrc\n.git\nsentinel.txt\nempty\nrun.sh\nscratch\n"
    adopted = workdir.parse_adopted("/srv/x", "/srv/x.armjit-adopted-20261208T001500Z", out)
    assert (adopted.files, adopted.dirs, adopted.size) == (12, 5, 123456)
    assert adopted.lines("h") == [
        "adopting h:/srv/x: moved 12 files, 5 dirs and 123456 bytes (.git, empty, run.sh, scratch, sentinel.txt, ...) "
        "to /srv/x.armjit-adopted-20261208T001500Z; nothing was deleted"
    ]
    with pytest.raises(ValueError):
        workdir.parse_adopted("/srv/x", "/a", "no counts\n")


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


# -- judged by what it is ------------------------------------------------------------------

PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
dev:x:1000:1000::/home/dev:/bin/bash
bob:x:1001:1001::/home/bob:/bin/bash
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
git:x:997:997::/srv/git:/usr/bin/git-shell
broken line
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
ACCOUNTS = safepaths.parse_passwd(PASSWD)


def facts(resolved: str, *, given: str = "", exists: bool = False, owner: int | None = 0, uid: int = 1000) -> Any:
    home = next(a.home for a in ACCOUNTS if a.uid == uid)
    return safepaths.PathFacts(given or resolved, resolved, exists, owner, uid, home, ACCOUNTS)


def test_passwd_lines_become_accounts_and_tilde_user_is_looked_up() -> None:
    assert [a.user for a in ACCOUNTS] == [
        "root",
        "daemon",
        "systemd-network",
        "dev",
        "bob",
        "www-data",
        "git",
        "nobody",
    ]
    assert safepaths.expand_user("~bob/x/y", ACCOUNTS, what="--remote-workdir") == "/home/bob/x/y"
    assert safepaths.expand_user("~daemon", ACCOUNTS, what="--notes-dir") == "/usr/sbin"
    with pytest.raises(UsageError, match="no user 'nosuchuser'") as caught:
        safepaths.expand_user("~nosuchuser/x", ACCOUNTS, what="--reports")
    assert "\n" not in str(caught.value) and caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("resolved", "uid", "owner", "exists", "why"),
    [
        ("/etc", 1000, 0, True, "system directory"),  # /srv/x/etclink -> /etc
        ("/etc/armjit-rt", 1000, 0, False, "inside /etc"),  # /srv/x/etclink/armjit-rt
        ("/", 1000, 0, True, "root directory"),
        ("/usr/sbin/x", 0, 0, False, "inside /usr"),  # ~daemon/x
        ("/home/bob", 1000, 1001, True, "bob's home /home/bob"),
        ("/home/bob/work/x", 0, 1001, False, "bob's home"),  # root may not wipe bob's either
        ("/var/www/site", 1000, 33, True, "inside /var/www"),
        ("/srv/git/repos", 1000, 997, True, "git's home /srv/git"),
        ("/srv/git/new/w", 0, 997, False, "git's home"),
        ("/root/work", 1000, 0, False, "root's home"),  # ~root for a user who is not root
        ("/home/dev", 1000, 1000, True, "home itself"),
        ("/srv/shared/w", 1000, 1001, True, "owned by bob"),  # a directory of another uid
        ("/srv/shared/w/new", 1000, 1001, False, "nearest existing parent is owned by bob"),
        ("/srv/rootowned", 1000, 0, True, "owned by root"),  # exists: it must be the login user's
        ("/srv/x/w", 1000, 4242, True, "owned by uid 4242"),
    ],
)
def test_a_path_is_refused_for_what_it_resolves_to(resolved: str, uid: int, owner: int, exists: bool, why: str) -> None:
    fact = facts(resolved, given="/srv/x/alias", exists=exists, owner=owner, uid=uid)
    with pytest.raises(UsageError) as caught:
        safepaths.judge_resolved(fact, what="--remote-workdir", given="/srv/x/alias", min_depth=2)
    message = str(caught.value)
    assert why in message and "/srv/x/alias" in message and "\n" not in message


@pytest.mark.parametrize(
    ("resolved", "uid", "owner", "exists"),
    [
        ("/srv/x/w", 1000, 1000, True),
        ("/srv/x/w", 1000, 0, False),  # made below a root-owned /srv/x
        ("/home/dev/work/cx", 1000, 1000, False),
        ("/root/work/cx", 0, 0, True),  # root in its own home
        ("/opt/ci/w", 0, 0, True),  # a home of "/" (systemd-network) is nobody's private tree
    ],
)
def test_a_path_of_the_login_user_passes(resolved: str, uid: int, owner: int, exists: bool) -> None:
    fact = facts(resolved, exists=exists, owner=owner, uid=uid)
    assert safepaths.judge_resolved(fact, what="--remote-workdir", given=resolved, min_depth=2) == resolved


def test_the_resolve_script_output_is_parsed_per_path() -> None:
    out = "armjit-path\t1\t1000\t/srv/x/w\narmjit-path\t0\t-\t/srv/new dir/a\tb\narmjit-uid\t1000\n" + PASSWD
    found = safepaths.parse_resolved(["/srv/x/wlink", "/srv/new dir/a\tb"], out, "/home/dev")
    assert [(f.given, f.resolved, f.exists, f.owner_uid) for f in found] == [
        ("/srv/x/wlink", "/srv/x/w", True, 1000),
        ("/srv/new dir/a\tb", "/srv/new dir/a\tb", False, None),
    ]
    assert found[0].login_uid == 1000 and len(found[0].accounts) == len(ACCOUNTS)
    with pytest.raises(ValueError):
        safepaths.parse_resolved(["/a", "/b"], "armjit-path\t1\t0\t/a\narmjit-uid\t0\n", "/root")


def test_local_dirs_are_judged_by_what_they_resolve_to(tmp_path: Path) -> None:
    (tmp_path / "etclink").symlink_to("/etc")
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    with pytest.raises(UsageError, match="resolves to /etc") as caught:
        check_local_dir(tmp_path / "etclink", what="--notes-dir")
    assert "\n" not in str(caught.value)
    with pytest.raises(UsageError, match="resolves to /etc/reports"):
        check_local_dir(tmp_path / "etclink" / "reports", what="--reports")
    assert check_local_dir(tmp_path / "alias" / "notes", what="--notes-dir") == tmp_path / "real" / "notes"
    (tmp_path / "dangling").symlink_to("/etc/armjit-never-made")  # followed even though nothing is there
    with pytest.raises(UsageError, match="resolves to /etc/armjit-never-made"):
        check_local_dir(tmp_path / "dangling", what="--reports")
    (tmp_path / "relative").symlink_to("../../../../../../../../../../usr")
    with pytest.raises(UsageError, match=r"resolves to /usr\b"):
        check_local_dir(tmp_path / "relative" / "share" / "x", what="--reports")
    with pytest.raises(UsageError, match="no user 'nosuchuser-armjit'"):
        check_local_dir("~nosuchuser-armjit/reports", what="--reports")
    with pytest.raises(UsageError, match="inside /usr"):
        check_local_dir("~daemon", what="--notes-dir")  # daemon's home is /usr/sbin on Debian
