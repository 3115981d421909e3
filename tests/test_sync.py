"""sync_tree against real hosts: LocalHost and an OpenSSH sshd on 127.0.0.1, both transports.

The "remote" of the sshd is this machine, so every test reads the deployed tree straight from
disk and compares it with what git says the source is (``git archive``, or the working tree).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from armjit.errors import ArmjitError, HostKeyChanged, HostKeyUnknown, UsageError
from armjit.seams import gitops, sync, workdir
from armjit.seams.hosts import Host, LocalHost, SshHost, SshTarget

ODD_DIR = 'remote dir/it\'s "quoted" $x'
Tree = dict[str, tuple[str, bytes]]  # path -> (kind f/x/l, content or link target)


def run_git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@e"
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def commit_all(repo: Path, message: str) -> str:
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", message)
    return run_git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small CinderX-like checkout on branch arm-jit: text, a binary, a script, a symlink."""
    root = tmp_path / "cinderx"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "arm-jit")
    (root / "cinderx" / "Jit").mkdir(parents=True)
    (root / "cinderx" / "Jit" / "codegen.cpp").write_text("int codegen() { return 1; }\n" * 50)
    (root / "cinderx" / "Jit" / "lir.h").write_text("#pragma once\n")
    (root / "cinderx" / "StaticPython").mkdir()
    (root / "cinderx" / "StaticPython" / "classloader.c").write_text("/* loader */\n")
    (root / "data.bin").write_bytes(bytes(range(256)) * 40)
    script = root / "scripts" / "gate.sh"
    script.parent.mkdir()
    script.write_bytes(b"#!/bin/sh\r\necho gate\n")  # CRLF kept byte-exact
    script.chmod(0o755)
    (root / "link.sh").symlink_to("scripts/gate.sh")
    (root / ".gitignore").write_text("*.o\n/build/\n__pycache__/\n")
    (root / "old" / "deep").mkdir(parents=True)
    (root / "old" / "deep" / "gone.txt").write_text("to be deleted\n")
    commit_all(root, "initial")
    return root


def ssh_host_for(sshd: Any) -> SshHost:
    target = SshTarget(
        host=sshd.host,
        user=sshd.user,
        port=sshd.port,
        key=str(sshd.key_path),
        known_hosts=sshd.known_hosts_path,
        strict=False,
        ssh_config=None,
        connect_timeout=10,
    )
    return SshHost(target)


