"""The path guard against a real sshd on 127.0.0.1: a directory armjit does not own is left byte
for byte, an owned one still syncs with deletions, and the CLI refuses with one line and exit 2.

Every destination here is under tmp_path: the loopback sshd is this very machine, so a guard bug
must never be able to reach a real system path. System paths (/, /usr, ~) are only ever given to
the CLI with an unreachable host, where the settings check must fire before any host is contacted.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from armjit.cinderx import commands as cinderx
from armjit.errors import UsageError
from armjit.seams import sync, workdir
from armjit.seams.hosts import SshHost, SshTarget

ROOT = Path(__file__).resolve().parents[1]
Snapshot = dict[str, tuple[str, int, bytes]]


def ssh_host(sshd: Any) -> SshHost:
    return SshHost(
        SshTarget(
            host=sshd.host,
            user=sshd.user,
            port=sshd.port,
            key=str(sshd.key_path),
            known_hosts=sshd.known_hosts_path,
            strict=False,
            ssh_config=None,
            connect_timeout=10,
        )
    )


@pytest.fixture
def host(shared_sshd: Any) -> Iterator[SshHost]:
    with contextlib.closing(ssh_host(shared_sshd)) as made:
        yield made


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """Someone's checkout with work in progress: a sentinel file, a fake .git and a subdirectory."""
    root = tmp_path / "colleague" / "cinderx"
    (root / ".git" / "objects" / "ab").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/wip\n")
    (root / ".git" / "objects" / "ab" / "cdef").write_bytes(b"\x78\x01blob")
    (root / "sentinel.txt").write_bytes(b"uncommitted work \xe2\x9c\x93\n")
    (root / "src").mkdir()
    (root / "src" / "codegen.cpp").write_text("int f();\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    return root


def snapshot(root: Path) -> Snapshot:
    """Every entry below ``root`` (and root itself) with its mode and bytes."""
    found: Snapshot = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = ("l", info.st_mode, os.fsencode(str(path.readlink())))
        elif path.is_dir():
            found[rel] = ("d", info.st_mode, b"")
        else:
            found[rel] = ("f", info.st_mode, path.read_bytes())
    return found


@pytest.mark.parametrize("method", ["rsync", "python"])
def test_a_directory_armjit_does_not_own_is_left_byte_for_byte(
    host: SshHost, method: str, target_repo: Any, victim: Path
) -> None:
    before = snapshot(victim)
    with pytest.raises(UsageError) as caught:
        sync.sync_tree(host, target_repo.path, str(victim), method=method)
    message = str(caught.value)
    assert "\n" not in message and "--adopt-workdir" in message
    assert "holds 4 entries" in message and ".git" in message and "sentinel.txt" in message
    assert snapshot(victim) == before


@pytest.mark.parametrize("method", ["rsync", "python"])
def test_dotdot_paths_are_refused_before_the_host_is_touched(
    host: SshHost, method: str, target_repo: Any, victim: Path
) -> None:
    (victim.parent / "a").mkdir()
    before = snapshot(victim.parent)
    for dest in (f"{victim.parent}/a/../{victim.name}", f"{victim}/src/..", f"{victim.parent}/a/.."):
        with pytest.raises(UsageError, match=r"'\.\.' is not allowed"):
            sync.sync_tree(host, target_repo.path, dest, method=method)
    assert snapshot(victim.parent) == before


@pytest.mark.parametrize("method", ["rsync", "python"])
def test_a_deploy_deletes_only_what_an_earlier_deploy_wrote(
    host: SshHost, method: str, target_repo: Any, tmp_path: Path
) -> None:
    dest = tmp_path / "remote" / "work"
    target_repo.commit_file("old/gone.txt", "shipped once\n", "a file that will go")
    first = sync.sync_tree(host, target_repo.path, str(dest), method=method)
    assert (dest / workdir.OWNER_NAME).is_file() and first.files_sent > 0 and (dest / "old" / "gone.txt").is_file()
    (dest / "stray.txt").write_text("someone's notes\n")
    (dest / "mine").mkdir()
    (dest / "mine" / "results.txt").write_text("measurements\n")
    (dest / "build").mkdir()
    (dest / "build" / "kept.o").write_bytes(b"\x7fELF")
    target_repo.git("rm", "-q", "old/gone.txt")
    target_repo.git("commit", "-q", "-m", "drop it")
    # What a sync that failed half-way leaves: no deploy marker, no manifest. Still armjit's.
    (dest / sync.MARKER_NAME).unlink()
    (dest / sync.MANIFEST_NAME).unlink(missing_ok=True)
    again = sync.sync_tree(host, target_repo.path, str(dest), method=method)
    assert again.files_deleted == 1 and not (dest / "old").exists()  # its emptied dir went too
    assert (dest / "stray.txt").read_text() == "someone's notes\n"  # armjit never wrote it
    assert (dest / "mine" / "results.txt").read_text() == "measurements\n"
    assert (dest / "build" / "kept.o").read_bytes() == b"\x7fELF"
    assert (dest / workdir.OWNER_NAME).is_file()


@pytest.mark.parametrize(
    "fake",
    [".armjit-manifest.json", ".armjit-deploy.json", ".armjit-workdir", ".armjit-written"],
)
def test_a_copied_or_garbage_marker_does_not_make_a_dir_armjits(
    host: SshHost, fake: str, target_repo: Any, tmp_path: Path
) -> None:
    # A data dir someone copied armjit's files into: garbage, or the real files of another work dir.
    owned = tmp_path / "remote" / "work"
    sync.sync_tree(host, target_repo.path, str(owned), method="rsync")
    data = tmp_path / "remote" / "data"
    (data / "results").mkdir(parents=True)
    (data / "mine.txt").write_text("mine\n")
    (data / "results" / "r.json").write_text("{}\n")
    source = owned / fake
    (data / fake).write_bytes(source.read_bytes() if source.exists() else b"{garbage")
    before = snapshot(data)
    for method in ("rsync", "python"):
        with pytest.raises(UsageError, match="--adopt-workdir"):
            sync.sync_tree(host, target_repo.path, str(data), method=method)
    assert snapshot(data) == before


def test_the_owner_file_of_another_machine_is_foreign(host: SshHost, target_repo: Any, tmp_path: Path) -> None:
    dest = tmp_path / "remote" / "work"
    sync.sync_tree(host, target_repo.path, str(dest), method="rsync")
    (dest / "stray.txt").write_text("x\n")
    state = workdir.state_file()
    saved = state.read_bytes()
    state.write_text("{}")  # another machine: it never claimed this dir, its id is not the one there
    try:
        with pytest.raises(UsageError, match="owner file does not name this directory"):
            sync.sync_tree(host, target_repo.path, str(dest), method="rsync")
    finally:
        state.write_bytes(saved)
    assert (dest / "stray.txt").exists()


@pytest.mark.parametrize("method", ["rsync", "python"])
def test_adopt_deletes_nothing_it_moves_everything_aside_and_counts_it(
    host: SshHost, method: str, target_repo: Any, victim: Path
) -> None:
    (victim / "scratch").mkdir()
    (victim / "scratch" / "ccache.bin").write_bytes(b"cache")
    (victim / "empty" / "deeper").mkdir(parents=True)  # empty dirs are counted too
    before = snapshot(victim)
    lines: list[str] = []
    result = sync.sync_tree(host, target_repo.path, str(victim), method=method, adopt=True, report=lines.append)
    asides = sorted(victim.parent.glob(f"{victim.name}.armjit-adopted-*"))
    assert len(asides) == 1
    aside = asides[0]
    moved = snapshot(aside)
    files = sum(1 for k, v in moved.items() if k != "." and v[0] != "d")
    dirs = sum(1 for k, v in moved.items() if k != "." and v[0] == "d")
    size = sum(len(v[2]) for k, v in moved.items() if v[0] == "f")
    assert (files, dirs) == (6, 7)
    assert lines == [
        f"adopting {host.name}:{victim}: moved {files} files, {dirs} dirs and {size} bytes "
        f"(.git, empty, run.sh, scratch, sentinel.txt, ...) to {aside}; nothing was deleted"
    ]
    assert {k: v for k, v in moved.items() if k != "."} == {k: v for k, v in before.items() if k != "."}
    assert (victim / workdir.OWNER_NAME).is_file() and result.files_sent > 0
    lines.clear()
    sync.sync_tree(host, target_repo.path, str(victim), method=method, adopt=True, report=lines.append)
    assert lines == []  # once: an owned directory is not adopted again


def test_adopt_without_a_deploy_moves_aside_too(host: SshHost, victim: Path) -> None:
    before = snapshot(victim)
    adopted = workdir.adopt(host, str(victim))
    assert adopted is not None and (adopted.files, adopted.dirs) == (5, 4)
    assert snapshot(Path(adopted.aside)) == {**before, ".": snapshot(Path(adopted.aside))["."]}
    assert sorted(p.name for p in victim.iterdir()) == [workdir.OWNER_NAME]
    assert workdir.is_owned(host, str(victim))


# -- judged by what the path is on the host ----------------------------------------------------


@pytest.mark.parametrize("adopt", [False, True])
@pytest.mark.parametrize("method", ["rsync", "python"])
def test_a_work_dir_that_resolves_into_a_system_tree_is_refused_before_any_write(
    host: SshHost, method: str, adopt: bool, target_repo: Any, tmp_path: Path
) -> None:
    # Links under tmp_path into /etc. Only refusals are asserted, on paths where a deploy would write;
    # armjit-rt does not exist under /etc, so even a broken guard could not overwrite anything there.
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "etclink").symlink_to("/etc")
    (tmp_path / "srv" / "deep").symlink_to(tmp_path / "srv" / "etclink")
    for dest, why in (
        (tmp_path / "srv" / "etclink", r"resolves to /etc\) refused: /etc is a system directory"),
        (tmp_path / "srv" / "etclink" / "armjit-rt-never", "resolves to /etc/armjit-rt-never"),
        (tmp_path / "srv" / "deep" / "armjit-rt-never", "resolves to /etc/armjit-rt-never"),
    ):
        with pytest.raises(UsageError, match=why) as caught:
            sync.sync_tree(host, target_repo.path, str(dest), method=method, adopt=adopt)
        assert "\n" not in str(caught.value)
    assert not Path("/etc/armjit-rt-never").exists()
    assert not list(tmp_path.glob("srv/*.armjit-*"))


