"""Temporary blocks of identities, in one SQLite file shared by the workers of a machine.

A block names an identity key (``tid/oid`` or ``iss#sub``), when it ends, the
rule that set it and why. The gate asks :meth:`BlockStore.is_blocked` on every
request: a dictionary lookup in an in-process copy of the active blocks, no
I/O. :meth:`BlockStore.refresh` (every ``refresh_seconds``, from the worker's
timer) rereads the table only when another connection changed it
(``PRAGMA data_version``), so a block set by another worker, or lifted with
``portcullis blocks lift``, takes effect everywhere within one refresh.

Writes are short local statements on the caller's thread, as in the session
store. The file is in WAL mode (readers never wait for the writer) and is
created with mode 0600. Expired rows are purged when a block is added.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from portcullis.sqlite_file import open_store

__all__ = ["Block", "BlockStore"]

SCHEMA_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS blocks (
    identity TEXT PRIMARY KEY,
    since REAL NOT NULL,
    until REAL NOT NULL,
    rule TEXT NOT NULL,
    detail TEXT NOT NULL
) WITHOUT ROWID;
"""
_MAX_DETAIL: Final = 512


@dataclass(frozen=True, slots=True)
class Block:
    identity: str
    since: float  # epoch seconds
    until: float
    rule: str
    detail: str


class BlockStore:
    """One per process; not thread-safe. ``path`` may be ``":memory:"`` (tests, one process)."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 2.0) -> None:
        self._path = os.fspath(path)
        self._db = open_store(
            self._path,
            what="block store",
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            busy_timeout=busy_timeout,
        )
        self._active: dict[str, float] = {}  # identity -> until
        self._version = -1
        self.refresh(force=True)

    def __repr__(self) -> str:
        return f"BlockStore({self._path!r})"

    def is_blocked(self, identity: str, now: float) -> bool:
        """Whether ``identity`` is blocked at ``now`` (the hot path: no I/O)."""
        until = self._active.get(identity)
        return until is not None and until > now

    def refresh(self, *, force: bool = False) -> bool:
        """Reread the blocks if another connection changed them; True when reread."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version and not force:
            return False
        rows = self._db.execute("SELECT identity, until FROM blocks").fetchall()
        self._active = dict(rows)
        self._version = version
        return True

    def block(self, identity: str, *, now: float, until: float, rule: str, detail: str) -> None:
        """Block ``identity`` until ``until``; an existing longer block is kept."""
        self._db.execute("DELETE FROM blocks WHERE until <= ?", (now,))
        self._db.execute(
            "INSERT INTO blocks (identity, since, until, rule, detail) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (identity) DO UPDATE SET since = excluded.since, "
            "until = excluded.until, rule = excluded.rule, detail = excluded.detail "
            "WHERE excluded.until > blocks.until",
            (identity, now, until, rule, detail[:_MAX_DETAIL]),
        )
        if until > self._active.get(identity, 0.0):
            self._active[identity] = until

    def lift(self, identity: str) -> bool:
        """End the block of ``identity``; False if it had none."""
        gone = self._db.execute("DELETE FROM blocks WHERE identity = ?", (identity,)).rowcount
        self._active.pop(identity, None)
        return gone > 0

    def lift_all(self) -> int:
        """End every block; returns how many there were (expired ones included)."""
        gone = self._db.execute("DELETE FROM blocks").rowcount
        self._active.clear()
        return int(gone)

    def active(self, now: float, identity: str | None = None) -> list[Block]:
        """The blocks in force at ``now`` (only ``identity``'s, if given), soonest end first."""
        sql = "SELECT identity, since, until, rule, detail FROM blocks WHERE until > ?"
        args: tuple[object, ...] = (now,)
        if identity is not None:
            sql += " AND identity = ?"
            args += (identity,)
        rows = self._db.execute(sql + " ORDER BY until, identity", args).fetchall()
        return [Block(*row) for row in rows]

    def close(self) -> None:
        self._db.close()
