"""The one pyperf reader: strict for comparisons, lenient for a run's own summary and A/B blocks."""

from __future__ import annotations

import gzip
import json
import statistics
from pathlib import Path

import pytest

from armjit.analysis import pyperf_data
from armjit.errors import UsageError

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "cinderx-2026.11" / "pyperf"


def _fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"fixture {name} not found under {FIXTURES}")
    return path


def test_summary_is_the_median_of_process_medians_of_a_real_file(tmp_path: Path) -> None:
    path = _fixture("richards_jitlist_w10.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    runs = [r["values"] for b in raw["benchmarks"] for r in b["runs"] if r.get("values")]
    summary = pyperf_data.summary(path)
    assert summary == {
        "richards": {
            "value": statistics.median(statistics.median(v) for v in runs),
            "processes": len(runs),
            "values": sum(len(v) for v in runs),
        }
    }
    assert pyperf_data.first_loops(path) == raw["metadata"]["loops"]
    assert pyperf_data.all_values(path) == [v for values in runs for v in values]
    # the same reader reads the gzip form
    packed = tmp_path / "r.json.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert pyperf_data.summary(packed) == summary


def test_a_single_value_file_is_summarised_but_not_compared(tmp_path: Path) -> None:
    raw = json.loads(_fixture("richards_autojit_w10.json").read_text(encoding="utf-8"))
    bench = raw["benchmarks"][0]
    first = next(r for r in bench["runs"] if r.get("values"))
    bench["runs"] = [{**first, "values": first["values"][:1]}]
    raw["benchmarks"] = [bench]
    path = tmp_path / "block.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert pyperf_data.all_values(path) == first["values"][:1]
    assert pyperf_data.summary(path)["richards"]["processes"] == 1
    with pytest.raises(UsageError, match="single value"):
        pyperf_data.load(path)


def test_an_unreadable_file_summarises_as_unknown(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert pyperf_data.summary(broken) == {}
    assert pyperf_data.first_loops(broken) is None
    with pytest.raises(UsageError, match="not JSON"):
        pyperf_data.all_values(broken)
