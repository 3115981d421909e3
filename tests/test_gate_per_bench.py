"""The JIT gate per benchmark and mode: a benchmark that compiled nothing is flagged by name with
the reason its own logs show, and the mode fails only when the JIT did not run or nothing of it
compiled anything.

The logs are the real 2026.11 release's (shared fixtures). A worker that never reached the
autojit threshold is the head of a real autojit worker log: everything it wrote before its first
``__main__`` compile (startup, thresholds, stdlib compiles), which is what such a worker writes.
The refusal is upstream main's own line for ``bench_nbody`` (issue 21).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from armjit.cinderx import gate

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "cinderx-2026.11" / "jitlogs"
REFUSAL = (
    b"JIT: cinderx/Jit/compiler.cpp:259 -- Compiling __main__:bench_nbody\n"
    b"JIT: cinderx/Jit/pyjit.cpp:4517 -- LIR function '__main__:bench_nbody' has too many instructions "
    b"(3094, max=400)\n"
)


def _logs(directory: str) -> list[Path]:
    found = sorted((FIXTURES / directory).glob("*.log"))
    if not found:
        pytest.skip(f"fixture logs not found under {FIXTURES}")
    return found


def _counts(paths: list[Path], cut: bytes | None = None, add: bytes = b"") -> list[gate.LogCounts]:
    """Each log's counts; ``cut``: only what the log holds before its first line with it."""
    counts = []
    for path in paths:
        data = path.read_bytes()
        if cut is not None and cut in data:
            data = data[: data.rindex(b"\n", 0, data.index(cut)) + 1]
        counts.append(gate.count_log(path.name, data + add))
    return counts


def _judge(counts: dict[str, list[gate.LogCounts]], mode: str = "autojit") -> gate.ModeVerdict:
    return gate.judge_benchmarks(mode, counts, expects_compiles=True, expected_processes=10)


def test_a_benchmark_below_the_autojit_threshold_is_flagged_and_the_mode_passes() -> None:
    autojit = _logs("richards_autojit_w10")
    below = _counts(autojit, cut=b"Compiling __main__:")
    assert all(c.main == 0 and c.calls == 1000 for c in below) and sum(c.total for c in below) > 0
    verdict = _judge({"richards": _counts(autojit), "nbody": below})
    assert verdict.ok
    richards, nbody = verdict.benches["richards"], verdict.benches["nbody"]
    assert richards.ok and not richards.flag and richards.main == 19 * 11
    assert nbody.ok and nbody.flag == gate.FLAG_BELOW_THRESHOLD and nbody.main == 0 and nbody.threshold == 1000
    assert "1000 calls / 100000 interpreted bytecodes" in nbody.reason
    assert [v.bench for v in verdict.flagged] == ["nbody"]
    assert nbody.to_json()["flag"] == "below-threshold" and "flag" not in richards.to_json()


def test_a_mode_where_every_benchmark_compiled_nothing_fails_naming_each() -> None:
    below = _counts(_logs("richards_autojit_w10"), cut=b"Compiling __main__:")
    verdict = _judge({"richards": below, "nbody": below})
    assert not verdict.ok
    assert verdict.message.startswith("autojit: JIT did not compile any __main__ functions: richards (below-threshold)")
    assert (
        "; nbody (below-threshold): no __main__ function reached the autojit threshold of 1000 calls" in verdict.message
    )


def test_a_refused_function_is_named_with_the_jits_words() -> None:
    jitlist = _logs("richards_jitlist_w10")
    refused = _counts(jitlist, cut=b"Compiling __main__:", add=REFUSAL)
    verdict = _judge({"richards": _counts(jitlist), "nbody": refused}, mode="jitlist")
    nbody = verdict.benches["nbody"]
    assert verdict.ok and nbody.flag == gate.FLAG_REFUSED and "__main__:bench_nbody" in nbody.reason
    assert len(nbody.evidence) == 1 and nbody.evidence[0].startswith("__main__:bench_nbody: ")


def test_a_jitlist_that_names_none_of_a_benchmarks_functions_is_flagged() -> None:
    jitlist = _logs("richards_jitlist_w10")
    unlisted = _counts(jitlist, cut=b"Compiling __main__:")
    assert all(c.jitlist and c.calls is None for c in unlisted)
    nbody = _judge({"richards": _counts(jitlist), "nbody": unlisted}, mode="jitlist").benches["nbody"]
    assert nbody.flag == gate.FLAG_NOT_IN_JITLIST and "jitlist" in nbody.reason


def test_a_benchmark_whose_processes_wrote_no_log_fails_the_mode() -> None:
    """Not a fact about the benchmark: the JIT never started in its processes."""
    verdict = _judge({"richards": _counts(_logs("richards_autojit_w10")), "nbody": []})
    assert not verdict.ok and not verdict.benches["nbody"].flag
    assert verdict.message.startswith("autojit/nbody: JIT did not compile any __main__ functions: no process wrote")


def test_nojit_judges_each_benchmark_and_never_flags() -> None:
    empty = [gate.count_log("jit_1.log", b"")]
    compiled = _counts(_logs("richards_jitlist_w10"))
    verdict = gate.judge_benchmarks(
        "nojit", {"richards": empty, "nbody": compiled}, expects_compiles=False, expected_processes=10
    )
    assert not verdict.ok and verdict.benches["richards"].ok and not verdict.benches["nbody"].ok
    assert verdict.message.startswith("nojit/nbody: the JIT compiled") and not verdict.flagged
