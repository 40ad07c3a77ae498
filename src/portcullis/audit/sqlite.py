"""The queryable store: one SQLite table, WAL mode, shared by the workers of one machine.

Each row is one sealed record: the JSON line in ``record`` (``json_extract``
works on it) and copies of the fields queries filter on, indexed. The copies
are checked against the record by ``portcullis audit verify``. Rows are only
ever inserted; ``id`` is the storage order.

The workers do not insert rows: :class:`SqliteSink` appends each batch to the
store's spool (:mod:`portcullis.audit.spool`), and :func:`index_store` moves the
spool into the table before every read (``portcullis audit ...``). With
``durability: sync`` the writer fsyncs the spool after every record.
The database file is created mode 0600.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Final
from urllib.parse import quote

from portcullis.audit.chain import split_line
from portcullis.audit.sink import Sealed
from portcullis.audit.spool import (
    SPOOL_SCHEMA,
    SpoolWriter,
    index_spool,
    last_spooled_hash,
    spool_dir,
)
from portcullis.sqlite_file import open_store

__all__ = [
    "COLUMNS",
    "SCHEMA_VERSION",
    "SqliteSink",
    "connect_readonly",
    "index_store",
    "open_for_indexing",
]

SCHEMA_VERSION: Final = 2  # 2: the spool table

COLUMNS: Final = (
    "time",
    "chain",
    "seq",
    "event",
    "tenant_id",
    "object_id",
    "kind",
    "acting_for",
    "route",
    "route_host",
    "route_path",
    "reason",
    "client_id",
    "token_id",
    "token_lifetime",
)
"""Record fields copied into columns of the same name (``record`` holds the whole line)."""

_SCHEMA: Final = (
    """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    chain TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    tenant_id TEXT,
    object_id TEXT,
    kind TEXT,
    acting_for TEXT,
    route INTEGER,
    route_host TEXT,
    route_path TEXT,
    reason TEXT,
    client_id TEXT,
    token_id TEXT,
    token_lifetime REAL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (time);
CREATE INDEX IF NOT EXISTS audit_by_identity ON audit (object_id, tenant_id);
CREATE INDEX IF NOT EXISTS audit_by_acting_for ON audit (acting_for);
CREATE INDEX IF NOT EXISTS audit_by_kind ON audit (kind);
CREATE INDEX IF NOT EXISTS audit_by_route ON audit (route_host, route_path);
CREATE INDEX IF NOT EXISTS audit_by_event ON audit (event);
CREATE INDEX IF NOT EXISTS audit_by_reason ON audit (reason);
"""
    + SPOOL_SCHEMA
)
_INSERT: Final = (  # built from the constant COLUMNS only
    f"INSERT INTO audit ({', '.join(COLUMNS)}, record) "  # noqa: S608
    f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))})"
)


class SqliteSink:
    """Appends to the store's spool. Opening it checks (or creates) the database, and
    does not index: a long spool never delays a start."""

    name = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 2.0,
    ) -> None:
        self.path = os.fspath(path)
        self._db = open_for_indexing(self.path, busy_timeout=busy_timeout)
        try:
            self._spool = SpoolWriter(spool_dir(self.path))
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteSink({self.path!r})"

    def write(self, batch: Sequence[Sealed]) -> None:
        self._spool.write([entry.line for entry in batch])

    def sync(self) -> None:
        self._spool.sync()

    def close(self) -> None:
        try:
            self._spool.close()
        finally:
            self._db.close()

    def index(self) -> int:
        """Bring the database up to date with the spool; the number of records added."""
        return index_store(self._db, self.path)

    def last_hash(self) -> str | None:
        """The last record spooled (by any worker), else the table's last row."""
        spooled = last_spooled_hash(spool_dir(self.path))
        if spooled is not None:
            return spooled
        row = self._db.execute("SELECT record FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        split = split_line(row[0].encode()) if row else None
        return split[1] if split else None


def open_for_indexing(path: str, *, busy_timeout: float = 2.0) -> sqlite3.Connection:
    """The store opened for writing (created with its schema if new); ``sqlite3.Error`` /
    ``OSError`` when it cannot be."""
    return open_store(
        path,
        what="audit store",
        schema=_SCHEMA,
        version=SCHEMA_VERSION,
        busy_timeout=busy_timeout,
    )


def index_store(db: sqlite3.Connection, path: str) -> int:
    """Move the spool of the store at ``path`` into ``db``; the number of records added."""
    return index_spool(db, spool_dir(path), _INSERT, COLUMNS)


def connect_readonly(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open an existing store for reading only (``sqlite3.OperationalError`` if it is not one)."""
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise sqlite3.OperationalError(f"{name}: no such file")
    uri = f"file:{quote(str(Path(name).absolute()))}?mode=ro"
    db = sqlite3.connect(uri, uri=True, check_same_thread=False)
    try:
        db.execute("SELECT count(*) FROM audit WHERE id < 0").fetchone()
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db
