"""MemoryStore specifics: the bound on pending logins and the periodic sweep."""

from __future__ import annotations

from portcullis.session.memory import MemoryStore
from tests.session.support import FakeClock, make_pending, make_session, run


def test_pending_logins_are_capped_oldest_first() -> None:
    store = MemoryStore(FakeClock(), max_pending=3)
    logins = [make_pending() for _ in range(5)]
    for pending in logins:
        run(store.put_pending(pending, ttl=600))
    assert [run(store.take_pending(p.state)) for p in logins[:2]] == [None, None]
    assert [run(store.take_pending(p.state)) for p in logins[2:]] == logins[2:]


def test_expired_pending_logins_make_room_first() -> None:
    clock = FakeClock()
    store = MemoryStore(clock, max_pending=2)
    stale = make_pending()
    keep = make_pending()
    run(store.put_pending(stale, ttl=10))
    clock.advance(5)
    run(store.put_pending(keep, ttl=600))
    clock.advance(6)
    newest = make_pending()
    run(store.put_pending(newest, ttl=600))
    assert run(store.take_pending(keep.state)) == keep
    assert run(store.take_pending(newest.state)) == newest


def test_sweep_drops_expired_sessions() -> None:
    clock = FakeClock()
    store = MemoryStore(clock, sweep_interval=60)
    for _ in range(10):
        run(store.put(make_session(), ttl=30))
    clock.advance(61)
    run(store.put(make_session(), ttl=600))
    assert "1 sessions" in repr(store)
