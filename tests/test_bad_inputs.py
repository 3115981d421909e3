"""Bad input of every kind gives one line, exit status 2, and writes nothing (issue 12, item 7).

Each case runs a real task with real files: settings from flags, the environment, pyproject.toml
and invoke config files; ssh_config and known_hosts files against the real sshd on 127.0.0.1;
git repositories in odd states; pyperf JSON files; paths that cannot be written. A workspace
under tmp_path holds HOME, the working directory, the inputs and the reports directory, and is
compared byte for byte before and after: nothing may be added, changed or removed.

Most cases run in-process (the ``armjit`` script's ``Program`` with an argv);
every seventh case, and every invoke-config case, runs through the real ``invoke`` CLI in a
subprocess. An invoke config error escapes ``Program.run`` before any task; in-process it is
turned into its line by ``armjit.cli.crash.describe``, which is what the installed hook prints.

``test_the_table`` writes the kinds and counts to reports/bad_inputs.md (README, reliability).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from invoke_cli import ROOT, run_invoke

from armjit.cli import crash, namespace
from armjit.cli.program import ArmjitProgram
from armjit.render import table

GOOD_PYPERF = ROOT / "tests" / "data" / "same-wheel" / "richards_load1.7_w10.json"
OTHER_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
RESULTS: dict[str, list[bool]] = {}


@dataclass(frozen=True)
class Case:
    kind: str
    label: str
    argv: tuple[str, ...]
    fragment: str  # in the error line
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes | str] = field(default_factory=dict)  # under the workspace
    setup: str = ""  # sshd | banner | refused | git | git-empty | ro | immutable | hash
    script_only: bool = False  # the armjit script's own behaviour (invoke's CLI exits 1 on parse errors)


def settings_case(kind: str, label: str, flags: tuple[str, ...], fragment: str) -> Case:
    return Case(kind, label, ("settings", *flags), fragment)


# -- CLI values ---------------------------------------------------------------------------------
_VALUES = [
    ("--port", "0", "outside 1-65535"),
    ("--port", "70000", "outside 1-65535"),
    ("--port", "-1", "outside 1-65535"),
    ("--port", "abc", "expected an integer"),
    ("--port", "1.5", "expected an integer"),
    ("--port", "", "expected an integer"),
    ("--connect-timeout", "0", "at least 1"),
    ("--connect-timeout", "x", "expected an integer"),
    ("--keepalive-interval", "0", "at least 1"),
    ("--keepalive-interval", "fast", "expected an integer"),
    ("--keepalive-count", "0", "at least 1"),
    ("--keepalive-count", "-3", "at least 1"),
    ("--processes", "0", "at least 1"),
    ("--processes", "four", "expected an integer"),
    ("--values", "0", "at least 1"),
    ("--warmups", "-1", "cannot be negative"),
    ("--loops", "-2", "cannot be negative"),
    ("--parallel", "0", "at least 1"),
    ("--step-timeout", "0", "at least 1"),
    ("--autojit", "-1", "cannot be negative"),
    ("--autojit", "1e3", "expected an integer"),
    ("--smoke-autojit", "-5", "cannot be negative"),
    ("--code-size-limit", "-1", "cannot be negative"),
    ("--min-free-build", "-1", "cannot be negative"),
    ("--min-free-build", "lots", "expected a number"),
    ("--min-free-build", "inf", "finite"),
    ("--min-free-build", "nan", "finite"),
    ("--min-free-venv", "-0.5", "cannot be negative"),
    ("--bench", "richards;reboot", "benchmark names"),
    ("--bench", "$(reboot)", "benchmark names"),
    ("--bench", "../etc", "benchmark names"),
    ("--bench", ",", "at least one benchmark"),
    ("--modes", "bogus", "unknown mode"),
    ("--modes", "nojit,turbo", "unknown mode"),
    ("--build", "src", "--build"),
    ("--build", "pypi==", "--build"),
    ("--build", "pypi==1 2", "--build"),
    ("--sync-method", "scp", "--sync-method"),
    ("--jit-hook", "site", "--jit-hook"),
    ("--bench-runner", "perf", "--bench-runner"),
    ("--build-env", "FOO=1", "--build-env"),
    ("--build-env", "CC", "--build-env"),
    ("--build-env", "=x", "--build-env"),
    ("--branch", "a..b", "invalid git ref"),
    ("--branch", "-x", "invalid git ref"),
    ("--branch", "a b", "invalid git ref"),
    ("--upstream-branch", "~x", "invalid git ref"),
    ("--upstream-remote", "-r", "invalid git ref"),
    ("--host", "a b", "--host"),
    ("--host", "user@", "--host"),
    ("--host", "@host", "--host"),
    ("--host", "host:abc", "is not a number"),
    ("--host", "host:0", "outside 1-65535"),
    ("--host", "host:99999", "outside 1-65535"),
    ("--host", "a:b:c", "--host"),
    ("--remote-workdir", "/", "--remote-workdir"),
    ("--remote-workdir", "/usr", "--remote-workdir"),
    ("--remote-workdir", "/srv", "--remote-workdir"),
    ("--remote-workdir", "/srv/../etc", "--remote-workdir"),
    ("--remote-incoming", "/", "--remote-incoming"),
    ("--remote-incoming", "/usr", "--remote-incoming"),
    ("--driver-venv", "/bin", "--driver-venv"),
    ("--reports", "/", "--reports"),
    ("--reports", "/usr", "--reports"),
    ("--notes-dir", "/etc", "--notes-dir"),
    ("--notes-dir", "a/../b", "--notes-dir"),
]
CASES: list[Case] = [settings_case("CLI values", f"{f} {v!r}", (f, v), frag) for f, v, frag in _VALUES]
CASES.append(
    settings_case("CLI values", "--bench-only with --skip-pyperf", ("--bench-only", "--skip-pyperf"), "nothing to run")
)
CASES += [
    settings_case("CLI values", "--jitlist ','", ("--jitlist", ","), "at least one module:qualname"),
    settings_case(
        "CLI values",
        "one --bench-script for two benchmarks",
        ("--bench", "richards,nbody", "--bench-script", "bench/bm.py"),
        "put {bench} in its path",
    ),
]
CASES += [
    Case("CLI values", "ab --processes 5 (ab runs one worker per side per block)", ("ab", "--aa", "--processes", "5"),
         "do not apply to ab"),
    Case("CLI values", "ab --bench-runner pyperformance", ("ab", "--aa", "--bench-runner", "pyperformance"),
         "do not apply to ab"),
]  # fmt: skip

# invoke's parse errors, through the armjit script (its Program makes them exit 2)
_PARSE = [
    ("unknown flag", ("settings", "--no-such-flag"), "No idea what"),
    ("unknown task", ("no-such-task",), "No idea what"),
    ("flag without its value", ("settings", "--port"), "needed value"),
    ("missing positional", ("decide",), "did not receive required positional"),
    ("unknown core flag", ("--no-such-core-flag", "settings"), "No idea what"),
]
CASES += [Case("CLI parsing", label, argv, frag, script_only=True) for label, argv, frag in _PARSE]

# -- environment ----------------------------------------------------------------------------------
_ENV = [
    ("ARMJIT_PORT", "abc", "expected an integer"),
    ("ARMJIT_PORT", "0", "outside 1-65535"),
    ("ARMJIT_STRICT_HOST_KEYS", "maybe", "expected true/false"),
    ("ARMJIT_REBASE", "2", "expected true/false"),
    ("ARMJIT_BENCH", "a;b", "benchmark names"),
    ("ARMJIT_PROCESSES", "0", "at least 1"),
    ("ARMJIT_MIN_FREE_BUILD", "5GB", "expected a number"),
    ("ARMJIT_HOST", "a b", "--host"),
    ("ARMJIT_MODES", "fast", "unknown mode"),
    ("ARMJIT_KEEPALIVE_COUNT", "0", "at least 1"),
    ("ARMJIT_REMOTE_WORKDIR", "/", "--remote-workdir"),
    ("ARMJIT_REPORTS", "/", "--reports"),
    ("ARMJIT_BUILD", "wheel", "--build"),
    ("ARMJIT_STEP_TIMEOUT", "-5", "at least 1"),
]
CASES += [Case("environment", f"{k}={v!r}", ("settings",), frag, env={k: v}) for k, v, frag in _ENV]

# -- pyproject.toml [tool.armjit] ----------------------------------------------------------------
_PYPROJECT: list[tuple[str, bytes | str, str]] = [
    ("unclosed table", "[tool.armjit\n", "cannot read [tool.armjit]"),
    ("unclosed string", '[tool.armjit]\nhost = "x\n', "cannot read [tool.armjit]"),
    ("duplicate key", "[tool.armjit]\nport = 1\nport = 2\n", "cannot read [tool.armjit]"),
    ("not UTF-8", b"[tool.armjit]\nhost = '\xff'\n", "cannot read [tool.armjit]"),
    ("bare word", "[tool.armjit]\nport = abc\n", "cannot read [tool.armjit]"),
    ("unknown setting", "[tool.armjit]\nhots = 'x'\n", "unknown setting 'hots'"),
    ("port string", "[tool.armjit]\nport = 'x'\n", "expected an integer"),
    ("processes 0", "[tool.armjit]\nprocesses = 0\n", "at least 1"),
    ("bench list", "[tool.armjit]\nbench = [';']\n", "benchmark names"),
    ("bool as text", "[tool.armjit]\nstrict-host-keys = 'maybe'\n", "expected true/false"),
    ("workdir /", "[tool.armjit]\nremote_workdir = '/'\n", "--remote-workdir"),
    ("port bool", "[tool.armjit]\nport = true\n", "expected an integer"),
]
CASES += [
    Case("pyproject.toml", label, ("settings",), frag, files={"cwd/pyproject.toml": text})
    for label, text, frag in _PYPROJECT
]

# -- invoke config files (-f) ---------------------------------------------------------------------
_INVOKE: list[tuple[str, str, bytes | str, str]] = [
    ("unclosed list", "c.yaml", "armjit:\n  port: [1\n", "invalid invoke configuration"),
    ("tab indent", "c.yaml", "armjit:\n\tport: 1\n", "invalid invoke configuration"),
    ("bad indent", "c.yaml", "armjit:\n  port: 1\n bench: x\n", "invalid invoke configuration"),
    ("unclosed quote", "c.yaml", "armjit:\n  host: 'x\n", "invalid invoke configuration"),
    ("not UTF-8", "c.yaml", b"armjit:\n  host: \xff\xfe\n", "invalid invoke configuration"),
    ("malformed JSON", "c.json", '{"armjit": {"port": 1,}}', "invalid invoke configuration"),
    ("unknown file type", "c.txt", "armjit: {}\n", "invalid invoke configuration"),
    ("armjit is a number", "c.yaml", "armjit: 5\n", "must be a mapping"),
    ("armjit is a list", "c.yaml", "armjit: [1, 2]\n", "must be a mapping"),
    ("port text", "c.yaml", "armjit:\n  port: abc\n", "expected an integer"),
    ("processes 0", "c.yaml", "armjit:\n  processes: 0\n", "at least 1"),
    ("bench ;", "c.yaml", "armjit:\n  bench: 'a;b'\n", "benchmark names"),
]
CASES += [
    Case("invoke config", label, ("-f", f"{{ws}}/inputs/{name}", "settings"), frag, files={f"inputs/{name}": text})
    for label, name, text, frag in _INVOKE
]


# -- ssh_config ------------------------------------------------------------------------------------
def _ssh_config_case(label: str, text: bytes | str, fragment: str, path: str = "inputs/ssh_config") -> Case:
    argv = ("baseline", "--host", "armbox", "--ssh-config", "{ws}/inputs/ssh_config", "--reports", "{ws}/reports")
    return Case("ssh_config", label, argv, fragment, files={path: text} if text is not None else {})


CASES += [
    _ssh_config_case("Port abc", "Host armbox\n  HostName 127.0.0.1\n  Port abc\n", "Port 'abc' is not a port"),
    _ssh_config_case("Port 0", "Host armbox\n  HostName 127.0.0.1\n  Port 0\n", "Port '0' is not a port"),
    _ssh_config_case("Port 70000", "Host armbox\n  HostName 127.0.0.1\n  Port 70000\n", "is not a port"),
    _ssh_config_case("Port -22", "Host armbox\n  HostName 127.0.0.1\n  Port -22\n", "is not a port"),
    _ssh_config_case("keyword without value", "Host armbox\n  Port\n", "cannot use ssh_config"),
    _ssh_config_case("not UTF-8", b"Host armbox\n  HostName \xff\xfe\n", "cannot use ssh_config"),
    _ssh_config_case("is a directory", "", "no such file", path="inputs/ssh_config/x"),
    Case(
        "ssh_config",
        "missing file",
        ("baseline", "--host", "armbox", "--ssh-config", "{ws}/inputs/none", "--reports", "{ws}/reports"),
        "no such file",
    ),
    _ssh_config_case("Port 1.5", "Host armbox\n  HostName 127.0.0.1\n  Port 1.5\n", "is not a port"),
    Case(
        "ssh_config",
        "~/.ssh/config Port abc",
        ("baseline", "--host", "armbox", "--reports", "{ws}/reports"),
        "Port 'abc' is not a port",
        files={"home/.ssh/config": "Host armbox\n  HostName 127.0.0.1\n  Port abc\n"},
    ),
    Case(
        "ssh_config",
        "~/.ssh/config not UTF-8",
        ("baseline", "--host", "armbox", "--reports", "{ws}/reports"),
        "cannot use ssh_config ~/.ssh/config",
        files={"home/.ssh/config": b"Host armbox\n  User \xff\n"},
    ),
    _ssh_config_case("ProxyJump and ProxyCommand", "Host armbox\n  ProxyJump a\n  ProxyCommand b\n", "ssh_config"),
]


# -- SSH hosts and known_hosts (the real sshd) -------------------------------------------------
def _ssh_case(label: str, known: str, fragment: str, *extra: str, setup: str = "sshd") -> Case:
    argv = (
        "baseline",
        "--host",
        "{sshd}",
        "--key",
        "{key}",
        "--known-hosts",
        "{ws}/inputs/known_hosts",
        "--reports",
        "{ws}/reports",
        *extra,
    )
    return Case("SSH and known_hosts", label, argv, fragment, files={"inputs/known_hosts": known}, setup=setup)


_NAME = "[127.0.0.1]:{port}"
CASES += [
    _ssh_case("changed key", f"{_NAME} ssh-ed25519 {OTHER_KEY}\n", "changed"),
    _ssh_case("changed key, hashed", f"{_NAME} ssh-ed25519 {OTHER_KEY}\n", "changed", setup="hash"),
    _ssh_case("changed key, wildcard", f"[127.0.0.*]:{{port}} ssh-ed25519 {OTHER_KEY}\n", "changed"),
    _ssh_case("changed key, host list", f"example.org,{_NAME} ssh-ed25519 {OTHER_KEY}\n", "changed"),
    _ssh_case("changed key after comments", f"# mine\n\n{_NAME} ssh-ed25519 {OTHER_KEY}\n", "changed"),
    _ssh_case("revoked key", "@revoked * {hostkey}\n", "@revoked"),
    _ssh_case("revoked and listed", "@revoked * {hostkey}\n" + _NAME + " {hostkey}\n", "@revoked"),
    _ssh_case("strict, garbage only", "garbage\n\xff\n", "strict", "--strict-host-keys"),
    _ssh_case("strict, cert-authority only", "@cert-authority * {hostkey}\n", "strict", "--strict-host-keys"),
    _ssh_case("strict, other host", f"example.org ssh-ed25519 {OTHER_KEY}\n", "strict", "--strict-host-keys"),
    _ssh_case("strict, negated", f"*,!{_NAME} {{hostkey}}\n", "strict", "--strict-host-keys"),
    _ssh_case("known_hosts is a directory", "", "cannot read known_hosts", setup="known-dir"),
    Case(
        "SSH and known_hosts",
        "first use, read-only known_hosts",
        ("baseline", "--host", "{sshd}", "--key", "{key}", "--known-hosts", "{ws}/ro/kh", "--reports", "{ws}/reports"),
        "cannot save the host key",
        setup="sshd-ro",
    ),
    _ssh_case("missing key file", "", "no such key file", setup="no-key"),
    _ssh_case("nothing listening", "", "connection refused", setup="refused"),
    _ssh_case("not an SSH server", "", "not an SSH server", setup="banner"),
    _ssh_case("key not accepted", "", "authentication", setup="wrong-key"),
]

# -- repository states ------------------------------------------------------------------------------
_REPO = ("baseline", "--reports", "{ws}/reports", "--repo")
CASES += [
    Case("repo states", "missing directory", (*_REPO, "{ws}/inputs/nope"), "no such directory"),
    Case("repo states", "a file", (*_REPO, "{ws}/inputs/file"), "not a directory", files={"inputs/file": "x"}),
    Case("repo states", "not a checkout", (*_REPO, "{ws}/inputs/plain"), "not a git", files={"inputs/plain/a": "x"}),
    Case(
        "repo states", "no such branch", (*_REPO, "{ws}/inputs/repo", "--branch", "nope"), "no such branch", setup="git"
    ),
    Case("repo states", "no commits yet", (*_REPO, "{ws}/inputs/repo"), "no such branch", setup="git-empty"),
    Case("repo states", "subdirectory", (*_REPO, "{ws}/inputs/repo/sub"), "not its top", setup="git"),
    Case("repo states", "bare repository", (*_REPO, "{ws}/inputs/bare.git"), "not a git", setup="git-bare"),
]


# -- pyperf JSON files (compare) --------------------------------------------------------------------
def _pyperf_values(values: str) -> str:
    runs = ", ".join(f'{{"values": [{values}, 1.0, 1.1]}}' for _ in range(3))
    return f'{{"version": "1.0", "benchmarks": [{{"metadata": {{"name": "b"}}, "runs": [{runs}]}}]}}'


_PYPERF: list[tuple[str, bytes | str, str]] = [
    ("empty", "", "empty file"),
    ("whitespace", " \n\t\n", "empty file"),
    ("not JSON", "hello", "not JSON"),
    ("truncated", '{"benchmarks": [', "not JSON"),
    ("a list", "[1, 2]", "not a pyperf result"),
    ("no benchmarks key", "{}", "not a pyperf result"),
    ("benchmarks a number", '{"benchmarks": 5}', "not a pyperf result"),
    ("benchmark not an object", '{"benchmarks": [5]}', "no 'runs' list"),
    ("runs missing", '{"benchmarks": [{"metadata": {"name": "b"}}]}', "no 'runs' list"),
    ("no name", '{"benchmarks": [{"runs": []}]}', "no name"),
    ("no benchmarks", '{"benchmarks": []}', "no benchmarks"),
    ("values text", _pyperf_values('"fast"'), "not positive numbers"),
    ("values negative", _pyperf_values("-1.0"), "not positive numbers"),
    ("values zero", _pyperf_values("0"), "not positive numbers"),
    ("values NaN", _pyperf_values("NaN"), "not positive numbers"),
    ("values Infinity", _pyperf_values("Infinity"), "not a measurement"),
    ("values -Infinity", _pyperf_values("-Infinity"), "not positive numbers"),
    ("values 1e308", _pyperf_values("1e308"), "not a measurement"),
    ("values 1e400", _pyperf_values("1e400"), "not a measurement"),
    ("values 5e-324", _pyperf_values("5e-324"), "not a measurement"),
    ("values true", _pyperf_values("true"), "not positive numbers"),
    (
        "calibration only",
        '{"benchmarks": [{"metadata": {"name": "b"}, "runs": [{"warmups": [[1, 1.0]]}]}]}',
        "no measured",
    ),
    ("single value", '{"benchmarks": [{"metadata": {"name": "b"}, "runs": [{"values": [1.0]}]}]}', "single value"),
    ("not UTF-8", b'{"benchmarks": "\xff"}', "not UTF-8"),
    ("broken gzip", b"\x1f\x8b\x08\x00garbage", "gzip"),
    ("deep nesting", "[" * 100000 + "]" * 100000, "not JSON"),
]
CASES += [
    Case(
        "pyperf JSON",
        label,
        ("compare", "--from", str(GOOD_PYPERF), "--to", "{ws}/inputs/bad.json", "--reports", "{ws}/reports"),
        frag,
        files={"inputs/bad.json": text},
    )
    for label, text, frag in _PYPERF
]
CASES += [
    Case("pyperf JSON", "missing file", ("compare", "--from", "{ws}/inputs/none.json", "--to", str(GOOD_PYPERF)), "no"),
    Case("pyperf JSON", "only --from", ("compare", "--from", str(GOOD_PYPERF)), "give both"),
]

# -- paths and runs -------------------------------------------------------------------------------
_RUN = "inputs/reports/runs/r1/run.json"
CASES += [
    Case(
        "paths and runs",
        "reports is a file",
        ("baseline", "--reports", "{ws}/inputs/f"),
        "Not a directory",
        files={"inputs/f": "x"},
    ),
    Case(
        "paths and runs",
        "notes dir is a file",
        ("decide", "x", "--why", "y", "--notes-dir", "{ws}/inputs/f"),
        "Not a directory",
        files={"inputs/f": "x"},
    ),
    Case(
        "paths and runs",
        "read-only reports",
        ("baseline", "--reports", "{ws}/ro", "--notes-dir", "{ws}/notes"),
        "not writable",
        setup="ro",
    ),
    Case(
        "paths and runs",
        "read-only notes",
        ("decide", "x", "--why", "y", "--notes-dir", "{ws}/ro"),
        "not writable",
        setup="ro",
    ),
    Case(
        "paths and runs",
        "immutable reports",
        ("baseline", "--reports", "{ws}/imm", "--notes-dir", "{ws}/notes"),
        "not writable",
        setup="immutable",
    ),
    Case(
        "paths and runs",
        "immutable notes",
        ("decide", "x", "--why", "y", "--notes-dir", "{ws}/imm"),
        "not writable",
        setup="immutable",
    ),
    Case(
        "paths and runs",
        "mine: no runs",
        ("mine", "--reports", "{ws}/inputs/empty"),
        "no runs yet",
        files={"inputs/empty/x": ""},
    ),
    Case(
        "paths and runs",
        "mine: unknown run",
        ("mine", "--source", "nope", "--reports", "{ws}/inputs/reports"),
        "nope",
        files={_RUN: "{}"},
    ),
    Case(
        "paths and runs",
        "compare: unknown run",
        ("compare", "--from", "nope", "--to", "latest", "--reports", "{ws}/inputs/reports"),
        "neither a pyperf JSON file nor a run",
        files={_RUN: "{}"},
    ),
    Case(
        "paths and runs",
        "run.json not JSON",
        ("compare", "--from", "{ws}/inputs/reports/runs/r1", "--to", str(GOOD_PYPERF)),
        "cannot read",
        files={_RUN: "{"},
    ),
    Case(
        "paths and runs",
        "run.json a list",
        ("compare", "--from", "{ws}/inputs/reports/runs/r1", "--to", str(GOOD_PYPERF)),
        "not a run manifest",
        files={_RUN: "[]"},
    ),
    Case(
        "paths and runs",
        "run.json not UTF-8",
        ("compare", "--from", "{ws}/inputs/reports/runs/r1", "--to", str(GOOD_PYPERF)),
        "cannot read",
        files={_RUN: b"\xff\xfe"},
    ),
    Case("paths and runs", "decide without why", ("decide", "x", "--notes-dir", "{ws}/notes"), "why"),
    Case(
        "paths and runs",
        "flag as positional",
        ("decide", "x", "--why", "--help", "--notes-dir", "{ws}/notes"),
        "for help run",
    ),
]


# -- running a case ------------------------------------------------------------------------------
def snapshot(root: Path) -> dict[str, str]:
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = f"link:{path.readlink()}"
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@contextlib.contextmanager
def _banner_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that answers like a web server, not like sshd."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = server.accept()
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        server.close()


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _prepare(case: Case, ws: Path, request: pytest.FixtureRequest, stack: contextlib.ExitStack) -> dict[str, str]:
    values = {"ws": str(ws), "port": "", "sshd": "", "key": "", "hostkey": ""}
    if case.setup in ("sshd", "hash", "known-dir", "no-key", "refused", "banner", "wrong-key", "sshd-ro"):
        sshd = request.getfixturevalue("shared_sshd")
        kind, blob = sshd.host_key_path.with_suffix(".pub").read_text().split()[:2]
        port = sshd.port
        if case.setup == "refused":
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        elif case.setup == "banner":
            port = stack.enter_context(_banner_server())
        key = str(sshd.key_path)
        if case.setup == "no-key":
            key = str(ws / "inputs" / "no_key")
        elif case.setup == "wrong-key":
            key = str(ws / "inputs" / "other_key")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True, capture_output=True)
        values |= {"port": str(port), "sshd": f"{sshd.user}@127.0.0.1:{port}", "key": key, "hostkey": f"{kind} {blob}"}
    for rel, given in case.files.items():
        path = ws / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(given, bytes):
            path.write_bytes(given)
            continue
        text = given.replace("{port}", values["port"]).replace("{hostkey}", values["hostkey"])
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
    if case.setup == "hash":
        subprocess.run(
            ["ssh-keygen", "-q", "-H", "-f", str(ws / "inputs" / "known_hosts")], check=True, capture_output=True
        )
        (ws / "inputs" / "known_hosts.old").unlink()
    if case.setup == "known-dir":
        (ws / "inputs" / "known_hosts").unlink()
        (ws / "inputs" / "known_hosts").mkdir()
    if case.setup.startswith("git"):
        repo = ws / "inputs" / ("bare.git" if case.setup == "git-bare" else "repo")
        repo.mkdir(parents=True)
        _git("init", "-q", *(["--bare"] if case.setup == "git-bare" else []), "-b", "arm-jit", cwd=repo)
        if case.setup == "git":
            (repo / "sub").mkdir()
            (repo / "sub" / "f").write_text("x")
            _git("add", ".", cwd=repo)
            _git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "x", cwd=repo)
    if case.setup in ("ro", "immutable", "sshd-ro"):
        if os.geteuid() != 0:
            pytest.skip("read-only mounts and immutable directories need root")
        (ws / "notes").mkdir(exist_ok=True)
        if case.setup in ("ro", "sshd-ro"):
            (ws / "ro").mkdir()
            subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ws / "ro")], check=True)
            stack.callback(subprocess.run, ["umount", "-l", str(ws / "ro")], check=False)
        else:
            (ws / "imm").mkdir()
            made = subprocess.run(["chattr", "+i", str(ws / "imm")], capture_output=True, check=False)
            if made.returncode != 0:
                pytest.skip(f"chattr +i is not supported here: {made.stderr.strip()}")
            stack.callback(subprocess.run, ["chattr", "-i", str(ws / "imm")], check=False)
    return values


def _in_process(argv: list[str], ws: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    for name in [k for k in os.environ if k.startswith("ARMJIT_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(ws / "home"))
    monkeypatch.chdir(ws / "cwd")
    program = ArmjitProgram(namespace=namespace(), name="armjit", binary="armjit", version="test")
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            program.run(["armjit", *argv])
        except SystemExit as exc:
            code = exc.code
        except Exception as exc:  # escaped Program.run: what the installed hook prints
            line, code = crash.describe(exc)
            print(line, file=err)
    return int(code or 0), err.getvalue()


def _subprocess(argv: list[str], ws: Path, env: dict[str, str]) -> tuple[int, str]:
    result = run_invoke(*argv, env={**env, "HOME": str(ws / "home")}, cwd=ws / "cwd", timeout=120)
    return result.returncode, result.stderr


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c.kind}: {c.label}" for c in CASES])
def test_bad_input(index: int, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[index]
    ws = tmp_path / "ws"
    for sub in ("home", "cwd", "inputs"):
        (ws / sub).mkdir(parents=True)
    ok = False
    with contextlib.ExitStack() as stack:
        values = _prepare(case, ws, request, stack)
        argv = [arg.format(**values) for arg in case.argv]
        before = snapshot(ws)
        real_cli = (index % 7 == 0 or case.kind == "invoke config") and not case.script_only
        code, err = _subprocess(argv, ws, case.env) if real_cli else _in_process(argv, ws, case.env, monkeypatch)
        after = snapshot(ws)
        lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("armjit: warning: ")]
        try:
            assert code == 2, err
            assert len(lines) == 1 and lines[0].startswith("armjit: "), err
            assert case.fragment in lines[0], err
            assert "Traceback" not in err
            assert after == before, "something was written"
            ok = True
        finally:
            RESULTS.setdefault(case.kind, []).append(ok)


def test_a_malformed_project_invoke_yaml(tmp_path: Path) -> None:
    """invoke.yaml beside tasks.py is read after tasks.py is imported: the hook it installs
    gives the line; --debug keeps the traceback."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "tasks.py").write_text((ROOT / "tasks.py").read_text())
    (project / "invoke.yaml").write_text("armjit:\n  port: [1\n")
    env = {"HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    before = snapshot(tmp_path)
    result = run_invoke("settings", cwd=project, root=project, env=env)
    assert result.returncode == 2 and result.stdout == ""
    where = f"{project / 'invoke.yaml'}:3:1"
    assert result.stderr.splitlines() == [
        f"armjit: invalid invoke configuration file {where}: expected ',' or ']', but got '<stream end>'"
    ]
    debug = run_invoke("--debug", "settings", cwd=project, root=project, env=env)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    assert snapshot(tmp_path) == before


def test_the_armjit_script_exits_2_on_parse_errors(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "armjit"
    if not script.exists():
        pytest.skip("the armjit console script is not installed in this environment")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARMJIT_")} | {"HOME": str(tmp_path)}
    for argv in (["settings", "--no-such-flag"], ["decide"], ["settings", "--port", "0"]):
        result = subprocess.run(
            [str(script), *argv], cwd=tmp_path, capture_output=True, text=True, env=env, check=False
        )
        assert result.returncode == 2, (argv, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("armjit: ")


def test_the_table() -> None:
    """The kinds and counts of the corpus, and how many gave one line, exit 2 and no write in
    this session (every case above must have run first: ``-k`` runs skip the file)."""
    counts = Counter(c.kind for c in CASES)
    assert len(CASES) >= 150 and len(counts) >= 8
    if sum(len(v) for v in RESULTS.values()) < len(CASES):
        pytest.skip("not every case ran in this session")
    rows = [[kind, counts[kind], sum(RESULTS[kind])] for kind in counts]
    rows.append(["total", len(CASES), sum(sum(v) for v in RESULTS.values())])
    text = table(rows, ["input kind", "tried", "one line, exit 2, nothing written"], "github")
    print(text)
    out = ROOT / "reports" / "bad_inputs.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"# Bad inputs (tests/test_bad_inputs.py)\n\n{text}\n")
    assert all(all(v) for v in RESULTS.values())
