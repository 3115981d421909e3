"""known_hosts read like OpenSSH reads them, and first-use trust that only ever appends one line.

The matching is checked against OpenSSH's own ``ssh-keygen -F``; the files are real OpenSSH
files (hashed by ``ssh-keygen -H``), used against the real sshd on 127.0.0.1.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from armjit.config import merge_settings
from armjit.errors import HostKeyChanged
from armjit.seams.hosts import open_host
from armjit.seams.hosts.known_hosts import append_key, host_matches, lookup, parse_known_hosts

# A real ed25519 key (any valid key will do for lines that must parse).
OTHER_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def ssh_settings(sshd: Any, known_hosts: Path, **extra: str) -> Any:
    cli = {
        "host": f"{sshd.user}@{sshd.host}:{sshd.port}",
        "key": str(sshd.key_path),
        "known_hosts": str(known_hosts),
        **extra,
    }
    return merge_settings(cli=cli)


def keygen_hash(tmp_path: Path, text: str) -> str:
    """``text`` (known_hosts lines) hashed by OpenSSH itself."""
    path = tmp_path / "to-hash"
    path.write_text(text)
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(path)], check=True, capture_output=True)
    return path.read_text()


def test_parse_skips_what_it_cannot_use_and_names_file_and_line() -> None:
    data = (
        b"# a comment\n"
        b"\n"
        b"example.org,192.0.2.1 ssh-ed25519 " + OTHER_KEY.encode() + b"\n"
        b"@cert-authority *.example.org ssh-ed25519 " + OTHER_KEY.encode() + b"\n"
        b"h\xe9llo.example ssh-ed25519 " + OTHER_KEY.encode() + b"\n"
        b"just-a-host\n"
        b"host ssh-ed25519 not*base64\n"
        b"host sk-unknown-type@example.com " + OTHER_KEY.encode() + b"\n"
        b"@revoked bad.example ssh-ed25519 " + OTHER_KEY.encode() + b"\n"
        b"@weird host ssh-ed25519 " + OTHER_KEY.encode() + b"\n"
    )
    entries, warnings = parse_known_hosts(data, "kh")
    assert [(e.patterns, e.revoked, e.where) for e in entries] == [
        (("example.org", "192.0.2.1"), False, "kh:3"),
        (("bad.example",), True, "kh:9"),
    ]
    assert [w.split(":")[1] for w in warnings] == ["4", "5", "6", "7", "8", "10"]
    assert all(w.startswith("kh:") and w.endswith("skipped") for w in warnings)
    assert "@cert-authority" in warnings[0] and "not UTF-8" in warnings[1]


@pytest.mark.parametrize(
    ("patterns", "name"),
    [
        ("example.org,192.0.2.1", "192.0.2.1"),
        ("example.org,192.0.2.1", "example.org"),
        ("*.example.org", "a.example.org"),
        ("*.example.org", "example.org"),
        ("host?", "host1"),
        ("host?", "host12"),
        ("[127.0.0.1]:2222", "[127.0.0.1]:2222"),
        ("[127.0.0.*]:2222", "[127.0.0.1]:2222"),
        ("[127.0.0.1]:2222", "127.0.0.1"),
        ("*,!bad.example", "bad.example"),
        ("*,!bad.example", "good.example"),
        ("EXAMPLE.org", "example.ORG"),
    ],
)
def test_matching_agrees_with_openssh(tmp_path: Path, patterns: str, name: str) -> None:
    path = tmp_path / "kh"
    path.write_text(f"{patterns} ssh-ed25519 {OTHER_KEY}\n")
    found = subprocess.run(["ssh-keygen", "-F", name, "-f", str(path)], capture_output=True, text=True, check=False)
    assert host_matches(patterns.split(","), name) == (found.returncode == 0 and OTHER_KEY in found.stdout)


def test_hashed_entries_from_ssh_keygen_match(tmp_path: Path) -> None:
    hashed = keygen_hash(tmp_path, f"[127.0.0.1]:2222 ssh-ed25519 {OTHER_KEY}\nexample.org ssh-ed25519 {OTHER_KEY}\n")
    assert hashed.count("|1|") == 2 and "example.org" not in hashed
    path = tmp_path / "hashed"
    path.write_text(hashed)
    assert len(lookup([path], "[127.0.0.1]:2222").known) == 1
    assert len(lookup([path], "example.org").known) == 1
    assert lookup([path], "example.com").known == ()


def test_append_keeps_every_byte_and_adds_one_line(tmp_path: Path) -> None:
    path = tmp_path / "kh"
    original = b"# kept by hand\nexample.org,192.0.2.1 ssh-ed25519 " + OTHER_KEY.encode() + b"  # no newline"
    path.write_bytes(original)
    append_key(path, "[127.0.0.1]:2222", "ssh-ed25519", OTHER_KEY)
    data = path.read_bytes()
    assert data.startswith(original)
    assert data[len(original) :] == f"\n[127.0.0.1]:2222 ssh-ed25519 {OTHER_KEY}\n".encode()


@pytest.mark.ssh
def test_first_use_with_an_openssh_users_files_appends_one_line(
    shared_sshd: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A ~/.ssh/known_hosts with a @cert-authority, a hashed and a non-UTF-8 line, and an armjit
    file kept by hand: the session opens, warns once per bad line, and appends exactly one line."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    user_file = home / ".ssh" / "known_hosts"
    hashed = keygen_hash(tmp_path, f"other.example ssh-ed25519 {OTHER_KEY}\n").encode()
    user_bytes = (
        b"@cert-authority *.corp.example ssh-ed25519 "
        + OTHER_KEY.encode()
        + b"\n"
        + hashed
        + b"caf\xe9.example ssh-ed25519 "
        + OTHER_KEY.encode()
        + b"\n"
    )
    user_file.write_bytes(user_bytes)
    armjit_file = tmp_path / "armjit_known_hosts"
    kept = b"# hosts I keep by hand\r\nexample.org,192.0.2.1 ssh-ed25519 " + OTHER_KEY.encode() + b"\r\n"
    armjit_file.write_bytes(kept)

    host = open_host(ssh_settings(shared_sshd, armjit_file))
    try:
        assert host.run("echo ok").stdout.strip() == "ok"
        assert host.trust is not None and host.trust.first_use
    finally:
        host.close()
    assert user_file.read_bytes() == user_bytes
    data = armjit_file.read_bytes()
    assert data.startswith(kept) and data[len(kept) :] == shared_sshd.host_key_line().encode()
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert f"{user_file}:1: @cert-authority" in err and f"{user_file}:3: not UTF-8" in err

    again = open_host(ssh_settings(shared_sshd, armjit_file))  # known now: nothing appended
    try:
        assert again.trust is not None and not again.trust.first_use
    finally:
        again.close()
    assert armjit_file.read_bytes() == data


@pytest.mark.ssh
@pytest.mark.parametrize("form", ["hashed", "wildcard", "list"])
def test_a_changed_key_is_refused_in_every_form(shared_sshd: Any, tmp_path: Path, form: str) -> None:
    name = f"[127.0.0.1]:{shared_sshd.port}"
    pattern = {"hashed": name, "wildcard": f"[127.0.0.*]:{shared_sshd.port}", "list": f"example.org,{name}"}[form]
    text = f"{pattern} ssh-ed25519 {OTHER_KEY}\n"
    if form == "hashed":
        text = keygen_hash(tmp_path, text)
    known = tmp_path / "kh"
    known.write_text(text)
    with pytest.raises(HostKeyChanged, match="changed") as info:
        open_host(ssh_settings(shared_sshd, known))
    assert "\n" not in str(info.value) and known.read_text() == text


@pytest.mark.ssh
def test_a_revoked_key_is_refused_and_not_saved(shared_sshd: Any, tmp_path: Path) -> None:
    kind, blob = shared_sshd.host_key_path.with_suffix(".pub").read_text().split()[:2]
    known = tmp_path / "kh"
    text = f"@revoked * {kind} {blob}\n"
    known.write_text(text)
    with pytest.raises(HostKeyChanged, match=r"@revoked at .*kh:1"):
        open_host(ssh_settings(shared_sshd, known))
    assert known.read_text() == text
    # Also when the same key is listed as trusted: OpenSSH refuses a revoked key in any case.
    both = text + shared_sshd.host_key_line()
    known.write_text(both)
    with pytest.raises(HostKeyChanged, match="@revoked"):
        open_host(ssh_settings(shared_sshd, known))
    assert known.read_text() == both


def test_ssh_keygen_is_there() -> None:
    assert shutil.which("ssh-keygen"), "the matching tests compare with OpenSSH's ssh-keygen"
