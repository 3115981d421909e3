"""Settings: defaults match push_to_arm.ps1, sources layer in order, bad values are one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from armjit.config import Settings, load_pyproject_settings, merge_settings, merge_settings_with_sources, parse_host
from armjit.errors import UsageError


def test_defaults_match_the_powershell_and_remote_script() -> None:
    s = Settings()
    assert (s.upstream_remote, s.upstream_branch, s.branch) == ("origin", "main", "arm-jit")
    assert (s.user, s.port) == ("root", 22)
    assert s.remote_workdir == "/root/work/cinderx-main"
    assert s.remote_incoming == "/root/work/incoming"
    assert s.remote_python == "/opt/python-3.14/bin/python3.14"
    assert s.driver_venv == "/root/venv-cinderx314"
    assert s.bench == ("richards",)
    assert (s.autojit, s.parallel, s.smoke_autojit) == (50, 1, 10)
    assert (s.skip_pyperf, s.recreate_pyperf_venv, s.autojit_jitlist_filter) == (False, False, True)
    assert s.runtime_skip_tests == () and s.autojit_extra_jitlist == ()


def test_later_sources_win(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.armjit]\nautojit = 10\nbench = ["go"]\nport = 2200\n')
    pyproject = load_pyproject_settings(tmp_path)
    settings, sources = merge_settings_with_sources(
        pyproject=pyproject,
        invoke_config={"autojit": 20, "port": 2201, "run": {"echo": True}},
        environ={"ARMJIT_AUTOJIT": "30", "ARMJIT_MODES": "nojit,jitlist"},
        cli={"autojit": "40"},
    )
    assert settings.autojit == 40 and sources["autojit"] == "command line"
    assert settings.port == 2201 and sources["port"] == "invoke config"
    assert settings.bench == ("go",) and sources["bench"] == "pyproject [tool.armjit]"
    assert settings.modes == ("nojit", "jitlist") and sources["modes"] == "environment"


@pytest.mark.parametrize(
    ("cli", "fragment"),
    [
        ({"port": "0"}, "outside 1-65535"),
        ({"port": "70000"}, "outside 1-65535"),
        ({"host": "root@example:70000"}, "outside 1-65535"),
        ({"bench": "richards;rm -rf /"}, "benchmark names"),
        ({"bench": "$(reboot)"}, "benchmark names"),
        ({"autojit": "-1"}, "cannot be negative"),
        ({"autojit": "fifty"}, "expected an integer"),
        ({"modes": "nojit,turbo"}, "unknown mode"),
        ({"build": "wheelhouse"}, "--build"),
        ({"remote_workdir": "relative/dir"}, "absolute path"),
        ({"branch": "--upload-pack=x"}, "ref name"),
        ({"build_env": "PATH=/evil"}, "--build-env"),
    ],
)
def test_bad_values_are_one_line_usage_errors(cli: dict[str, str], fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        merge_settings(cli=cli)
    message = str(info.value)
    assert fragment in message and "\n" not in message


def test_remote_dirs_with_spaces_and_quotes_are_accepted() -> None:
    s = merge_settings(cli={"remote_workdir": '/root/work dir/it\'s "here"'})
    assert s.remote_workdir == '/root/work dir/it\'s "here"'


def test_unknown_setting_in_pyproject_is_named() -> None:
    with pytest.raises(UsageError, match="unknown setting 'autojitt'"):
        merge_settings(pyproject={"autojitt": 5})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("arm1", (None, "arm1", None)),
        ("root@127.0.0.1:2222", ("root", "127.0.0.1", 2222)),
        ("dev@arm-host", ("dev", "arm-host", None)),
        ("[::1]:22", (None, "::1", 22)),
    ],
)
def test_parse_host(text: str, expected: tuple[str | None, str, int | None]) -> None:
    assert parse_host(text, "root", 22) == expected


def test_reports_and_notes_dirs_have_one_resolver(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    assert Settings(reports=str(reports)).notes_path == reports
    assert Settings(reports=str(reports), repo=str(tmp_path / "cx")).notes_path == tmp_path / "cx"
    explicit = Settings(reports=str(reports), repo=str(tmp_path / "cx"), notes_dir=str(tmp_path / "n"))
    assert explicit.notes_path == tmp_path / "n" and explicit.reports_path == reports
    assert Settings(reports="~/r").reports_path == Path("~/r").expanduser()