def test_an_alias_of_a_work_dir_is_that_work_dir(host: SshHost, target_repo: Any, tmp_path: Path) -> None:
    real = tmp_path / "srv" / "w"
    sync.sync_tree(host, target_repo.path, str(real), method="rsync")
    (tmp_path / "srv" / "wlink").symlink_to(real)
    again = sync.sync_tree(host, target_repo.path, str(tmp_path / "srv" / "wlink" / ""), method="rsync")
    assert again.dest == str(real)  # the same owner id, marker and lease key
    assert workdir.resolve_guarded(host, [(f"{tmp_path}/srv/wlink", "--remote-workdir", 2)]) == [str(real)]


def test_other_users_homes_and_unknown_users_are_refused_on_the_host(host: SshHost, tmp_path: Path) -> None:
    others = [a for a in host.accounts() if a.uid != os.getuid() and a.home.rstrip("/") and a.user == "nobody"]
    assert others, "every Linux host has a nobody account"
    with pytest.raises(UsageError, match=r"inside \S+'s home /nonexistent"):
        workdir.resolve_guarded(host, [("~nobody/work", "--remote-workdir", 2)])
    with pytest.raises(UsageError, match="no user 'nosuchuser-armjit'") as caught:
        workdir.resolve_guarded(host, [("~nosuchuser-armjit/work", "--remote-workdir", 2)])
    assert "\n" not in str(caught.value)
    # A directory owned by another uid (made here with chown: the tests run as root or skip this).
    if os.getuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir()
        os.chown(theirs, 65534, 65534)
        with pytest.raises(UsageError, match="owned by nobody"):
            workdir.resolve_guarded(host, [(str(theirs), "--remote-workdir", 2)])
        with pytest.raises(UsageError, match="nearest existing parent is owned by nobody"):
            workdir.resolve_guarded(host, [(f"{theirs}/new/w", "--remote-workdir", 2)])


