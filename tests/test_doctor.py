"""``invoke doctor`` against a real sshd on 127.0.0.1: the checks a baseline needs, and which one
fails (and what to do) with a wrong key, a stopped sshd, a changed host key or no package index.

The package index is always on 127.0.0.1: a real HTTP server for "reachable", a closed port
for "unreachable".
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from armjit.config import Settings
from armjit.flows import doctor

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(ROOT), "doctor", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={k: v for k, v in os.environ.items() if not k.startswith("ARMJIT_")},
        check=False,
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


@pytest.fixture
def index_url(tmp_path: Path) -> Iterator[str]:
    """A package index on 127.0.0.1 that answers (an empty /simple/)."""
    (tmp_path / "index" / "simple").mkdir(parents=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path / "index"), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def driver_venv(tmp_path: Path) -> Path:
    """A driver venv with pyperf and pyperformance importable (this interpreter's, via .pth)."""
    venv = tmp_path / "venv-driver"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(purelib) / "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def ssh_args(sshd: Any, tmp_path: Path, *, key: Path | None = None) -> list[str]:
    return [
        "--host", f"{sshd.user}@{sshd.host}:{sshd.port}",
        "--key", str(key or sshd.key_path),
        "--known-hosts", str(sshd.known_hosts_path),
        "--remote-python", sys.executable,
        "--remote-workdir", str(tmp_path / "remote" / "work"),
        "--connect-timeout", "5",
    ]  # fmt: skip


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in data["checks"]}


