"""armjit.jitlog against real CinderX 2026.11 logs, fork-format lines and bad input."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from armjit import jitlog
from armjit.jitlog import Scanner, aggregate, assign_roles, limits, read_log, scan_bytes

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "cinderx-2026.11"
LOGS = FIXTURES / "jitlogs"
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"real CinderX fixtures not found at {FIXTURES} (../shared beside the clone)"
)


def _group(name: str) -> list[jitlog.ProcessLog]:
    return assign_roles([read_log(p) for p in sorted((LOGS / name).glob("*.log"))])


# ----------------------------------------------------------------------------- real logs ------
@needs_fixtures
def test_jitlist_workers_compile_37_main_functions_and_the_parent_one() -> None:
    logs = _group("richards_jitlist_w10")
    assert len(logs) == 12
    mains = sorted(log.compiled_main for log in logs)
    assert mains == [1] + [37] * 11
    assert all(log.failed == 0 and log.unrecognised == 0 for log in logs)
    by_role = {log.role: log for log in logs}
    parent = by_role["parent"]
    assert parent.compiled_main == 1 and parent.pid == min(log.pid or 0 for log in logs)
    assert sum(log.role == "calibration" for log in logs) == 1
    assert sum(log.role == "worker" for log in logs) == 10
    # Cross-check with the grep the remote gate used.
    for log in logs:
        data = Path(log.source).read_bytes()
        assert log.compiled == data.count(b"Finished compiling ")
        assert log.compiled_main == data.count(b"Finished compiling __main__:")
    agg = aggregate(logs)
    run = {f.name: f for f in agg.functions}["__main__:Richards.run"]
    sizes = [
        int(line.rsplit(b"code size: ", 1)[1].split()[0])
        for log in logs
        for line in Path(log.source).read_bytes().splitlines()
        if b"Finished compiling __main__:Richards.run " in line
    ]
    assert (run.code_size, run.min_code_size, run.processes) == (max(sizes), min(sizes), 11)


@needs_fixtures
def test_autojit_workers_compile_main_and_re_in_the_background_with_logged_thresholds() -> None:
    logs = _group("richards_autojit_w10")
    workers = [log for log in logs if log.role == "worker"]
    assert workers
    for log in workers:
        names = {f.name for f in log.functions}
        assert any(n.startswith("__main__:") for n in names)
        assert any(n.startswith("re.") for n in names)
        assert log.thresholds == jitlog.Thresholds(calls=1000, bytecodes=100000)
        assert "bg_cx_compile" in log.threads
        assert log.total_compile_ms is not None and log.total_compile_ms > 0
    assert next(log for log in logs if log.role == "parent").compiled_main == 0


@needs_fixtures
def test_compile50_banned_globals_and_background_failures() -> None:
    logs = _group("richards_compile50_w10")
    agg = aggregate(logs)
    reasons = {(f.function, f.reason) for f in agg.failures}
    assert ("collections:namedtuple", "banned global 'eval'") in reasons
    assert ("_frozen_importlib_external:_LoaderBasics.exec_module", "banned global 'exec'") in reasons
    exec_module = next(f for f in agg.failures if f.function.endswith("exec_module"))
    assert exec_module.processes == 12
    for log in logs:
        assert log.thresholds.calls == 50
        for failure in log.failures:
            assert failure.kind == "banned-global" and failure.result_code == 8
        data = Path(log.source).read_bytes()
        assert log.compile_starts - log.compiled == data.count(b"Cannot compile ")


@needs_fixtures
def test_features_log_failure_lines_match_what_the_probe_saw() -> None:
    log = read_log(LOGS / "features" / "features_jitlist.log")
    failures = {f.function: f for f in log.failures}
    assert (failures["__main__:del_and_global"].opcode, failures["__main__:del_and_global"].opcode_name) == (
        64,
        "DELETE_GLOBAL",
    )
    assert (failures["__main__:delete_deref"].opcode, failures["__main__:delete_deref"].opcode_name) == (
        62,
        "DELETE_DEREF",
    )
    assert failures["__main__:use_exec_eval"].detail == "exec"
    assert failures["__main__:use_locals"].detail == "locals"
    assert (failures["agen"].kind, failures["agen"].detail) == ("code-flags", "0x203")
    # The probe's own report of what did not compile.
    out = (LOGS / "features" / "features_jitlist.out").read_text()
    not_compiled = out.split("NOT compiled: ", 1)[1].split("\n", 1)[0]
    assert sorted(f.split(":")[-1] for f in failures) == sorted(ast.literal_eval(not_compiled.split(" ", 1)[1]))
    sizes = {f.name: f.code_size for f in log.functions}
    assert sizes["__main__:<generic parameters of generic_func>"] == 976
    assert log.unrecognised == 0 and log.lines == 165
    banned = {
        f.detail for f in aggregate([log, *_group("richards_compile50_w10")]).failures if f.kind == "banned-global"
    }
    assert banned == {"exec", "eval", "locals"}


@needs_fixtures
def test_any_chunking_and_any_feed_split_give_the_same_result() -> None:
    data = b"".join(p.read_bytes() for p in sorted(LOGS.glob("*/*.log")))
    whole = scan_bytes(data)
    rng = random.Random(7)
    for chunk in (97, 4096, 1 << 16):
        scanner = Scanner(chunk_size=chunk)
        pos = 0
        while pos < len(data):
            step = rng.randint(1, 50_000)
            scanner.feed(data[pos : pos + step])
            pos += step
        assert scanner.result() == whole
    assert whole.compiled == data.count(b"Finished compiling ")


@needs_fixtures
def test_parallel_ranges_add_up_to_the_sequential_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "all.log"
    path.write_bytes(b"".join(p.read_bytes() for p in sorted(LOGS.glob("*/*.log"))))
    sequential = read_log(path, jobs=1, chunk_size=1 << 14)
    monkeypatch.setattr(limits, "PARALLEL_MIN", 0)
    parallel = read_log(path, jobs=3, chunk_size=1 << 14)
    assert parallel == sequential
    assert sequential.exits == 42  # 42 processes' logs in one file: flagged
    assert any("several processes" in n for n in sequential.notes)


# ----------------------------------------------------------------------------- fork format ----
FORK = "JIT: /root/work/cinderx-main/cinderx/Jit/"
FORK_LOG = f"""\
{FORK}pyjit.cpp:1571 -- Configuring JIT to compile functions after 200 calls
{FORK}compiler.cpp:194 -- Compiling __main__:Task.runTask
{FORK}hir/inliner.cpp:300 -- Inlining function __main__:Task.qpkt into __main__:Task.runTask
{FORK}compiler.cpp:246 -- Finished compiling __main__:Task.runTask in 812µs, code size: 1872 bytes
{FORK}pyjit.cpp:3178 -- Compiling __main__:schedule along with 2 functions it calls
{FORK}compiler.cpp:194 -- Compiling __main__:schedule
{FORK}compiler.cpp:246 -- Finished compiling __main__:schedule in 1500µs, code size: 4000 bytes
{FORK}compiler.cpp:180 -- Refusing to compile __main__:g: globals is a dict subclass, not a dict
{FORK}compiler.cpp:194 -- Compiling __main__:h
{FORK}compiler.cpp:238 -- Generating native code for __main__:h failed
{FORK}compiler.cpp:194 -- Compiling __main__:k
{FORK}pyjit.cpp:3956 -- Failed to add generated code for __main__:k to asmjit runtime, got error code 3
{FORK}pyjit.cpp:3920 -- Cannot JIT compile __main__:m as it has prohibited code flags: 0x20
{FORK}pyjit.cpp:3900 -- Can't compile __main__:n as it has no code object
{FORK}hir/hir_stats.cpp:85 -- Stats for __main__:Task.runTask: {{"instructions": {{"LoadAttr": 3, "Return": 1}}}}
{FORK}compiler.cpp:194 -- Compiling __main__:crashy
{FORK}pyjit.cpp:3636 -- CinderX JIT Total Compilation Time: 5ms
{FORK}pyjit.cpp:3311 -- JIT runtime stats:
{{'deopt': [{{'normal': {{'func_qualname': 'Task.runTask', 'filename': 'r.py', 'reason': 'GuardFailure',
  'description': 'GuardType', 'guilty_type': 'int'}}, 'int': {{'lineno': 12, 'count': 5}}}}]}}
