"""SqliteStore specifics: WAL, file mode, hashed keys, purge, schema guard, cross-process take."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from portcullis.session.serial import storage_key
from portcullis.session.sqlite import SqliteStore
from tests.session.support import FakeClock, make_pending, make_session, run


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        count: int = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return count


def test_wal_mode_and_private_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path, FakeClock())
    try:
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        run(store.close())


def test_rows_are_keyed_by_hash_and_hold_no_id(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path, FakeClock())
    session, pending = make_session(), make_pending()
    run(store.put(session, ttl=60))
    run(store.put_pending(pending, ttl=60))
    run(store.close())
    with sqlite3.connect(path) as db:
        keys = {row[0] for row in db.execute("SELECT key FROM sessions")}
        blobs = b"".join(bytes(row[0]) for row in db.execute("SELECT data FROM sessions"))
    assert keys == {storage_key(session.id)}
    assert session.id.encode() not in blobs


def test_expired_rows_are_purged(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    clock = FakeClock()
    store = SqliteStore(path, clock, purge_interval=60)
    try:
        run(store.put(make_session(), ttl=10))
        run(store.put_pending(make_pending(), ttl=10))
        clock.advance(61)
        run(store.put(make_session(), ttl=600))  # a write past the interval purges
        assert _count(path, "sessions") == 1
        assert _count(path, "pending") == 0
    finally:
        run(store.close())


def test_expired_pending_take_also_removes_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    clock = FakeClock()
    store = SqliteStore(path, clock)
    try:
        pending = make_pending()
        run(store.put_pending(pending, ttl=10))
        clock.advance(11)
        assert run(store.take_pending(pending.state)) is None
        assert _count(path, "pending") == 0
    finally:
        run(store.close())


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(sqlite3.DatabaseError, match="schema version 99"):
        SqliteStore(path, FakeClock())


def test_database_errors_raise_rather_than_sign_out(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path, FakeClock())
    run(store.close())
    with pytest.raises(sqlite3.ProgrammingError):
        run(store.get("anything"))


def test_repr_names_the_file_only(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db", FakeClock())
    try:
        assert repr(store) == f"SqliteStore({str(tmp_path / 's.db')!r})"
    finally:
        run(store.close())


_TAKER = textwrap.dedent(
    """
    import asyncio, sys
    from portcullis.session.sqlite import SqliteStore

    async def main() -> None:
        store = SqliteStore(sys.argv[1])
        states = sys.stdin.readline().split()
        if sys.argv[2] == "backwards":
            states.reverse()  # the two processes meet, and collide, in the middle
        print("ready", flush=True)
        sys.stdin.readline()  # "go": both processes start together
        won = [s for s in states if await store.take_pending(s) is not None]
        await store.close()
        print("\\n".join(won))

    asyncio.run(main())
    """
)


def test_take_pending_is_atomic_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path)  # real clock: the children use it too
    states = []
    for _ in range(500):
        pending = make_pending()
        states.append(pending.state)
        run(store.put_pending(pending, ttl=600))
    run(store.close())
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _TAKER, str(path), direction],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for direction in ("forwards", "backwards")
    ]
    for child in children:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(" ".join(states) + "\n")
        child.stdin.flush()
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = [child.communicate(timeout=60)[0] for child in children]
    assert all(child.returncode == 0 for child in children)
    won = [out.split() for out in outputs]
    taken = [state for wins in won for state in wins]
    assert sorted(taken) == sorted(states)  # each state taken by exactly one process


def test_a_version_1_store_is_migrated_in_place(tmp_path: Path) -> None:
    """Sessions written before front-channel logout existed stay readable after the upgrade."""
    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE sessions (key TEXT PRIMARY KEY, identity_key TEXT NOT NULL, "
        "expires REAL NOT NULL, data BLOB NOT NULL) WITHOUT ROWID; PRAGMA user_version = 1;"
    )
    db.close()
    store = SqliteStore(path, lambda: 0.0)
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == 2
        columns = [row[1] for row in check.execute("PRAGMA table_info(sessions)")]
    check.close()
    assert "idp_session" in columns
    asyncio.run(store.close())
