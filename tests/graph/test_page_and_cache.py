"""Pure parts: parsing a Graph page, the page and group bounds, the TTL + LRU cache."""

from __future__ import annotations

import pytest

from portcullis.graph.cache import GroupCache
from portcullis.graph.page import Collector, Page, PageError, parse_page
from portcullis.graph.result import Resolved, Unresolved

G1 = "00000001-0000-4000-8000-000000000001"
G2 = "00000002-0000-4000-8000-000000000002"


def test_a_page_is_parsed_and_ids_lowercased() -> None:
    page = parse_page({"value": [G1, G2.upper()], "@odata.nextLink": "https://x/v1.0/y"})
    assert page == Page((G1, G2), "https://x/v1.0/y")
    assert parse_page({"value": []}) == Page((), None)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"value": None},
        {"value": G1},
        {"value": [G1, 7]},
        {"value": [G1, "admins"]},
        {"value": [f"{G1},{G2}"]},
        {"value": [f" {G1}"]},
        {"value": [{"id": G1}]},
        {"value": [G1], "@odata.nextLink": ["x"]},
    ],
)
def test_malformed_pages_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(PageError):
        parse_page(body)


def test_the_collector_dedupes_and_bounds() -> None:
    collector = Collector(max_pages=2, max_groups=3)
    collector.add(Page((G1, G2), "next"))
    collector.add(Page((G2,), None))
    assert collector.groups == (G1, G2)
    with pytest.raises(PageError, match="pages"):
        Collector(max_pages=1, max_groups=10).add(Page((G1,), "next"))
    with pytest.raises(PageError, match="groups"):
        Collector(max_pages=5, max_groups=1).add(Page((G1, G2), None))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_keeps_answers_for_their_ttl() -> None:
    clock = Clock()
    cache = GroupCache(clock=clock, ttl=600, negative_ttl=30)
    cache.put(("t", "a"), Resolved((G1,), clock.now))
    cache.put(("t", "b"), Unresolved("down"))
    cache.put(("t", "c"), Unresolved("throttled"), ttl=120)
    clock.now += 29.9
    assert cache.get(("t", "b")) == Unresolved("down")
    clock.now += 0.1
    assert cache.get(("t", "b")) is None
    clock.now += 89
    assert cache.get(("t", "c")) == Unresolved("throttled")
    assert cache.get(("t", "a")) == Resolved((G1,), 1000.0)
    clock.now = 1600
    assert cache.get(("t", "a")) is None and cache.get(("t", "c")) is None
    assert len(cache) == 0


def test_the_cache_evicts_the_least_recently_used() -> None:
    cache = GroupCache(clock=Clock(), max_entries=2)
    cache.put(("t", "a"), Unresolved("a"))
    cache.put(("t", "b"), Unresolved("b"))
    cache.get(("t", "a"))
    cache.put(("t", "c"), Unresolved("c"))
    assert cache.get(("t", "b")) is None
    assert cache.get(("t", "a")) is not None and cache.get(("t", "c")) is not None
    cache.forget(("t", "a"))
    assert cache.get(("t", "a")) is None
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError):
        GroupCache(clock=Clock(), max_entries=0)
