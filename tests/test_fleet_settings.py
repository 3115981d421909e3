"""``--hosts`` and ``--reference`` as settings: host groups from invoke.yaml and pyproject.toml,
bad input as one line and exit 2, tasks that run on one host only, and doctor over a fleet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from invoke_cli import run_invoke

from armjit.errors import UsageError
from armjit.resolve import resolve_settings


def test_groups_from_invoke_config_and_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.armjit.hosts.groups]\narm = ["arm1", "arm2"]\nx86 = ["x86a"]\n', encoding="utf-8"
    )
    config = {"hosts": {"groups": {"arm": ["kunpeng1", "graviton1"]}}}
    settings, sources = resolve_settings(
        invoke_config=config, cli={"hosts": ["@arm", "@x86", "kunpeng1"]}, cwd=tmp_path, environ={}
    )
    # invoke.yaml's group wins over pyproject's of the same name; each host once, in order.
    assert settings.hosts == ("kunpeng1", "graviton1", "x86a")
    assert sources["hosts"] == "command line"
    listed, _ = resolve_settings(invoke_config={"hosts": {"hosts": ["@x86", "b1"]}}, cwd=tmp_path, environ={})
    assert listed.hosts == ("x86a", "b1")
    plain, _ = resolve_settings(cli={"hosts": ["a", "b"], "reference": "b"}, cwd=tmp_path, environ={})
    assert plain.hosts == ("a", "b") and plain.reference == "b"
    member, _ = resolve_settings(cli={"hosts": ["@x86"], "reference": "x86a"}, cwd=tmp_path, environ={})
    assert member.hosts == ("x86a",) and member.reference == "x86a"


@pytest.mark.parametrize(
    ("cli", "config", "fragment"),
    [
        ({"hosts": ["@lab"]}, {}, "no such host group"),
        ({"hosts": ["a", "b"], "reference": "c"}, {}, "--reference 'c' is not one of --hosts"),
        ({"hosts": ["@arm"], "reference": "c"}, {"hosts": {"groups": {"arm": ["a"]}}}, "is not one of --hosts (a)"),
        ({"hosts": ["a:99999"]}, {}, "outside 1-65535"),
        ({"hosts": ["@arm"]}, {"hosts": {"groups": {"arm": "arm1"}}}, "expected a list of host names"),
        ({}, {"hosts": {"group": {"arm": ["a"]}}}, "expected groups:"),
    ],
)
def test_bad_fleet_settings_are_one_line(
    tmp_path: Path, cli: dict[str, object], config: dict[str, object], fragment: str
) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_settings(invoke_config=config, cli=cli, cwd=tmp_path, environ={})
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_the_cli_refuses_before_writing_anything(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    for args in (
        ("baseline", "--hosts", "@nope"),
        ("ab", "--hosts", "a,b", "--reference", "x86a"),
        ("red", "--hosts", "a,b", "-k", ""),  # checked before any host is tried or a fleet is made
    ):
        done = run_invoke(*args, "--reports", str(reports))
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("armjit: "), (args, done.stderr)
    assert not reports.exists()


@pytest.mark.slow
def test_doctor_checks_every_host_and_names_the_one_not_ready(tmp_path: Path) -> None:
    refused = "root@127.0.0.1:1"  # nothing listens on port 1 of the loopback
    done = run_invoke(
        "doctor", "--hosts", f"local,{refused}", "--reports", str(tmp_path / "reports"),
        "--connect-timeout", "3", "--json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    answers = json.loads(done.stdout)
    assert list(answers) == ["local", refused]
    local = {(c["group"], c["name"]): c["status"] for c in answers["local"]["checks"]}
    remote = {(c["group"], c["name"]): c["status"] for c in answers[refused]["checks"]}
    assert local[("local", "python")] == "ok" and local[("host", "reachable")] == "skip"
    assert remote[("host", "reachable")] == "fail" and answers[refused]["ok"] is False
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("armjit: baseline would fail on 1 host(s):") and "connection refused" in last
    assert "local:" not in last
