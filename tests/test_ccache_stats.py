"""ccache's counters, parsed from output captured from real ccache releases (tests/data/ccache/):
4.7.5 on Debian 12 (two misses, two direct hits) and 4.14.2 on Debian sid (during and after a cold
CinderX build; ``Direct:`` has no ``/ N`` when it is 0)."""

from __future__ import annotations

from pathlib import Path

import pytest

from armjit.cinderx.ccache_stats import CcacheCounts, parse_stats

DATA = Path(__file__).parent / "data" / "ccache"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("print-stats-4.7.5.txt", CcacheCounts(hits=2, misses=2)),
        ("s-4.7.5.txt", CcacheCounts(hits=2, misses=2)),
        ("print-stats-4.14.2.txt", CcacheCounts(hits=0, misses=136)),
        ("s-4.14.2.txt", CcacheCounts(hits=0, misses=136)),
        ("print-stats-4.14.2-cinderx-cold.txt", CcacheCounts(hits=2, misses=343)),
        ("s-4.14.2-cinderx-cold.txt", CcacheCounts(hits=2, misses=343)),
    ],
)
def test_both_layouts_of_both_releases_give_the_same_counters(name: str, expected: CcacheCounts) -> None:
    assert parse_stats((DATA / name).read_text()) == expected


def test_the_local_storage_block_does_not_count_twice() -> None:
    text = (DATA / "s-4.14.2.txt").read_text()
    assert text.count("Misses:") == 2  # the summary and the Local storage block
    assert parse_stats(text) == CcacheCounts(hits=0, misses=136)


def test_the_difference_is_what_happened_in_between() -> None:
    before, after = CcacheCounts(hits=10, misses=5), CcacheCounts(hits=240, misses=8)
    assert after.minus(before) == CcacheCounts(hits=230, misses=3)
    # counters zeroed in between (ccache -z): the later counters alone are what happened since
    assert CcacheCounts(hits=3, misses=1).minus(before) == CcacheCounts(hits=3, misses=1)
    assert after.minus(before).as_dict() == {"hits": 230, "misses": 3}


@pytest.mark.parametrize("text", ["", "ccache: invalid option -- 'print-stats'\n", "Cacheable calls: 4 / 5\n"])
def test_other_output_is_not_read_as_counters(text: str) -> None:
    assert parse_stats(text) is None
