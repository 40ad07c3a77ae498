"""CachedStore specifics: the synchronous peek, staleness bound, LRU, and races with deletes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from portcullis.session.cache import MISS, CachedStore
from portcullis.session.memory import MemoryStore
from portcullis.session.model import Session
from portcullis.session.sqlite import SqliteStore
from tests.session.support import FakeClock, entra_identity, make_session, run


def test_peek_misses_until_looked_up() -> None:
    clock = FakeClock()
    cache = CachedStore(MemoryStore(clock), clock=clock)
    session = make_session()
    run(cache.inner.put(session, ttl=600))
    assert cache.peek(session.id) is MISS
    assert run(cache.get(session.id)) == session
    assert cache.peek(session.id) == session
    clock.advance(2.0)
    assert cache.peek(session.id) is MISS
    assert repr(MISS) == "MISS"


def test_put_fills_and_delete_evicts() -> None:
    clock = FakeClock()
    cache = CachedStore(MemoryStore(clock), clock=clock)
    session = make_session()
    run(cache.put(session, ttl=600))
    assert cache.peek(session.id) == session
    run(cache.delete(session.id))
    assert cache.peek(session.id) is MISS


def test_absence_is_cached_too() -> None:
    clock = FakeClock()
    cache = CachedStore(MemoryStore(clock), clock=clock)
    assert run(cache.get("unknown")) is None
    assert cache.peek("unknown") is None


def test_revocation_in_another_process_is_seen_within_ttl(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "s.db"
    worker_a = CachedStore(SqliteStore(path, clock), ttl=2.0, clock=clock)
    worker_b = CachedStore(SqliteStore(path, clock), ttl=2.0, clock=clock)
    try:
        session = make_session()
        run(worker_a.put(session, ttl=3600))
        assert run(worker_a.get(session.id)) == session
        assert run(worker_b.delete_for_identity(session.identity.key)) == 1
        clock.advance(1.9)
        assert worker_a.peek(session.id) == session  # the documented staleness window
        clock.advance(0.1)
        assert worker_a.peek(session.id) is MISS
        assert run(worker_a.get(session.id)) is None
    finally:
        run(worker_a.close())
        run(worker_b.close())


def test_delete_for_identity_evicts_only_that_identity() -> None:
    clock = FakeClock()
    cache = CachedStore(MemoryStore(clock), clock=clock)
    alice, bob = make_session(entra_identity("alice")), make_session(entra_identity("bob"))
    run(cache.put(alice, ttl=600))
    run(cache.put(bob, ttl=600))
    assert run(cache.delete_for_identity(alice.identity.key)) == 1
    assert cache.peek(alice.id) is MISS
    assert cache.peek(bob.id) == bob


def test_lru_bound() -> None:
    clock = FakeClock()
    cache = CachedStore(MemoryStore(clock), max_entries=3, clock=clock)
    sessions = [make_session() for _ in range(4)]
    for session in sessions[:3]:
        run(cache.put(session, ttl=600))
    assert cache.peek(sessions[0].id) == sessions[0]  # now most recently used
    run(cache.put(sessions[3], ttl=600))
    assert cache.peek(sessions[1].id) is MISS  # the least recently used went
    assert all(cache.peek(s.id) == s for s in (sessions[0], sessions[2], sessions[3]))


def test_zero_ttl_disables_caching() -> None:
    clock = FakeClock()
    cache = CachedStore(MemoryStore(clock), ttl=0, clock=clock)
    session = make_session()
    run(cache.put(session, ttl=600))
    assert cache.peek(session.id) is MISS
    assert run(cache.get(session.id)) == session


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        CachedStore(MemoryStore(), ttl=-1)
    with pytest.raises(ValueError):
        CachedStore(MemoryStore(), max_entries=0)


class SlowStore(MemoryStore):
    """A store whose reads wait for a go-ahead, to interleave a delete."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.release = asyncio.Event()

    async def get(self, session_id: str) -> Session | None:
        value = await super().get(session_id)
        await self.release.wait()
        return value


def test_a_read_that_raced_a_delete_is_not_cached() -> None:
    clock = FakeClock()

    async def scenario() -> tuple[Session | None, object]:
        inner = SlowStore(clock)
        cache = CachedStore(inner, clock=clock)
        session = make_session()
        await inner.put(session, ttl=600)
        read = asyncio.create_task(cache.get(session.id))
        await asyncio.sleep(0)  # the read has fetched the session and waits
        await cache.delete(session.id)
        inner.release.set()
        return await read, cache.peek(session.id)

    stale_read, cached = run(scenario())
    assert stale_read is not None  # the in-flight read may answer once...
    assert cached is MISS  # ...but is not kept for the next request


class SlowDeleteStore(MemoryStore):
    """A store whose back-channel logout waits for a go-ahead."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.release = asyncio.Event()

    async def delete_for_idp_session(self, idp_session: str) -> int:
        await self.release.wait()
        return await super().delete_for_idp_session(idp_session)


def test_sessions_of_a_logged_out_idp_session_are_not_served_while_deleting() -> None:
    clock = FakeClock()

    async def scenario() -> tuple[tuple[object, object], object, int]:
        store = SlowDeleteStore(clock)
        cache = CachedStore(store, clock=clock)
        gone = replace(make_session(), idp_session="entra|sid-A")
        kept = replace(make_session(), idp_session="entra|sid-B")
        await cache.put(gone, ttl=600)
        await cache.put(kept, ttl=600)
        logout = asyncio.create_task(cache.delete_for_idp_session("entra|sid-A"))
        await asyncio.sleep(0)  # the store is still deleting
        during = cache.peek(gone.id), cache.peek(kept.id)
        store.release.set()
        removed = await logout
        return during, cache.peek(gone.id), removed

    during, after, removed = run(scenario())
    assert during[0] is MISS and during[1] is not MISS
    assert after is MISS and removed == 1
