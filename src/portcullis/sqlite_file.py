"""A local SQLite file as Portcullis' stores use it: created 0600, WAL, a versioned schema.

The session store, the audit store and the guardrails' block store are each one file shared
by the worker processes of one machine. :func:`open_store` creates the file with owner-only
permissions before SQLite does, switches to WAL, refuses a schema newer than this release
knows, lets the store migrate an older one, and applies the (idempotent) schema.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable

__all__ = ["open_store"]


def open_store(
    path: str,
    *,
    what: str,
    schema: str,
    version: int,
    busy_timeout: float,
    durable: bool = False,
    migrate: Callable[[sqlite3.Connection, int], None] | None = None,
) -> sqlite3.Connection:
    """The open connection (autocommit); raises ``sqlite3.Error`` / ``OSError``.

    ``what`` names the store in errors ("session store"); ``migrate(db, found_version)``
    runs before the schema when the file is older than ``version``.
    """
    if path != ":memory:" and not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        found = db.execute("PRAGMA user_version").fetchone()[0]
        if found > version:
            raise sqlite3.DatabaseError(
                f"{what} {path!r} has schema version {found}; "
                f"this Portcullis understands up to {version}"
            )
        if migrate is not None and 0 < found < version:
            migrate(db, found)
        db.executescript(schema)
        if found < version:
            db.execute(f"PRAGMA user_version = {version}")
    except BaseException:
        db.close()
        raise
    return db
