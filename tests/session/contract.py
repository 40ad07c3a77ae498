"""The session-store contract: one suite, run against every store.

Every backend in :data:`BACKENDS` runs every test here (see
``test_store_contract.py``). To add a store — Redis, say — register one more
factory: it returns a :class:`Backend` whose ``open()`` makes a store on the
shared backing (a new connection each call, for the multi-instance tests) and,
when the backend can, a ``corrupt`` hook that overwrites a stored row with
garbage. Tests that need a hook the backend does not offer are skipped, by name.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from portcullis.session.cache import CachedStore
from portcullis.session.memory import MemoryStore
from portcullis.session.model import PENDING_MAX_AGE, touch
from portcullis.session.serial import storage_key
from portcullis.session.sqlite import SqliteStore
from portcullis.session.store import SessionStore
from tests.session.support import (
    FakeClock,
    entra_identity,
    make_pending,
    make_session,
    oidc_identity,
    run,
)

Corrupt = Callable[[SessionStore, str, str, bytes], None]  # (store, table, id, garbage)


@dataclass
class Backend:
    name: str
    open: Callable[[], SessionStore]
    shared: bool  # do two open() calls see the same data (several processes)?
    corrupt: Corrupt | None = None


def _sqlite_corrupt(path: Path) -> Corrupt:
    def corrupt(store: SessionStore, table: str, ident: str, garbage: bytes) -> None:
        with sqlite3.connect(path) as db:
            db.execute(f"UPDATE {table} SET data = ? WHERE key = ?", (garbage, storage_key(ident)))
        if isinstance(store, CachedStore):
            store.clear()

    return corrupt


def memory_backend(tmp_path: Path, clock: FakeClock) -> Backend:
    store = MemoryStore(clock)
    return Backend("memory", lambda: store, shared=False)


def sqlite_backend(tmp_path: Path, clock: FakeClock) -> Backend:
    path = tmp_path / "sessions.db"
    return Backend("sqlite", lambda: SqliteStore(path, clock), True, _sqlite_corrupt(path))


def cached_memory_backend(tmp_path: Path, clock: FakeClock) -> Backend:
    store = CachedStore(MemoryStore(clock), clock=clock)
    return Backend("cached-memory", lambda: store, shared=False)


def cached_sqlite_backend(tmp_path: Path, clock: FakeClock) -> Backend:
    path = tmp_path / "sessions.db"

    def open_() -> SessionStore:
        return CachedStore(SqliteStore(path, clock), clock=clock)

    return Backend("cached-sqlite", open_, True, _sqlite_corrupt(path))


# The hook for new stores: name -> factory(tmp_path, clock).
BACKENDS: dict[str, Callable[[Path, FakeClock], Backend]] = {
    "memory": memory_backend,
    "sqlite": sqlite_backend,
    "cached-memory": cached_memory_backend,
    "cached-sqlite": cached_sqlite_backend,
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# Backends that several processes share (and whose rows can be corrupted on disk): the
# tests about those properties run on exactly these, instead of skipping on the others.
SHARED = sorted(name for name in BACKENDS if "sqlite" in name)


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Backend:
    return _tracked(request, BACKENDS[request.param](tmp_path, clock))


@pytest.fixture(params=SHARED)
def shared_backend(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Backend:
    made = _tracked(request, BACKENDS[request.param](tmp_path, clock))
    assert made.shared and made.corrupt is not None, f"{made.name} is listed in SHARED"
    return made


def _tracked(request: pytest.FixtureRequest, made: Backend) -> Backend:
    opened: list[SessionStore] = []
    real_open = made.open

    def tracking_open() -> SessionStore:
        store = real_open()
        if store not in opened:
            opened.append(store)
        return store

    made.open = tracking_open
    request.addfinalizer(lambda: [run(s.close()) for s in opened])
    return made


@pytest.fixture
def store(backend: Backend) -> SessionStore:
    return backend.open()


def test_satisfies_the_protocol(store: SessionStore) -> None:
    assert isinstance(store, SessionStore)


def test_round_trip_keeps_every_field(store: SessionStore) -> None:
    session = make_session()
    run(store.put(session, ttl=3600))
    got = run(store.get(session.id))
    assert got == session
    assert got is not None
    assert got.identity.key == "tid-1/oid-1"
    assert got.identity.groups == session.identity.groups
    assert got.identity.name == "Zoë Ångström 🛡"
    assert got.id_token == session.id_token


def test_round_trip_of_a_minimal_identity(store: SessionStore) -> None:
    session = make_session(oidc_identity())
    run(store.put(session, ttl=60))
    assert run(store.get(session.id)) == session


def test_unknown_id_is_none(store: SessionStore) -> None:
    assert run(store.get("no-such-session")) is None


def test_put_replaces(store: SessionStore, clock: FakeClock) -> None:
    session = make_session()
    run(store.put(session, ttl=60))
    clock.advance(10)
    touched = touch(session, clock())
    run(store.put(touched, ttl=60))
    got = run(store.get(session.id))
    assert got is not None and got.last_seen == clock()


def test_ttl_expiry(store: SessionStore, clock: FakeClock) -> None:
    session = make_session()
    run(store.put(session, ttl=60))
    clock.advance(59)
    assert run(store.get(session.id)) == session
    clock.advance(1)
    assert run(store.get(session.id)) is None


def test_short_ttl_is_honoured(store: SessionStore, clock: FakeClock) -> None:
    session = make_session()
    run(store.put(session, ttl=0.5))  # shorter than the cache's own ttl
    clock.advance(0.6)
    assert run(store.get(session.id)) is None


def test_put_again_extends_ttl(store: SessionStore, clock: FakeClock) -> None:
    session = make_session()
    run(store.put(session, ttl=60))
    clock.advance(50)
    run(store.put(session, ttl=60))
    clock.advance(50)
    assert run(store.get(session.id)) == session


@pytest.mark.parametrize("ttl", [0, -5])
def test_non_positive_ttl_removes(store: SessionStore, ttl: float) -> None:
    session = make_session()
    run(store.put(session, ttl=60))
    run(store.put(session, ttl=ttl))
    assert run(store.get(session.id)) is None


@pytest.mark.parametrize("ttl", [float("nan"), float("inf")])
def test_non_finite_ttl_is_refused(store: SessionStore, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        run(store.put(make_session(), ttl=ttl))
    with pytest.raises(ValueError, match="ttl"):
        run(store.put_pending(make_pending(), ttl=ttl))


def test_delete(store: SessionStore) -> None:
    keep, gone = make_session(), make_session()
    run(store.put(keep, ttl=60))
    run(store.put(gone, ttl=60))
    run(store.delete(gone.id))
    assert run(store.get(gone.id)) is None
    assert run(store.get(keep.id)) == keep
    run(store.delete("never-existed"))  # no error


def test_delete_for_identity(store: SessionStore, clock: FakeClock) -> None:
    alice = entra_identity("alice")
    bob = entra_identity("bob")
    expired = make_session(alice)
    run(store.put(expired, ttl=10))
    clock.advance(20)
    mine = [make_session(alice, now=clock()) for _ in range(2)]
    theirs = make_session(bob, now=clock())
    for session in [*mine, theirs]:
        run(store.put(session, ttl=600))
    for session in mine:
        assert run(store.get(session.id)) == session  # warm any cache
    assert run(store.delete_for_identity(alice.key)) == 2
    for session in [*mine, expired]:
        assert run(store.get(session.id)) is None
    assert run(store.get(theirs.id)) == theirs
    assert run(store.delete_for_identity(alice.key)) == 0
    assert run(store.delete_for_identity("nobody#none")) == 0


def test_delete_for_idp_session(store: SessionStore, clock: FakeClock) -> None:
    """Front-channel logout: only the sessions of that IdP session end, the rest stay."""
    alice = entra_identity("alice")
    tab_a = replace(make_session(alice, now=clock()), idp_session="entra|sid-A")
    tab_b = replace(make_session(alice, now=clock()), idp_session="entra|sid-A")
    other = replace(make_session(alice, now=clock()), idp_session="entra|sid-B")
    untagged = make_session(alice, now=clock())
    for session in (tab_a, tab_b, other, untagged):
        run(store.put(session, ttl=600))
        assert run(store.get(session.id)) == session  # round trip keeps the tag; warms caches
    assert run(store.delete_for_idp_session("entra|sid-A")) == 2
    assert run(store.get(tab_a.id)) is None and run(store.get(tab_b.id)) is None
    assert run(store.get(other.id)) == other
    assert run(store.get(untagged.id)) == untagged
    assert run(store.delete_for_idp_session("other|sid-B")) == 0
    assert run(store.get(other.id)) == other


def test_pending_is_single_use(store: SessionStore) -> None:
    pending = make_pending()
    run(store.put_pending(pending, ttl=600))
    assert run(store.take_pending(pending.state)) == pending
    assert run(store.take_pending(pending.state)) is None


def test_unknown_pending_is_none(store: SessionStore) -> None:
    assert run(store.take_pending("no-such-state")) is None


def test_pending_expires(store: SessionStore, clock: FakeClock) -> None:
    pending = make_pending()
    run(store.put_pending(pending, ttl=300))
    clock.advance(300)
    assert run(store.take_pending(pending.state)) is None


def test_pending_ttl_is_capped_at_ten_minutes(store: SessionStore, clock: FakeClock) -> None:
    pending = make_pending()
    run(store.put_pending(pending, ttl=24 * 3600))
    clock.advance(PENDING_MAX_AGE)
    assert run(store.take_pending(pending.state)) is None


def test_parallel_logins_in_several_tabs(store: SessionStore) -> None:
    tabs = [make_pending(binding="same-browser") for _ in range(5)]
    for pending in tabs:
        run(store.put_pending(pending, ttl=600))
    for pending in reversed(tabs):
        assert run(store.take_pending(pending.state)) == pending


def test_concurrent_takes_in_one_loop_have_one_winner(store: SessionStore) -> None:
    pending = make_pending()

    async def race() -> list[object]:
        await store.put_pending(pending, ttl=600)
        return list(await asyncio.gather(*(store.take_pending(pending.state) for _ in range(10))))

    results = run(race())
    assert results.count(pending) == 1
    assert results.count(None) == 9


def test_corrupted_session_row_reads_as_none(shared_backend: Backend) -> None:
    backend = shared_backend
    store = backend.open()
    assert backend.corrupt is not None
    session = make_session()
    run(store.put(session, ttl=60))
    for garbage in [b"\x00\xff not json", b"[]", b'{"v": 1}', b'{"v": 99}', b""]:
        backend.corrupt(store, "sessions", session.id, garbage)
        assert run(store.get(session.id)) is None


def test_corrupted_pending_row_reads_as_none(shared_backend: Backend) -> None:
    backend = shared_backend
    store = backend.open()
    assert backend.corrupt is not None
    pending = make_pending()
    run(store.put_pending(pending, ttl=60))
    backend.corrupt(store, "pending", pending.state, b"{truncated")
    assert run(store.take_pending(pending.state)) is None


def test_two_instances_see_each_other(shared_backend: Backend, clock: FakeClock) -> None:
    backend = shared_backend
    first, second = backend.open(), backend.open()
    assert first is not second
    session, pending = make_session(), make_pending()
    run(first.put(session, ttl=60))
    run(first.put_pending(pending, ttl=60))
    assert run(second.get(session.id)) == session
    run(second.delete(session.id))
    clock.advance(2.5)  # past any in-process cache
    assert run(first.get(session.id)) is None
    assert run(second.take_pending(pending.state)) == pending
    assert run(first.take_pending(pending.state)) is None


def test_concurrent_takes_across_connections_have_one_winner(shared_backend: Backend) -> None:
    backend = shared_backend
    states = []
    setup = backend.open()
    for _ in range(200):
        pending = make_pending()
        states.append(pending.state)
        run(setup.put_pending(pending, ttl=600))
    stores = [backend.open() for _ in range(3)]
    barrier = threading.Barrier(len(stores))
    won: list[list[str]] = [[] for _ in stores]

    def worker(index: int) -> None:
        async def take_all() -> None:
            order = states if index % 2 == 0 else states[::-1]  # collide mid-way
            for state in order:
                if await stores[index].take_pending(state) is not None:
                    won[index].append(state)

        barrier.wait()
        asyncio.run(take_all())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [state for wins in won for state in wins]
    assert sorted(taken) == sorted(states)  # every state taken exactly once