def test_all_needed_checks_pass_against_the_sshd_host(
    shared_sshd: Any, tmp_path: Path, index_url: str, driver_venv: Path
) -> None:
    args = [*ssh_args(shared_sshd, tmp_path), "--driver-venv", str(driver_venv), "--index-url", index_url]
    first = invoke(*args, "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["ok"] and data["failed_needed"] == [] and data["host"].endswith(f":{shared_sshd.port}")
    checks = by_name(data)
    assert [(c["group"], c["name"]) for c in data["checks"]] == [
        ("local", "git"), ("local", "ssh key"), ("local", "python"),
        ("host", "reachable"), ("host", "auth"), ("host", "host key"),
        ("remote", "python"), ("remote", "rsync or tar"), ("remote", "cmake"), ("remote", "disk workdir"),
        ("remote", "disk /tmp"), ("remote", "pypi"), ("build", "source build"), ("bench", "pyperformance venv"),
    ]  # fmt: skip
    for name in ("reachable", "auth", "pypi", "pyperformance venv", "rsync or tar", "disk /tmp"):
        assert checks[name]["status"] == "ok", checks[name]
    assert checks["host key"]["detail"].startswith("first use")
    assert index_url in checks["pypi"]["detail"] and "HTTP 200" in checks["pypi"]["detail"]
    remote_python = next(c for c in data["checks"] if c["group"] == "remote" and c["name"] == "python")
    # no --repo: the embedded default builds nothing, so a 3.11 host is fine (a warning, not a failure)
    assert remote_python["status"] in ("ok", "warn") and not remote_python["needed"]
    again = json.loads(invoke(*args, "--json").stdout)
    assert by_name(again)["host key"]["detail"].startswith("known")
    table = invoke(*args)
    assert table.returncode == 0 and "ready for `invoke baseline`" in table.stdout
    assert "what to do" in table.stdout.splitlines()[2]


def test_wrong_key_names_the_auth_check(shared_sshd: Any, tmp_path: Path, index_url: str) -> None:
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    result = invoke(*ssh_args(shared_sshd, tmp_path, key=wrong), "--index-url", index_url, "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["failed_needed"] == ["auth"]
    checks = by_name(data)
    assert checks["reachable"]["status"] == "ok" and "authorized_keys" in checks["auth"]["fix"]
    assert checks["checks"]["status"] == "skip"  # the remote checks need a session
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("armjit: baseline would fail: auth: authentication to ")


def test_stopped_sshd_names_the_reachable_check(sshd_host: Any, tmp_path: Path, index_url: str) -> None:
    sshd_host.stop()
    result = invoke(*ssh_args(sshd_host, tmp_path), "--index-url", index_url)
    assert result.returncode == 1
    assert "reachable" in result.stdout and "FAIL" in result.stdout and "connection refused" in result.stdout
    assert "sshd runs on" in result.stdout  # what to do
    assert result.stderr.strip().splitlines()[-1].startswith("armjit: baseline would fail: reachable: cannot reach")


def test_changed_host_key_names_the_host_key_check(sshd_host: Any, tmp_path: Path, index_url: str) -> None:
    assert invoke(*ssh_args(sshd_host, tmp_path), "--index-url", index_url).returncode in (0, 1)
    sshd_host.regenerate_host_key()
    data = json.loads(invoke(*ssh_args(sshd_host, tmp_path), "--index-url", index_url, "--json").stdout)
    assert data["failed_needed"] == ["host key"]
    assert "changed" in by_name(data)["host key"]["detail"] and "delete its line" in by_name(data)["host key"]["fix"]


def test_unreachable_index_from_the_hosts_pip_config_is_reported(shared_sshd: Any, tmp_path: Path) -> None:
    # The host's own pip.conf names the index (HOME of the fixture's sessions); nothing listens there.
    url = f"http://127.0.0.1:{closed_port()}/simple/"
    conf = shared_sshd.home / ".config" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(f"[global]\nindex-url = {url}\n")
    try:
        result = invoke(*ssh_args(shared_sshd, tmp_path), "--driver-venv", str(tmp_path / "no-venv"), "--json")
    finally:
        conf.unlink()
    data = json.loads(result.stdout)
    checks = by_name(data)
    assert checks["pypi"]["status"] == "warn" and checks["pypi"]["detail"].startswith(f"unreachable: {url}")
    # no driver venv and no index: the baseline could not install its tools
    assert checks["pyperformance venv"]["status"] == "fail" and data["failed_needed"] == ["pyperformance venv"]
    assert result.returncode == 1


def test_local_host_runs_the_remote_checks_here(tmp_path: Path, driver_venv: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/simple/"
    result = invoke("--host", "local", "--driver-venv", str(driver_venv), "--index-url", url, "--json")
    assert result.returncode == 0, result.stderr
    checks = by_name(json.loads(result.stdout))
    assert {checks[n]["status"] for n in ("reachable", "auth", "host key", "ssh key")} == {"skip"}
    assert checks["pypi"]["status"] == "warn" and checks["pyperformance venv"]["status"] == "ok"


# -- the judgement, from plain data --------------------------------------------------------------

FACTS = {
    "python": "3.14.0",
    "rsync": "/usr/bin/rsync",
    "tar": "/usr/bin/tar",
    "cmake": "/usr/bin/cmake",
    "disk_workdir": f"{50 * doctor.GIB} /root/work",
    "disk_tmp": f"{8 * doctor.GIB} /tmp",
}


def judged(facts: dict[str, str], pypi: str = "pypi=ok https://pypi.org/simple/ HTTP 200", **settings: Any) -> dict:
    return {c.name: c for c in doctor.remote_checks(facts, Settings(**settings), pypi)}


def test_remote_checks_from_facts() -> None:
    assert not doctor.needed_failures(judged(FACTS, repo="/src").values())
    old = judged({**FACTS, "python": "3.12.3"}, repo="/src")
    assert old["python"].status == "fail" and old["python"].needed and "3.14" in old["python"].fix
    assert judged({**FACTS, "python": "3.12.3"}, build="none")["python"].status == "warn"
    missing = judged({**FACTS, "python": ""}, build="none")["python"]
    assert missing.status == "fail" and missing.needed
    bare = judged({**FACTS, "rsync": "", "tar": ""}, repo="/src")["rsync or tar"]
    assert bare.status == "fail" and bare.needed
    assert judged({**FACTS, "rsync": ""}, repo="/src")["rsync or tar"].detail.startswith("tar ")
    assert judged({**FACTS, "cmake": ""}, repo="/src")["cmake"].blocks_baseline
    assert not judged({**FACTS, "cmake": ""})["cmake"].blocks_baseline  # nothing to build without a repo
    full = judged({**FACTS, "disk_workdir": f"{doctor.GIB} /root/work"})["disk workdir"]
    assert full.status == "fail" and "1.0 GiB free on /root/work" in full.detail
    assert judged({**FACTS, "disk_tmp": "??"})["disk /tmp"].status == "warn"
    offline = judged(FACTS, "pypi=unreachable https://pypi.org/simple/ URLError: timed out")["pypi"]
    assert offline.status == "warn" and not offline.needed and "timed out" in offline.detail


def test_probe_output_is_parsed() -> None:
    text = "python=3.14.0\nrsync=\ndisk_workdir=123 /root\nnoise line\nbad key=1\n"
    assert doctor.parse_probe(text) == {"python": "3.14.0", "rsync": "", "disk_workdir": "123 /root"}


@pytest.mark.slow
def test_onboarding_script_runs_doctor_then_the_embedded_baseline(tmp_path: Path, driver_venv: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARMJIT_")}
    env["PIP_INDEX_URL"] = f"http://127.0.0.1:{closed_port()}/simple/"  # the probe must stay on 127.0.0.1
    result = subprocess.run(
        [str(ROOT / "scripts" / "onboard.sh"), "--driver-venv", str(driver_venv), "--reports", str(tmp_path / "r"),
         "--processes", "2", "--values", "2", "--warmups", "1"],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert out.index("== armjit doctor ==") < out.index("ready for `invoke baseline`") < out.index("== armjit baseline")
    assert "unreachable: http://127.0.0.1:" in out  # the index from the environment, reported, not fatal
    (run,) = (tmp_path / "r" / "runs").iterdir()
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["kind"] == "baseline" and manifest["status"] == "ok" and manifest["settings"]["build"] == "none"


# -- a host passed in ----------------------------------------------------------------------------


def test_a_lent_ssh_host_is_checked_without_a_new_connection(
    shared_sshd: Any, tmp_path: Path, index_url: str, driver_venv: Path
) -> None:
    from armjit.config import merge_settings
    from armjit.seams.hosts import open_host

    own = merge_settings(
        cli={
            "host": f"{shared_sshd.user}@{shared_sshd.host}:{shared_sshd.port}",
            "key": str(shared_sshd.key_path),
            "known_hosts": str(shared_sshd.known_hosts_path),
        }
    )
    host = open_host(own)
    try:
        logins = shared_sshd.log_path.read_text().count("Accepted publickey")
        # The settings name a port nothing listens on: only the lent host can make these checks pass.
        elsewhere = merge_settings(
            cli={
                "host": f"{shared_sshd.user}@127.0.0.1:{closed_port()}",
                "remote_python": sys.executable,
                "remote_workdir": str(tmp_path / "remote" / "work"),
                "driver_venv": str(driver_venv),
            }
        )
        checks, name = doctor.run_doctor(elsewhere, set(), index_url=index_url, host=host)
        assert name == host.name
        found = {c.name: c for c in checks}
        assert [found[n].status for n in ("reachable", "auth", "host key")] == ["ok", "ok", "ok"]
        assert found["host key"].detail.startswith("first use")
        assert found["pyperformance venv"].status == "ok"
        assert host.run("echo open").stdout == "open\n"  # the doctor left the owner's session open
        assert shared_sshd.log_path.read_text().count("Accepted publickey") == logins
    finally:
        host.close()


def test_a_lent_local_host_is_used_and_left_open(tmp_path: Path, driver_venv: Path) -> None:
    from armjit.seams.hosts import LocalHost

    class Watched(LocalHost):
        """This machine, counting the commands it runs and the times it is closed."""

        def __init__(self) -> None:
            super().__init__()
            self.name, self.commands, self.closed = "watched-local", 0, 0

        def run(self, command: str, **kwargs: Any) -> Any:
            self.commands += 1
            return super().run(command, **kwargs)

        def close(self) -> None:
            self.closed += 1
            super().close()

    host = Watched()
    url = f"http://127.0.0.1:{closed_port()}/simple/"
    settings = Settings(host="local", driver_venv=str(driver_venv))
    checks, name = doctor.run_doctor(settings, {"driver_venv"}, index_url=url, host=host)
    assert name == "watched-local" and host.commands >= 3 and host.closed == 0
    assert {c.status for c in checks if c.group == "host"} == {"skip"}
    host.close()
