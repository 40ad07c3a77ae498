"""Opening a store file: owner-only, WAL, versioned schema, migrations, newer files refused."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from portcullis.sqlite_file import open_store

SCHEMA = "CREATE TABLE IF NOT EXISTS t (a TEXT);"


def test_a_new_file_is_owner_only_in_wal_mode_with_its_version(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = open_store(str(path), what="test store", schema=SCHEMA, version=3, busy_timeout=1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    db.close()


def test_an_older_file_is_migrated_once(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    open_store(path, what="test store", schema=SCHEMA, version=1, busy_timeout=1).close()
    seen: list[int] = []

    def migrate(db: sqlite3.Connection, found: int) -> None:
        seen.append(found)
        db.execute("ALTER TABLE t ADD COLUMN b TEXT")

    db = open_store(
        path, what="test store", schema=SCHEMA, version=2, busy_timeout=1, migrate=migrate
    )
    db.execute("INSERT INTO t (a, b) VALUES ('x', 'y')")
    db.close()
    open_store(path, what="test store", schema=SCHEMA, version=2, busy_timeout=1, migrate=migrate)
    assert seen == [1]


def test_a_newer_file_is_refused_by_name(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    open_store(path, what="test store", schema=SCHEMA, version=5, busy_timeout=1).close()
    with pytest.raises(sqlite3.DatabaseError, match=r"test store .* schema version 5"):
        open_store(path, what="test store", schema=SCHEMA, version=4, busy_timeout=1)
