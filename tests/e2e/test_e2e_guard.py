"""The path guard against a real host with a real /etc and other users' homes: the throwaway
overlay of the e2e CinderX host (Debian sid chroot, sshd on 127.0.0.1), never this machine.

Each case points armjit at a path that, spelled one way, looks like a work dir of its own and,
resolved on the host, is the host's /etc or another user's home. The refusal must come before
anything is written: the tree it points at is compared file by file before and after.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def invoke(host: Any, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, "-m", "invoke", "-r", str(ROOT), "baseline",
        "--host", f"root@127.0.0.1:{host.port}",
        "--key", str(host.key_path),
        "--known-hosts", str(host.known_hosts_path),
        "--build", "none",
        "--remote-python", "/usr/bin/python3.14",
        "--reports", str(tmp_path / "reports"),
        "--remote-incoming", "/srv/guard/incoming",
        *extra,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)


def tree(root: Path) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        found[rel] = path.read_bytes() if path.is_file() and not path.is_symlink() else b"<entry>"
    return found


@pytest.fixture
def hostile(cinderx_host: Any) -> Iterator[Path]:
    """In the overlay: /srv/x/etclink -> /etc, and a user bob whose home holds his key and notes."""
    root = Path(cinderx_host.root)
    (root / "srv" / "x").mkdir(parents=True, exist_ok=True)
    link = root / "srv" / "x" / "etclink"
    if not link.is_symlink():
        link.symlink_to("/etc")
    passwd = root / "etc" / "passwd"
    before = passwd.read_bytes()
    passwd.write_bytes(before + b"bob:x:4242:4242::/home/bob:/bin/sh\n")
    home = root / "home" / "bob"
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    (home / ".ssh" / "authorized_keys").write_text("ssh-ed25519 AAAA bob@laptop\n")
    (home / "notes.md").write_text("bob's notes\n")
    yield root
    passwd.write_bytes(before)
    link.unlink()


@pytest.mark.parametrize(
    ("workdir", "why"),
    [
        ("/srv/x/etclink", "resolves to /etc) refused: /etc is a system directory"),
        ("/srv/x/etclink/armjit-rt", "resolves to /etc/armjit-rt) refused"),
        ("/home/bob", "inside bob's home /home/bob"),
        ("~bob/work", "inside bob's home /home/bob"),
        ("~daemon/work", "inside /usr"),
    ],
)
@pytest.mark.parametrize("adopt", [True, False])
def test_a_work_dir_is_judged_by_what_it_is_on_the_host(
    cinderx_host: Any, hostile: Path, tmp_path: Path, workdir: str, why: str, adopt: bool
) -> None:
    etc, bob = tree(hostile / "etc"), tree(hostile / "home" / "bob")
    result = invoke(cinderx_host, tmp_path, "--remote-workdir", workdir, *(["--adopt-workdir"] if adopt else []))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and why in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert tree(hostile / "etc") == etc and tree(hostile / "home" / "bob") == bob
    assert not (hostile / "etc" / "armjit-rt").exists()
    assert not list((hostile / "srv" / "x").glob("*.armjit-*"))


def test_an_unknown_user_is_one_line(cinderx_host: Any, hostile: Path, tmp_path: Path) -> None:
    result = invoke(cinderx_host, tmp_path, "--remote-workdir", "~nosuchuser/work")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "no user 'nosuchuser'" in lines[0]