def test_a_venv_is_recreated_only_where_there_is_a_venv(host: SshHost, victim: Path, tmp_path: Path) -> None:
    before = snapshot(victim)
    for recreate in (False, True):
        result = host.run(cinderx.ensure_venv_command(sys.executable, str(victim), recreate=recreate), timeout=120)
        assert result.exit_code == workdir.REFUSED, result.stdout
        assert "armjit-refused venv 4" in result.stdout
    assert snapshot(victim) == before
    with pytest.raises(UsageError, match="no venv"):
        workdir.preflight(host, workdirs=[], venvs=[str(victim)], adopt=False)
    fresh = tmp_path / "venvs" / "driver"
    workdir.preflight(host, workdirs=[str(tmp_path / "remote" / "new")], venvs=[str(fresh)], adopt=False)
    assert not fresh.exists() and not (tmp_path / "remote").exists()  # the preflight only reads


# -- through the CLI ---------------------------------------------------------------------------


def invoke(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(ROOT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def one_line_exit_2(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("armjit: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


SYSTEM_PATHS = [
    ("--remote-workdir", "/", "root directory"),
    ("--remote-workdir", "//", "root directory"),
    ("--remote-workdir", "~", "home itself"),
    ("--remote-workdir", "/usr", "system directory"),
    ("--remote-workdir", "/srv", "system directory"),
    ("--remote-workdir", "/srv/x/..", "'..'"),
    ("--remote-workdir", "/data", "2 levels deep"),
    ("--remote-incoming", "/", "root directory"),
    ("--driver-venv", "/usr", "system directory"),
    ("--driver-venv", "~/", "home itself"),
]


@pytest.mark.parametrize(("flag", "path", "why"), SYSTEM_PATHS, ids=[f"{f} {p}" for f, p, _ in SYSTEM_PATHS])
def test_system_paths_are_refused_before_any_host_contact(tmp_path: Path, flag: str, path: str, why: str) -> None:
    reports = tmp_path / "reports"
    # An unreachable host: had the settings check not fired first, the error would be about the host.
    result = invoke("baseline", "--host", "no-such-host.invalid", "--reports", str(reports), flag, path)
    line = one_line_exit_2(result, flag, why)
    assert "no-such-host" not in line
    assert not reports.exists()


@pytest.mark.parametrize("flag", ["--reports", "--notes-dir"])
@pytest.mark.parametrize(
    ("path", "why"), [("/", "root directory"), ("/etc", "system directory"), ("{tmp}/a/..", "'..'")]
)
def test_local_reports_and_notes_dirs_are_guarded_too(tmp_path: Path, flag: str, path: str, why: str) -> None:
    reports = tmp_path / "reports"
    args = ["--reports", str(reports)] if flag != "--reports" else []
    result = invoke("baseline", *args, flag, path.replace("{tmp}", str(tmp_path)))
    one_line_exit_2(result, flag, why)
    assert not reports.exists()


def test_baseline_into_a_stranger_directory_writes_nothing_on_either_side(
    shared_sshd: Any, target_repo: Any, victim: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    remote = tmp_path / "remote"
    common = [
        "baseline",
        "--host", f"{shared_sshd.user}@{shared_sshd.host}:{shared_sshd.port}",
        "--key", str(shared_sshd.key_path),
        "--known-hosts", str(shared_sshd.known_hosts_path),
        "--repo", str(target_repo.path),
        "--reports", str(reports),
        "--remote-incoming", str(remote / "incoming"),
        "--remote-python", sys.executable,
    ]  # fmt: skip
    before = snapshot(victim)
    notes_before = snapshot(target_repo.path)
    refused = invoke(*common, "--remote-workdir", str(victim), "--driver-venv", str(remote / "venv"))
    one_line_exit_2(refused, str(victim), "holds 4 entries", "--adopt-workdir")
    # A driver venv that is no venv is refused the same way (it would be rm -rf'd if broken).
    refused_venv = invoke(*common, "--remote-workdir", str(remote / "work"), "--driver-venv", str(victim))
    one_line_exit_2(refused_venv, "no venv", "--driver-venv")
    assert snapshot(victim) == before
    assert snapshot(target_repo.path) == notes_before  # no notes block in the target repo
    assert not reports.exists() and not remote.exists()


def test_a_run_without_deploy_marks_only_a_new_work_dir(host: SshHost, victim: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "remote" / "work"
    assert host.run(workdir.create_shell(str(fresh), workdir.owner_id(host, str(fresh))), timeout=60).ok
    assert (fresh / workdir.OWNER_NAME).is_file() and workdir.is_owned(host, str(fresh))
    before = snapshot(victim)
    assert host.run(workdir.create_shell(str(victim), workdir.owner_id(host, str(victim))), timeout=60).ok
    assert snapshot(victim) == before  # content it did not make stays, and stays unclaimed
