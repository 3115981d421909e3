"""The JIT's format strings: read from CinderX's C++ source, turned into regexes, shipped as a table.

The shipped table (armjit/jitlog/jit_formats.json) is regenerated here from the PyPI sdist of the
release it names and must be equal to it; offline, that check is skipped with the reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from armjit.jitlog.formats import (
    FormatTable,
    LogFormat,
    format_regex,
    formats_from_sources,
    matters,
    shipped_json,
    shipped_table,
    table_from_json,
)

RELEASE = "2026.11.2.0"


@pytest.fixture(scope="module")
def sdist() -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from e2e import cinderx_tree
    from e2e.sandbox import cache_base

    assert cinderx_tree.SDIST_VERSION == RELEASE
    try:
        return cinderx_tree.fetch_sdist(cache_base() / "sdist")
    except (cinderx_tree.CheckoutError, OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"the cinderx {RELEASE} sdist cannot be had (offline?): {exc}")


def test_the_shipped_table_is_the_sdists_formats(sdist: Path) -> None:
    from armjit.seams.jit_source import sdist_sources

    fresh = [f for f in formats_from_sources(sdist_sources(sdist)) if matters(f)]
    shipped = table_from_json(shipped_json(), RELEASE)
    assert {(f.sink, f.source, f.text) for f in fresh} == {(f.sink, f.source, f.text) for f in shipped.formats}
    assert len(shipped.formats) > 250


def test_the_formats_that_explain_failures_come_from_the_source(sdist: Path) -> None:
    from armjit.seams.jit_source import sdist_sources

    found = {f.text: f for f in formats_from_sources(sdist_sources(sdist))}
    # A refusal thrown in codegen and logged by the compile's catch ("{}" of exn.what()).
    lir = found["LIR function '{}' has too many instructions ({}, max={})"]
    assert (lir.source, lir.sink, lir.role) == ("Jit/codegen/gen_asm.cpp", "thrown", "message")
    # Written through the inliner's own macro (LOG_INLINER, defined on JIT_LOGIF).
    assert found["Inlining function {} into {}"].role == "inline"
    assert any(t.startswith("Can't inline") and f.source == "Jit/hir/inliner.cpp" for t, f in found.items())
    assert found["Compiling {}"].role == "start"
    assert found["Compiling {} along with {} functions it calls"].role == "batch"
    assert found["Finished compiling {} in {}, code size: {} bytes (code: {})"].role == "finish"
    assert "{}" not in found  # a bare pass-through names nothing


def test_format_regex_reads_fields_and_braces() -> None:
    m = format_regex("LIR function '{}' has too many instructions ({}, max={})").match(
        "LIR function '__main__:bench_nbody' has too many instructions (3094, max=400)"
    )
    assert m is not None and m.groups() == ("__main__:bench_nbody", "3094", "400")
    assert format_regex("Stats for {}: {{{}}}").match("Stats for f: {3}") is not None
    assert format_regex("Can't compile {} with flags {:#x}").match("Can't compile agen with flags 0x203") is not None
    multi = format_regex("JIT runtime stats:\n{}")
    assert multi.match("JIT runtime stats:") is not None
    thrown = format_regex("Unhandled opcode {}", thrown=True)
    assert thrown.match("cinderx/Jit/hir/builder.cpp:12 Unhandled opcode 42") is not None
    assert format_regex("Compiling {}").match("Finished compiling x") is None


def test_formats_from_sources_reads_macros_and_throws() -> None:
    text = """
#define MY_LOG(...) JIT_LOGIF(getConfig().log.debug_x, __VA_ARGS__)
void f() {
  JIT_DLOG("Compiling {}", name);  // a comment with an apostrophe, don't stop
  MY_LOG(
      "Can't inline {} into {} "
      "because {}", a, b, c);
  JIT_LOGIF(cond, "Sized {} of {:.200}", x, y);
  throw std::runtime_error{fmt::format("Widget '{}' is \\"bad\\"", w)};
  JIT_THROW_IF(n > 3, "too many: {}", n);
  JIT_DLOG("{}", exn.what());
  JIT_LOG(variable_format, x);
}
"""
    got = {(f.text, f.sink) for f in formats_from_sources([("cinderx/Jit/x.cpp", text)])}
    assert got == {
        ("Compiling {}", "log"),
        ("Can't inline {} into {} because {}", "log"),
        ("Sized {} of {:.200}", "log"),
        ('Widget \'{}\' is "bad"', "thrown"),
        ("too many: {}", "thrown"),
    }


def test_the_most_specific_format_wins() -> None:
    table = FormatTable(
        "t",
        (
            LogFormat("Compiling {}", "Jit/compiler.cpp", "log"),
            LogFormat("Compiling {} along with {} functions it calls", "Jit/pyjit.cpp", "log"),
        ),
    )
    hit = table.match("Compiling __main__:f along with 2 functions it calls")
    assert hit is not None and hit[0].role == "batch" and hit[1] == ("__main__:f", "2")
    assert table.match("Something else") is None


def test_the_shipped_table_names_its_versions() -> None:
    data = json.loads(shipped_json())
    assert RELEASE in data["versions"]
    assert all(len(row) == 4 and row[3] for row in data["formats"])
    both = shipped_table()
    assert RELEASE in both.origin
    assert len(both.formats) >= len(shipped_table(RELEASE).formats)


def test_mine_with_repo_reads_the_trees_own_formats(sdist: Path, tmp_path: Path) -> None:
    """``invoke mine --repo TREE``: the formats come from the tree's C++ sources, read at mine time."""
    import tarfile

    from invoke_cli import run_invoke

    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path, filter="data")
    tree = tmp_path / f"cinderx-{RELEASE}"
    log = tmp_path / "jit_1.log"
    log.write_text(
        "JIT: cinderx/Jit/compiler.cpp:259 -- Compiling __main__:big\n"
        "JIT: cinderx/Jit/pyjit.cpp:5365 -- HIR function '__main__:big' has too many basic blocks (9, max=2)\n",
        encoding="utf-8",
    )
    args = ("mine", "--source", str(log), "--json", "--repo", str(tree), "--reports", str(tmp_path / "r"))
    done = run_invoke(*args)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert "the tree at --repo" in data["formats"]
    (failure,) = data["failures"]
    assert failure["format"] == "HIR function '{}' has too many basic blocks ({}, max={})"
    assert failure["format_source"] == "Jit/compiler.cpp"
    assert failure["message"] == "HIR function '__main__:big' has too many basic blocks (9, max=2)"
    without = json.loads(run_invoke(*args[:4], "--reports", str(tmp_path / "r")).stdout)
    assert RELEASE in without["formats"]
