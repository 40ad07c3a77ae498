"""The bounded memory the rules use: an LRU map and a bucketed sliding count."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portcullis.guardrails.window import BUCKETS, Recent, RecentCounts, SlidingCount


def test_recent_forgets_the_least_recently_used() -> None:
    recent: Recent[int] = Recent(3)
    for key in "abc":
        recent.put(key, ord(key))
    assert recent.get("a") == ord("a")  # now the most recent
    recent.put("d", 4)
    assert "b" not in recent
    assert [k in recent for k in "acd"] == [True, True, True]
    assert len(recent) == 3
    assert recent.pop("a") == ord("a")
    assert recent.pop("a") is None


def test_recent_needs_room() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Recent(0)


def test_sliding_count_counts_within_the_window() -> None:
    count = SlidingCount(10.0)
    assert [count.add(t) for t in (0.0, 1.0, 2.0, 9.0)] == [1, 2, 3, 4]
    assert count.add(10.5) == 4  # the event at 0.0 left the window
    assert count.add(30.0) == 1  # everything else did too
    count.clear()
    assert count.add(30.1) == 1


def test_late_events_count_while_inside_the_window() -> None:
    count = SlidingCount(16.0)
    count.add(100.0)
    assert count.add(95.0) == 2  # the clock went back 5 s
    assert count.add(80.0) == 2  # too old: not counted
    assert count.add(110.5) == 3  # 95 and 100 are still in
    assert count.add(111.5) == 3  # 95 left


@settings(max_examples=300, deadline=None)
@given(
    span=st.sampled_from([0.37, 1.0, 10.0, 600.0]),
    gaps=st.lists(
        st.tuples(st.floats(min_value=0, max_value=2.0), st.sampled_from([0.05, 0.3, 1.0])),
        min_size=1,
        max_size=120,
    ),
    start=st.floats(min_value=0, max_value=2e9),
)
def test_never_over_counts_and_forgets_at_most_one_bucket_early(
    span: float, gaps: list[tuple[float, float]], start: float
) -> None:
    count = SlidingCount(span)
    now = start
    seen: list[float] = []
    for gap, scale in gaps:
        now += gap * span * scale
        got = count.add(now)
        seen.append(now)
        at_most = sum(1 for t in seen if t > now - span)
        at_least = sum(1 for t in seen if t >= now - span * (1 - 1 / BUCKETS))
        assert at_least <= got <= at_most


def test_an_identity_seen_once_is_small() -> None:
    count = SlidingCount(60.0)
    count.add(1.0)
    count.add(2.0)
    assert count._ring is None  # no per-bucket list until events span two buckets
    count.add(50.0)
    assert count._ring is not None


def test_recent_counts_keep_one_count_per_key_for_the_most_recent_keys() -> None:
    counts = RecentCounts(60.0, limit=2)
    assert [counts.add("a", 1.0), counts.add("a", 2.0), counts.add("b", 3.0)] == [1, 2, 1]
    counts.clear("a")  # only a's count starts again
    assert (counts.add("a", 4.0), counts.add("b", 5.0)) == (1, 2)
    assert counts.add("a", 100.0) == 1  # the earlier ones left the window
    counts.add("c", 101.0)  # b is the least recent and is forgotten
    assert len(counts) == 2
    assert counts.add("b", 102.0) == 1
    counts.clear("nobody")  # an unknown key: nothing to clear