@pytest.fixture(params=["local", "ssh"])
def host(request: pytest.FixtureRequest) -> Iterator[Host]:
    made: Host = LocalHost() if request.param == "local" else ssh_host_for(request.getfixturevalue("shared_sshd"))
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=["rsync", "python"])
def method(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / ODD_DIR


def deployed(dest: Path) -> Tree:
    """The synced files on the host, without armjit's own files and the remote-only dirs."""
    tree: Tree = {}
    for path in sorted(dest.rglob("*")):
        rel = path.relative_to(dest).as_posix()
        if rel.split("/")[0] in {
            *sync.KEEP_DIRS,
            sync.MARKER_NAME,
            sync.MANIFEST_NAME,
            sync.WRITTEN_NAME,
            workdir.OWNER_NAME,
        }:
            continue
        if path.is_symlink():
            tree[rel] = ("l", os.fsencode(str(path.readlink())))
        elif path.is_file():
            tree[rel] = ("x" if path.stat().st_mode & 0o100 else "f", path.read_bytes())
    return tree


def committed(repo: Path, ref: str = "arm-jit") -> Tree:
    """What git itself says the branch holds (git archive), independent of the staging code."""
    data = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", ref], check=True, capture_output=True)
    tree: Tree = {}
    with tarfile.open(fileobj=io.BytesIO(data.stdout)) as tar:
        for member in tar.getmembers():
            if member.issym():
                tree[member.name] = ("l", member.linkname.encode())
            elif member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                tree[member.name] = ("x" if member.mode & 0o100 else "f", handle.read())
    return tree


def empty_dirs(dest: Path) -> list[str]:
    return [str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_dir() and not any(p.iterdir())]


# -- the transports end to end ------------------------------------------------------------------


def test_first_sync_then_only_changes_travel(host: Host, method: str, repo: Path, dest: Path) -> None:
    first = sync.sync_tree(host, repo, str(dest), ref="arm-jit", method=method)
    assert first.method == method
    assert deployed(dest) == committed(repo)
    assert first.files_total == len(committed(repo))
    assert first.files_sent >= first.files_total - 1  # rsync does not count the symlink
    assert (dest / "scripts" / "gate.sh").read_bytes() == b"#!/bin/sh\r\necho gate\n"

    again = sync.sync_tree(host, repo, str(dest), ref="arm-jit", method=method)
    assert (again.files_sent, again.files_deleted) == (0, 0)

    (repo / "cinderx" / "Jit" / "lir.h").write_text("#pragma once\nstruct Lir;\n")  # edit
    (repo / "cinderx" / "Jit" / "new_pass.cpp").write_text("void pass() {}\n")  # add
    (repo / "old" / "deep" / "gone.txt").unlink()  # delete (and its directories)
    (repo / "scripts" / "gate.sh").chmod(0o644)  # mode change only
    commit_all(repo, "edit, add, delete")
    delta = sync.sync_tree(host, repo, str(dest), ref="arm-jit", method=method)
    assert deployed(dest) == committed(repo)
    assert 2 <= delta.files_sent <= 3  # rsync fixes a mode-only change without a transfer
    assert delta.files_deleted >= 1
    assert not (dest / "old").exists()
    assert delta.bytes_sent < first.bytes_sent


def test_same_size_edit_within_the_same_second(host: Host, method: str, repo: Path, dest: Path) -> None:
    target = repo / "cinderx" / "Jit" / "lir.h"
    second = 1_700_000_000 * 10**9
    target.write_text("AAAA\n")
    os.utime(target, ns=(second + 100_000_000, second + 100_000_000))
    sync.sync_tree(host, repo, str(dest), worktree=True, method=method)
    assert (dest / "cinderx" / "Jit" / "lir.h").read_text() == "AAAA\n"
    target.write_text("BBBB\n")  # same size, mtime in the same second
    os.utime(target, ns=(second + 700_000_000, second + 700_000_000))
    result = sync.sync_tree(host, repo, str(dest), worktree=True, method=method)
    assert (dest / "cinderx" / "Jit" / "lir.h").read_text() == "BBBB\n"
    assert result.files_sent == 1


def test_remote_only_dirs_and_strays_survive_and_dropped_files_go(
    host: Host, method: str, repo: Path, dest: Path
) -> None:
    sync.sync_tree(host, repo, str(dest), method=method)
    for keep in sync.KEEP_DIRS:
        (dest / keep / "sub").mkdir(parents=True)
        (dest / keep / "sub" / "artifact.o").write_bytes(b"\x7fELF")
    (dest / "stray.txt").write_text("not in the source\n")
    (dest / "cinderx" / "Jit" / "codegen.cpp").write_text("changed on the host, same path\n")
    (repo / "data.bin").unlink()
    commit_all(repo, "drop data.bin")
    again = sync.sync_tree(host, repo, str(dest), method=method)
    assert again.files_deleted == 1 and not (dest / "data.bin").exists()  # armjit wrote it, the source dropped it
    assert (dest / "stray.txt").read_text() == "not in the source\n"  # armjit never wrote it: it stays
    (dest / "stray.txt").unlink()
    assert deployed(dest) == committed(repo)
    for keep in sync.KEEP_DIRS:
        assert (dest / keep / "sub" / "artifact.o").read_bytes() == b"\x7fELF"


def test_worktree_mode_ships_uncommitted_and_untracked(host: Host, method: str, repo: Path, dest: Path) -> None:
    (repo / "cinderx" / "Jit" / "lir.h").write_text("uncommitted edit\n")
    (repo / "cinderx" / "Jit" / "scratch_idea.cpp").write_text("untracked\n")
    (repo / "cinderx" / "Jit" / "codegen.o").write_bytes(b"ignored object")
    (repo / "build").mkdir()
    (repo / "build" / "lib.so").write_bytes(b"ignored build output")
    (repo / "data.bin").unlink()  # deleted but not committed: not shipped
    result = sync.sync_tree(host, repo, str(dest), worktree=True, method=method)
    tree = deployed(dest)
    assert tree["cinderx/Jit/lir.h"] == ("f", b"uncommitted edit\n")
    assert tree["cinderx/Jit/scratch_idea.cpp"] == ("f", b"untracked\n")
    assert "cinderx/Jit/codegen.o" not in tree and "data.bin" not in tree
    assert not (dest / ".git").exists() and not (dest / "build" / "lib.so").exists()
    assert result.source.worktree and result.source.dirty_hash == gitops.dirty_hash(repo)
    marker = sync.verify_deploy(host, str(dest), result.source)
    assert marker.dirty_hash is not None and marker.worktree

    back = sync.sync_tree(host, repo, str(dest), ref="arm-jit", method=method)
    assert deployed(dest) == committed(repo)
    assert back.source.dirty_hash is None
    with pytest.raises(ArmjitError, match="expected working tree"):
        sync.verify_deploy(host, str(dest), result.source)


def test_switching_transports_never_leaves_stale_files(host: Host, repo: Path, dest: Path) -> None:
    """python -> rsync -> python with a revert: the python manifest must not be trusted after
    rsync changed the tree behind its back."""
    path = repo / "cinderx" / "Jit" / "lir.h"
    path.write_text("version 1\n")
    sync.sync_tree(host, repo, str(dest), worktree=True, method="python")
    path.write_text("version 2\n")
    sync.sync_tree(host, repo, str(dest), worktree=True, method="rsync")
    assert (dest / "cinderx" / "Jit" / "lir.h").read_text() == "version 2\n"
    path.write_text("version 1\n")
    result = sync.sync_tree(host, repo, str(dest), worktree=True, method="python")
    assert (dest / "cinderx" / "Jit" / "lir.h").read_text() == "version 1\n"
    assert result.files_sent == 1  # the rest is verified by hash on the host, not resent
    assert deployed(dest) == {k: v for k, v in deployed(repo).items() if not k.startswith(".git/")}


def test_file_becomes_directory_and_back(repo: Path, dest: Path, method: str) -> None:
    host = LocalHost()
    sync.sync_tree(host, repo, str(dest), method=method)
    (repo / "link.sh").unlink()
    (repo / "link.sh").mkdir()
    (repo / "link.sh" / "inner.txt").write_text("now a directory\n")
    commit_all(repo, "file -> dir")
    sync.sync_tree(host, repo, str(dest), method=method)
    assert deployed(dest) == committed(repo)
    run_git(repo, "rm", "-q", "-r", "link.sh")
    (repo / "link.sh").write_text("a file again\n")
    commit_all(repo, "dir -> file")
    sync.sync_tree(host, repo, str(dest), method=method)
    assert deployed(dest) == committed(repo)
    assert empty_dirs(dest) == []


def test_auto_picks_rsync_when_both_sides_have_it(repo: Path, dest: Path) -> None:
    result = sync.sync_tree(LocalHost(), repo, str(dest))
    assert result.method == "rsync"
    assert deployed(dest) == committed(repo)


def test_bad_method_and_empty_dest_are_usage_errors(repo: Path) -> None:
    with pytest.raises(UsageError, match="sync method"):
        sync.sync_tree(LocalHost(), repo, "/tmp/x", method="scp")
    with pytest.raises(UsageError, match="empty"):
        sync.sync_tree(LocalHost(), repo, "  ")


def test_not_a_repo_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a git checkout"):
        sync.sync_tree(LocalHost(), tmp_path, str(tmp_path / "d"))


class _UploadFails(LocalHost):
    """A host whose upload breaks (a dropped SFTP channel), to see what a half-done sync leaves."""

    def put(self, local: Path, remote: str) -> None:
        raise ArmjitError(f"upload of {local.name} failed: connection lost")


def test_a_failed_python_sync_leaves_no_marker(repo: Path, dest: Path) -> None:
    sync.sync_tree(LocalHost(), repo, str(dest), method="python")
    assert sync.read_marker(LocalHost(), str(dest)) is not None
    (repo / "cinderx" / "Jit" / "lir.h").write_text("will not arrive\n")
    commit_all(repo, "edit")
    with pytest.raises(ArmjitError, match="connection lost"):
        sync.sync_tree(_UploadFails(), repo, str(dest), method="python")
    assert sync.read_marker(LocalHost(), str(dest)) is None


def test_a_failed_rsync_leaves_no_marker(repo: Path, tmp_path: Path, sshd_host: Any) -> None:
    dest = str(tmp_path / ODD_DIR)
    with contextlib.closing(ssh_host_for(sshd_host)) as host:
        # python: an rsync here would leave a shared OpenSSH connection that skips the key check
        sync.sync_tree(host, repo, dest, method="python")
        assert sync.read_marker(host, dest) is not None
    strict = dataclasses.replace(ssh_host_for(sshd_host).target, strict=True)
    with contextlib.closing(SshHost(strict)) as host:
        host.open()  # paramiko knows the key now; OpenSSH (strict) will not find it
        sshd_host.known_hosts_path.write_bytes(b"")
        with pytest.raises(HostKeyUnknown, match=r"rsync found no key for .* \(strict checking\)") as caught:
            sync.sync_tree(host, repo, dest, method="rsync")
        assert "\n" not in str(caught.value)
        assert sync.read_marker(host, dest) is None


def test_rsync_after_first_use_trust_checks_the_key_strictly(repo: Path, tmp_path: Path, sshd_host: Any) -> None:
    """armjit's session records the key (trust on first use); rsync's OpenSSH then finds that
    entry with StrictHostKeyChecking=yes: one policy, one known_hosts file."""
    assert sshd_host.known_hosts_path.read_bytes() == b""
    dest = tmp_path / "dest"
    with contextlib.closing(ssh_host_for(sshd_host)) as host:
        assert "StrictHostKeyChecking=yes" in host.rsync_shell()
        result = sync.sync_tree(host, repo, str(dest), method="rsync")
    assert result.method == "rsync" and deployed(dest) == committed(repo)
    entries = [line.split()[0] for line in sshd_host.known_hosts_path.read_text().splitlines()]
    assert entries == [f"[127.0.0.1]:{sshd_host.port}"]


def test_a_changed_host_key_is_refused_by_rsync_and_by_a_new_session(
    repo: Path, tmp_path: Path, sshd_host: Any
) -> None:
    dest = str(tmp_path / "dest")
    with contextlib.closing(ssh_host_for(sshd_host)) as host:
        sync.sync_tree(host, repo, dest, method="python")  # a session is open; no OpenSSH connection yet
        # Another key recorded under the host's name: seen from the open session, as after a reinstall.
        other = tmp_path / "other_host_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
        kind, blob = other.with_suffix(".pub").read_text().split()[:2]
        sshd_host.known_hosts_path.write_text(f"[127.0.0.1]:{sshd_host.port} {kind} {blob}\n")
        with pytest.raises(HostKeyChanged) as by_rsync:
            sync.sync_tree(host, repo, dest, method="rsync")
        assert sync.read_marker(host, dest) is None
    with pytest.raises(HostKeyChanged) as by_session:
        ssh_host_for(sshd_host).open()
    for caught in (by_rsync, by_session):
        assert "changed" in str(caught.value) and "\n" not in str(caught.value) and caught.value.exit_code == 2


# Two armjit runs staging one repository: the second waits for the first's lock. Each worker
# writes to a shared log; the order of the lines is the evidence (no clocks involved).
LOCK_WORKER = """
import sys, time
from pathlib import Path
from armjit.seams.sync.source import locked

lock, log, role = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

def write(line):
    with log.open("a") as handle:
        handle.write(line + "\\n")

def wait_for(line):
    for _ in range(6000):
        if line in log.read_text().split():
            return
        time.sleep(0.01)
    sys.exit(f"{role}: never saw {line}")

if role == "first":
    with locked(lock):
        write("first-in")
        wait_for("second-waiting")
        write("first-out")
else:
    wait_for("first-in")
    write("second-waiting")
    with locked(lock):
        write("second-in")
"""


def test_the_stage_lock_serialises_two_processes(tmp_path: Path) -> None:
    lock, log = tmp_path / "stage.lock", tmp_path / "order.log"
    log.write_text("")
    workers = [
        subprocess.Popen([sys.executable, "-c", LOCK_WORKER, str(lock), str(log), role], stderr=subprocess.PIPE)
        for role in ("first", "second")
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    assert log.read_text().split() == ["first-in", "second-waiting", "first-out", "second-in"]


# -- markers -----------------------------------------------------------------------------------


def test_marker_records_and_checks_the_deploy(repo: Path, dest: Path) -> None:
    host = LocalHost()
    assert sync.read_marker(host, str(dest)) is None
    result = sync.sync_tree(host, repo, str(dest), ref="arm-jit")
    data = sync.read_marker(host, str(dest))
    assert data is not None
    assert data["commit"] == run_git(repo, "rev-parse", "arm-jit").strip()
    assert data["branch"] == "arm-jit" and data["worktree"] is False and data["dirty_hash"] is None
    assert data["method"] == result.method and data["time"]
    assert sync.check_marker(data, result.source, where="here") == result.marker

    (repo / "new.txt").write_text("x\n")
    newer = gitops.source_state(repo, None, worktree=False)
    assert newer.commit == result.source.commit  # untracked files do not change the commit
    later = gitops.SourceState(commit_all(repo, "newer"), "arm-jit", False, None)
    with pytest.raises(ArmjitError, match=r"holds arm-jit @ \w+, expected arm-jit @ \w+: sync again") as caught:
        sync.verify_deploy(host, str(dest), later)
    assert "\n" not in str(caught.value)
    with pytest.raises(ArmjitError, match="no deploy marker"):
        sync.check_marker(None, later, where="h:/d")
    with pytest.raises(ArmjitError, match="lacks"):
        sync.check_marker({"branch": "x"}, later, where="h:/d")
    (dest / sync.MARKER_NAME).write_text("{not json")
    with pytest.raises(ArmjitError, match="not JSON"):
        sync.read_marker(host, str(dest))


# -- staging and manifests -----------------------------------------------------------------------


def test_stage_rewrites_only_changed_files(repo: Path) -> None:
    stage, modes = sync.stage_tree(repo, "arm-jit")
    assert modes["scripts/gate.sh"] == "100755" and modes["link.sh"] == "120000"
    before = {p: (stage / p).lstat().st_mtime_ns for p in modes}
    (stage / "data.bin").write_bytes(b"tampered")
    (stage / "stray.txt").write_text("dropped here by someone\n")
    (repo / "cinderx" / "Jit" / "lir.h").write_text("changed\n")
    commit_all(repo, "one change")
    stage, modes = sync.stage_tree(repo, "arm-jit")
    after = {p: (stage / p).lstat().st_mtime_ns for p in modes}
    changed = sorted(p for p in modes if after[p] != before.get(p))
    assert changed == ["cinderx/Jit/lir.h", "data.bin"]
    assert (stage / "data.bin").read_bytes() == bytes(range(256)) * 40
    assert not (stage / "stray.txt").exists()
    assert not (repo / ".git" / "armjit" / "stage").is_relative_to(repo / "cinderx")
    assert run_git(repo, "status", "--porcelain") == ""  # the user's index and tree are untouched


def test_local_manifest_rehashes_same_size_same_second_edits(tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    path = tmp_path / "f.txt"
    old = 1_600_000_000 * 10**9
    path.write_text("AAAA")
    os.utime(path, ns=(old + 1, old + 1))
    first = sync.local_manifest(tmp_path, {"f.txt": ""}, cache)
    path.write_text("BBBB")
    os.utime(path, ns=(old + 1, old + 1))  # same size and the very same mtime: ctime still moved
    second = sync.local_manifest(tmp_path, {"f.txt": ""}, cache)
    assert first["f.txt"].sha256 != second["f.txt"].sha256
    assert second["f.txt"] == sync.FileEntry("f", 4, hashlib.sha256(b"BBBB").hexdigest())


def test_plan_sync_sends_deletes_and_prunes_dirs() -> None:
    local = {
        "a.txt": sync.FileEntry("f", 1, "h1"),
        "keep/x": sync.FileEntry("f", 1, "h2"),
        "d/e/new": sync.FileEntry("x", 2, "h3"),
        "build/tracked.txt": sync.FileEntry("f", 3, "h4"),
    }
    remote = {
        "a.txt": sync.RemoteFile("f", 1),
        "keep/x": sync.RemoteFile("f", 1),
        "d/e/new": sync.RemoteFile("f", 2),  # lost its exec bit on the host
        "gone/deep/old.txt": sync.RemoteFile("f", 9),
        "keep/old": sync.RemoteFile("f", 1),
        "theirs/notes.txt": sync.RemoteFile("f", 4),  # someone else's: armjit never wrote it
    }
    known = {"a.txt": "h1", "keep/x": "OLD", "d/e/new": "h3", "build/tracked.txt": "h4"}
    written = frozenset({"a.txt", "gone/deep/old.txt", "keep/old", "keep/x"})
    plan = sync.plan_sync(local, remote, known, written=written)
    assert plan.send == ("d/e/new", "keep/x")
    assert plan.delete == ("gone/deep/old.txt", "keep/old")
    assert plan.rmdirs == ("gone/deep", "gone")
    assert sync.plan_sync(local, remote, known).delete == ()  # nothing recorded as written: nothing deleted
    unknown = sync.plan_sync(local, remote, {**known, "build/tracked.txt": "other"}, written=written)
    assert "build/tracked.txt" in unknown.send


def test_parse_listing_and_rsync_stats_from_real_tools(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "d").mkdir(parents=True)
    (src / "d" / "x").write_text("12345")
    (src / "run").write_text("#!/bin/sh\n")
    (src / "run").chmod(0o755)
    (src / "ln").symlink_to("run")
    out = subprocess.run(
        ["find", ".", "(", "-type", "f", "-o", "-type", "l", ")", "-printf", "%y %m %s %P\\0%l\\0"],
        cwd=src,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sync.parse_listing(out) == {
        "d/x": sync.RemoteFile("f", 5),
        "run": sync.RemoteFile("x", 10),
        "ln": sync.RemoteFile("l", 3, "run"),
    }
    dst.mkdir()
    (dst / "extra1").write_text("x")
    (dst / "extra2").write_text("y")
    options = sync.rsync_options(keep=(), filter_file=None, exact_times=True, compress=False)
    pushed = LocalHost().rsync_push(options, src, str(dst), timeout=60)
    assert pushed.ok, pushed.stderr
    files, deleted, sent = sync.parse_rsync_stats(pushed.stdout)
    assert (files, deleted) == (2, 0)  # rsync deletes nothing: armjit deletes only what it wrote
    assert (dst / "extra1").exists() and (dst / "extra2").exists()
    assert sent > 15


def test_rsync_reuses_one_ssh_connection(repo: Path, tmp_path: Path, sshd_host: Any) -> None:
    with contextlib.closing(ssh_host_for(sshd_host)) as host:
        for _ in range(3):
            sync.sync_tree(host, repo, str(tmp_path / "dest"), method="rsync")
    accepted = sshd_host.log_path.read_text().count("Accepted publickey")
    assert accepted == 2  # paramiko's connection + one shared OpenSSH master for three rsyncs


def test_big_updates_go_plain_and_compression_is_optional(repo: Path, tmp_path: Path) -> None:
    big = os.urandom(9_000_000)
    (repo / "big.bin").write_bytes(big)
    commit_all(repo, "big binary")
    plain = sync.sync_tree(LocalHost(), repo, str(tmp_path / "py"), method="python")
    assert (tmp_path / "py" / "big.bin").read_bytes() == big
    assert plain.bytes_sent > len(big)  # random bytes sent as they are, in a plain tar
    zipped = sync.sync_tree(LocalHost(), repo, str(tmp_path / "rs"), method="rsync", compress=True)
    assert deployed(tmp_path / "rs") == committed(repo) and zipped.method == "rsync"
