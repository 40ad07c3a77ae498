"""A session store in one SQLite file, shared by the worker processes of one machine.

Each process (each :class:`SqliteStore`) opens its own connection; the file is
in WAL mode so readers never wait for the writer. Statements run directly on
the event loop thread: they are short local I/O, cheaper than a hop to a
thread pool. One instance belongs to one event loop.

* Rows are keyed by SHA-256 of the session id / state
  (:func:`~portcullis.session.serial.storage_key`) and the serialized row does
  not contain the id, so a copy of the file yields no usable session ids.
* ``take_pending`` is one ``DELETE ... RETURNING`` statement: atomic across
  connections and processes, so of two racing callbacks exactly one wins.
* Expired rows are ignored by every read and purged at most once per
  ``purge_interval`` by whichever process writes.
* A row that does not deserialize reads as ``None``; a database error
  (locked beyond ``busy_timeout``, unreadable file) raises ``sqlite3.Error``.
* The file is created with mode 0600; SQLite gives the ``-wal``/``-shm``
  files the same permissions.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from typing import Final

from portcullis.session.model import PENDING_MAX_AGE, PendingLogin, Session
from portcullis.session.serial import (
    dump_pending,
    dump_session,
    load_pending,
    load_session,
    storage_key,
)
from portcullis.session.store import checked_ttl
from portcullis.sqlite_file import open_store

__all__ = ["SqliteStore"]

SCHEMA_VERSION: Final = 2

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS sessions (
    key TEXT PRIMARY KEY,
    identity_key TEXT NOT NULL,
    expires REAL NOT NULL,
    data BLOB NOT NULL,
    idp_session TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_identity ON sessions (identity_key);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires);
CREATE TABLE IF NOT EXISTS pending (
    key TEXT PRIMARY KEY,
    expires REAL NOT NULL,
    data BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_by_expiry ON pending (expires);
"""
# After the table has the column, whether it was created with it or migrated to it.
_IDP_SESSION_INDEX: Final = (
    "CREATE INDEX IF NOT EXISTS sessions_by_idp_session ON sessions (idp_session);\n"
)


def _migrate(db: sqlite3.Connection, found: int) -> None:
    if found == 1:  # 1 -> 2: front-channel logout finds sessions by IdP session
        db.execute("ALTER TABLE sessions ADD COLUMN idp_session TEXT")


class SqliteStore:
    def __init__(
        self,
        path: str | os.PathLike[str],
        clock: Callable[[], float] = time.time,
        *,
        busy_timeout: float = 2.0,
        purge_interval: float = 60.0,
    ) -> None:
        self._path = os.fspath(path)
        self._clock = clock
        self._purge_interval = purge_interval
        self._next_purge = clock()
        self._db = open_store(
            self._path,
            what="session store",
            schema=_SCHEMA + _IDP_SESSION_INDEX,
            version=SCHEMA_VERSION,
            busy_timeout=busy_timeout,
            migrate=_migrate,
        )

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r})"

    async def get(self, session_id: str) -> Session | None:
        row = self._db.execute(
            "SELECT data FROM sessions WHERE key = ? AND expires > ?",
            (storage_key(session_id), self._clock()),
        ).fetchone()
        return None if row is None else load_session(row[0], session_id)

    async def put(self, session: Session, *, ttl: float) -> None:
        ttl = checked_ttl(ttl)
        if ttl <= 0:
            await self.delete(session.id)
            return
        now = self._clock()
        self._db.execute(
            "INSERT OR REPLACE INTO sessions (key, identity_key, expires, data, idp_session) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                storage_key(session.id),
                session.identity.key,
                now + ttl,
                dump_session(session),
                session.idp_session,
            ),
        )
        self._maybe_purge(now)

    async def delete(self, session_id: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE key = ?", (storage_key(session_id),))

    async def delete_for_identity(self, identity_key: str) -> int:
        rows = self._db.execute(
            "DELETE FROM sessions WHERE identity_key = ? RETURNING expires", (identity_key,)
        ).fetchall()
        now = self._clock()
        return sum(1 for (expires,) in rows if expires > now)

    async def delete_for_idp_session(self, idp_session: str) -> int:
        rows = self._db.execute(
            "DELETE FROM sessions WHERE idp_session = ? RETURNING expires", (idp_session,)
        ).fetchall()
        now = self._clock()
        return sum(1 for (expires,) in rows if expires > now)

    async def put_pending(self, pending: PendingLogin, *, ttl: float) -> None:
        ttl = min(checked_ttl(ttl), PENDING_MAX_AGE)
        key = storage_key(pending.state)
        if ttl <= 0:
            self._db.execute("DELETE FROM pending WHERE key = ?", (key,))
            return
        now = self._clock()
        self._db.execute(
            "INSERT OR REPLACE INTO pending (key, expires, data) VALUES (?, ?, ?)",
            (key, now + ttl, dump_pending(pending)),
        )
        self._maybe_purge(now)

    async def take_pending(self, state: str) -> PendingLogin | None:
        rows = self._db.execute(
            "DELETE FROM pending WHERE key = ? RETURNING expires, data", (storage_key(state),)
        ).fetchall()
        if not rows:
            return None
        expires, data = rows[0]
        if expires <= self._clock():
            return None
        return load_pending(data, state)

    async def close(self) -> None:
        self._db.close()

    def purge(self) -> None:
        """Delete every expired row now (also done on writes, once per ``purge_interval``)."""
        now = self._clock()
        self._next_purge = now + self._purge_interval
        self._db.execute("DELETE FROM sessions WHERE expires <= ?", (now,))
        self._db.execute("DELETE FROM pending WHERE expires <= ?", (now,))

    def _maybe_purge(self, now: float) -> None:
        if now >= self._next_purge:
            self.purge()