"""


def test_fork_format_lines_are_all_recognised() -> None:
    log = scan_bytes(FORK_LOG.encode())
    assert log.unrecognised == 0
    sizes = {f.name: (f.code_size, f.compile_us) for f in log.functions}
    assert sizes == {"__main__:Task.runTask": (1872, 812), "__main__:schedule": (4000, 1500)}
    assert (log.batches, log.batch_callees, log.inlines) == (1, 2, 1)
    kinds = {f.function: f.kind for f in log.failures}
    assert kinds == {
        "__main__:g": "refused",
        "__main__:h": "native-codegen",
        "__main__:k": "exception",
        "__main__:m": "prohibited-flags",
        "__main__:n": "cannot",
        "__main__:crashy": "unmatched",
    }
    assert log.thresholds.calls == 200 and log.total_compile_ms == 5
    assert log.hir_instructions == (("__main__:Task.runTask", 4),)
    assert [(d.function, d.reason, d.count) for d in log.deopts] == [("Task.runTask", "GuardFailure", 5)]


def test_an_unfinished_compile_is_named_even_when_the_fast_path_only_counted_starts(tmp_path: Path) -> None:
    body = "".join(
        f"JIT: cinderx/Jit/compiler.cpp:259 -- Compiling m:f{i}\n"
        f"JIT: cinderx/Jit/compiler.cpp:329 -- Finished compiling m:f{i} in 5µs, code size: 64 bytes\n"
        for i in range(500)
    )
    data = (body + "JIT: cinderx/Jit/compiler.cpp:259 -- Compiling m:dies_here\n").encode()
    path = tmp_path / "jit_77.log"
    path.write_bytes(data)
    for log in (scan_bytes(data), read_log(path)):
        assert [(f.function, f.kind, f.events) for f in log.failures] == [("m:dies_here", "unmatched", 1)]
        assert log.compiled == 500 and log.compile_starts == 501


# ----------------------------------------------------------------------------- transcripts ----
CONSOLE = b"""\
JIT: /w/cinderx/Jit/hir/builder.cpp:1552 -- Abort
Unhandled opcode 64 (DELETE_GLOBAL) in __main__:f at offset 10
JIT: cinderx/Jit/codegen/gen_asm.cpp:447 -- Assertion failed: block != nullptr
Traceback (most recent call last):
RuntimeError: /opt/python-3.14/bin/python3.14 failed with exit code -11
Command failed with exit code 134
RuntimeError: Benchmark died
Segmentation fault (core dumped)
some other line
"""


def test_console_transcript_crashes_become_signatures() -> None:
    log = scan_bytes(CONSOLE)
    sigs = {c.signature for c in log.crashes}
    assert sigs == {
        "JIT abort at Jit/hir/builder.cpp:1552: Unhandled opcode 64 (DELETE_GLOBAL) in __main__:f at offset 10",
        "assertion failed at Jit/codegen/gen_asm.cpp:447: block != nullptr",
        "worker exit SIGSEGV (-11)",
        "worker exit SIGABRT (134)",
        "Benchmark died",
        "SIGSEGV (Segmentation fault)",
    }
    assert log.unrecognised == 2  # the traceback header and "some other line"
    assert [(f.function, f.kind, f.opcode) for f in log.failures] == [("__main__:f", "unhandled-opcode", 64)]


# ----------------------------------------------------------------------------- bad input ------
GOOD = (
    b"JIT: cinderx/Jit/compiler.cpp:259 -- Compiling __main__:f\n"
    b"JIT: cinderx/Jit/compiler.cpp:329 -- Finished compiling __main__:f in 9\xc2\xb5s, code size: 100 bytes\n"
)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    log = read_log(path)
    assert (log.lines, log.compiled, log.is_jit_log) == (0, 0, False)
    assert "empty file" in log.notes


def test_text_that_is_not_a_jit_log() -> None:
    log = scan_bytes(b"hello\nworld\n\n")
    assert (log.lines, log.unrecognised, log.blank_lines, log.is_jit_log) == (3, 2, 1, False)
    assert any("not a CinderX JIT log" in n for n in log.notes)


def test_binary_garbage_is_counted_not_fatal() -> None:
    data = random.Random(3).randbytes(300_000)
    log = scan_bytes(data)
    assert log.lines == data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    assert log.nul_bytes == data.count(b"\x00") and log.nul_bytes > 0
    assert log.compiled == 0 and any("binary" in n for n in log.notes)


def test_non_utf8_names_are_replaced_and_counted() -> None:
    data = GOOD.replace(b"__main__:f", b"__main__:\xff\xfe")
    log = scan_bytes(data)
    assert [f.name for f in log.functions] == ["__main__:\ufffd\ufffd"]
    assert log.invalid_utf8_lines >= 1 and log.failed == 0


def test_truncated_last_line_still_counts() -> None:
    log = scan_bytes(GOOD.rstrip(b"\n"))
    assert log.truncated and log.compiled == 1
    assert any("truncated" in n for n in log.notes)


def test_crlf_gives_the_same_counts_as_lf() -> None:
    lf = scan_bytes(GOOD * 3)
    crlf = scan_bytes((GOOD * 3).replace(b"\n", b"\r\n"))
    assert crlf.crlf and not lf.crlf
    assert (crlf.compiled, crlf.compile_starts, crlf.failures, crlf.unrecognised) == (3, 3, (), 0)
    assert crlf.functions == lf.functions


def test_an_overlong_line_is_skipped_with_bounded_memory() -> None:
    scanner = Scanner(chunk_size=1 << 16)
    scanner.feed(GOOD)
    for _ in range(3):  # 3 MiB without a newline, fed in pieces
        scanner.feed(b"x" * (1 << 20))
    scanner.feed(b"tail of the long line\n" + GOOD)
    log = scanner.result()
    assert log.overlong_lines == 1 and log.compiled == 2 and log.unrecognised == 1


def test_unreadable_paths_are_one_line_errors(tmp_path: Path) -> None:
    from armjit.errors import UsageError

    with pytest.raises(UsageError, match="cannot read"):
        read_log(tmp_path / "missing.log")
    with pytest.raises(UsageError, match="is a directory"):
        read_log(tmp_path)


def test_name_tables_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_NAMES", 5)
    data = b"".join(GOOD.replace(b"__main__:f", f"m:f{i}".encode()) for i in range(20))
    log = scan_bytes(data)
    assert len(log.functions) <= 6
    assert log.compiled == 20 and log.failed == 0
    assert jitlog.OVERFLOW_NAME in {f.name for f in log.functions}
    assert (
        sum(f.total_size for f in log.functions)
        == sum(f.code_size * f.compiles for f in scan_bytes(GOOD).functions) * 20
    )
    extra = b"".join(
        f"JIT: cinderx/Jit/hir/inliner.cpp:249 -- Inlining function m:g{i} into m:f{i}\n"
        f"JIT: cinderx/Jit/x.cpp:1 -- Something new about m:f{i}\n".encode()
        for i in range(20)
    )
    bounded = scan_bytes(data + extra)
    assert len(bounded.inlined) == 5 and bounded.inlines == 20


def test_the_last_logged_threshold_wins_whatever_the_chunk_size() -> None:
    """A process that reconfigures its thresholds is judged by its last line, at any chunk boundary."""
    calls50 = b"JIT: cinderx/Jit/pyjit.cpp:2180 -- Configuring JIT to compile functions after 50 calls\n"
    calls1000 = b"JIT: cinderx/Jit/pyjit.cpp:2180 -- Configuring JIT to compile functions after 1000 calls\n"
    filler = b"JIT: cinderx/Common/thread.cpp:19 -- Naming thread 1 as bg_cx_compile\n" * 500
    data = (calls50 + filler + calls1000 + filler) * 40 + calls50 + filler
    for chunk in (97, 4096, 1 << 16, 1 << 20):
        scanner = Scanner(chunk_size=chunk)
        scanner.feed(data)
        assert scanner.result().thresholds.calls == 50, chunk
    assert scan_bytes(data + calls1000).thresholds.calls == 1000
