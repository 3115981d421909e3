"""The CinderX sandbox host itself: provisioning, the warm cache, SSH access, teardown, and failure messages."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paramiko
import pytest

from . import sandbox
from .sandbox import (
    PACKAGES,
    RECIPE_VERSION,
    SandboxHost,
    TreeStatus,
    debian_mirror,
    mounts_under,
    parse_deb822_uris,
    parse_sources_list_uris,
    processes_rooted_in,
    provision,
    sandbox_host,
)

# -- the mirror comes from the machine's apt configuration (pure, always runs) ----------------------------

DEB822 = """\
Types: deb
# http://snapshot.example.org/archive/debian/20250520T000000Z
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example.org/debian
Suites: bookworm
Components: main

Enabled: no
Types: deb
URIs: http://disabled.example.org/debian
Suites: bookworm
"""


def test_deb822_parse_takes_enabled_binary_archives_security_last() -> None:
    assert parse_deb822_uris(DEB822) == [
        "http://mirror.example.org/debian",
        "http://mirror.example.org/debian-security",
    ]


def test_sources_list_parse_ignores_comments_options_and_sources() -> None:
    text = (
        "# deb http://commented.example.org/debian sid main\n"
        "deb http://security.example.org/debian-security bookworm-security main\n"
        "deb-src http://src.example.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example.org/debian bookworm main # trailing\n"
    )
    assert parse_sources_list_uris(text) == [
        "http://mirror.example.org/debian",
        "http://security.example.org/debian-security",
    ]


def test_mirror_is_read_from_apt_config_not_hard_coded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARMJIT_SANDBOX_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822, encoding="utf-8")
    assert debian_mirror(tmp_path) == "http://mirror.example.org/debian"
    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text("deb http://other.example.org/debian/ bookworm main\n", encoding="utf-8")
    assert debian_mirror(tmp_path) == "http://other.example.org/debian"


def test_no_debian_archive_in_apt_config_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARMJIT_SANDBOX_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    with pytest.raises(sandbox.SandboxError, match="ARMJIT_SANDBOX_MIRROR") as caught:
        debian_mirror(tmp_path)
    assert "\n" not in str(caught.value)


# -- provisioning and the cache --------------------------------------------------------------------------


def _chroot(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["chroot", str(root), *argv],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )


def test_provisioned_tree_has_the_recipe(sandbox_tree: TreeStatus) -> None:
    root = sandbox_tree.root
    assert root.parent.name == f"sandbox-{RECIPE_VERSION}"
    assert (root.parent / "complete").is_file()
    # Outside the checkout: the tree is never picked up by git, ruff or pytest collection.
    assert Path(__file__).resolve().parents[2] not in root.parents
    version = _chroot(
        root, "/usr/bin/python3.14", "-I", "-B", "-c", "import sys, ssl, venv; print(sys.version_info[:2])"
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == "(3, 14)"
    for tool in ("/usr/sbin/sshd", "/usr/bin/rsync", "/usr/bin/git"):
        assert (root / tool.lstrip("/")).is_file(), tool
    listed = _chroot(root, "dpkg-query", "-W", "-f", "${Package} ${Status}\n", *PACKAGES)
    assert listed.returncode == 0, listed.stderr
    assert all(line.endswith("install ok installed") for line in listed.stdout.splitlines()), listed.stdout
    # Each run makes its own host key; none may be baked into the shared tree.
    assert not list((root / "etc/ssh").glob("ssh_host_*"))


def test_warm_cache_reuses_the_tree(sandbox_tree: TreeStatus) -> None:
    stamp = sandbox_tree.root.parent / "complete"
    before = (stamp.stat().st_ino, stamp.stat().st_mtime_ns, sandbox_tree.root.stat().st_ino)
    again = provision()
    assert again.built is False
    assert again.root == sandbox_tree.root
    assert (stamp.stat().st_ino, stamp.stat().st_mtime_ns, sandbox_tree.root.stat().st_ino) == before


# -- the running host ----------------------------------------------------------------------------------------


def test_ssh_with_the_key_runs_python314(cinderx_host: SandboxHost) -> None:
    assert cinderx_host.host == "127.0.0.1"
    done = subprocess.run(
        cinderx_host.ssh_argv("python3.14 -c 'import sys; print(sys.version)'; echo HOME=$HOME; ls -A $HOME"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("3.14."), lines
    # SetEnv HOME: every session starts in a fresh home, so no rc file runs; only the kept ccache
    # directory (and what earlier tests of the session left) is there.
    assert lines[1] == f"HOME={sandbox.SESSION_HOME}"
    assert not {".bashrc", ".profile", ".bash_profile"} & set(lines[2:]) and ".cache" in lines[2:]


def test_host_key_is_pinned_and_sftp_works(cinderx_host: SandboxHost, tmp_path: Path) -> None:
    # The way fabric reaches the host: paramiko, known_hosts enforced, SFTP for put/get.
    client = paramiko.SSHClient()
    client.load_host_keys(str(cinderx_host.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        cinderx_host.host,
        port=cinderx_host.port,
        username=cinderx_host.user,
        key_filename=str(cinderx_host.key_path),
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )
    try:
        local = tmp_path / "payload.bin"
        local.write_bytes(os.urandom(4096))
        with client.open_sftp() as sftp:
            sftp.put(str(local), f"{sandbox.SESSION_HOME}/payload.bin")
            sftp.get(f"{sandbox.SESSION_HOME}/payload.bin", str(tmp_path / "back.bin"))
        assert (tmp_path / "back.bin").read_bytes() == local.read_bytes()
        assert (cinderx_host.root / sandbox.SESSION_HOME.lstrip("/") / "payload.bin").is_file()
    finally:
        client.close()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_teardown_leaves_no_process_and_no_mount(sandbox_tree: TreeStatus) -> None:
    with sandbox_host() as host:
        run_dir = host.root.parent
        # A live session: sshd's connection child plus a command running inside the chroot.
        session = subprocess.Popen(
            host.ssh_argv("echo started; exec sleep 300"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert session.stdout is not None
        assert session.stdout.readline() == b"started\n"
        # `echo` runs before bash execs `sleep`: wait until the command shows up.
        deadline = time.monotonic() + 10
        while True:
            inside = {pid: _cmdline(pid) for pid in processes_rooted_in(host.root)}
            if any("sleep 300" in cmdline for cmdline in inside.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        sshd_pids = [pid for pid in inside if "sshd" in _cmdline(pid)]
        assert sshd_pids, inside
        assert any("sleep 300" in cmdline for cmdline in inside.values())
        ccache = host.root / sandbox.SESSION_HOME.lstrip("/") / sandbox.CCACHE_SUBDIR
        assert mounts_under(run_dir) == [host.root, host.root / "proc", ccache]
        port = host.port
    try:
        session.wait(timeout=15)  # the session ends because its sshd was killed
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()
    assert not [pid for pid, cmdline in inside.items() if _cmdline(pid) == cmdline], "processes left"
    assert processes_rooted_in(host.root) == []
    assert not any("sshd" in _cmdline(pid) and str(run_dir) in _cmdline(pid) for pid in _all_pids())
    assert mounts_under(run_dir) == []
    assert not run_dir.exists()
    # Nothing listens on the port any more.
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def test_warm_start_is_quick_and_reuses_the_cache(sandbox_tree: TreeStatus) -> None:
    # Not a timing assertion: a warm start must not rebuild; the figures are in measure_sandbox.py.
    started = time.monotonic()
    with sandbox_host() as host:
        done = subprocess.run(host.ssh_argv("true"), capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
    assert provision().built is False
    assert time.monotonic() - started < 120  # a rebuild would take minutes


# -- failures say why ----------------------------------------------------------------------------------------


def _unprivileged_python() -> str:
    # The test venv may live where an unprivileged user cannot read it; the library needs only the stdlib.
    for candidate in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", candidate, "-c", "pass"],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return candidate
    pytest.fail("no python3 an unprivileged user can run (needed to check the not-root message)", pytrace=False)


def test_not_root_fails_with_one_line(e2e_requested: bool) -> None:
    # pytest's tmp_path sits under a root-only directory: the unprivileged user needs a readable copy.
    with tempfile.TemporaryDirectory(prefix="armjit-e2e-") as readable:
        Path(readable).chmod(0o755)
        shutil.copyfile(sandbox.__file__, Path(readable, "sandbox_copy.py"))
        done = _provision_as_nobody(Path(readable))
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert done.stdout.count("\n") == 1
    assert "needs root" in done.stdout


def _provision_as_nobody(directory: Path) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import sandbox_copy as s\n"
        "try:\n    s.provision()\nexcept s.SandboxError as exc:\n    print(exc); sys.exit(3)\n"
    )
    return subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            _unprivileged_python(),
            "-c",
            code,
            str(directory),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(directory)},
        check=False,
    )


def test_unreachable_archive_fails_naming_the_mirror(
    e2e_requested: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A closed port on loopback stands in for an archive that cannot be reached.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    mirror = f"http://127.0.0.1:{closed}/debian"
    monkeypatch.setenv("ARMJIT_SANDBOX_MIRROR", mirror)
    monkeypatch.setenv("ARMJIT_SANDBOX_CACHE", str(tmp_path / "cache"))
    with pytest.raises(sandbox.SandboxError) as caught:
        provision()
    message = str(caught.value)
    assert "\n" not in message
    assert mirror in message and "Debian archive" in message
    # No half-built tree is left to be mistaken for a cache.
    assert not (tmp_path / "cache" / f"sandbox-{RECIPE_VERSION}").exists()
    assert not list((tmp_path / "cache").glob(".sandbox-*"))
    assert mounts_under(tmp_path) == []
