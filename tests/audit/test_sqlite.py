"""The SQLite store: WAL, private file, indexed copies of the fields queries use."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import orjson
import pytest

from portcullis.audit.chain import Chain
from portcullis.audit.record import record_body
from portcullis.audit.sink import Sealed
from portcullis.audit.sqlite import COLUMNS, SqliteSink, connect_readonly
from portcullis.audit.store import open_reader
from portcullis.audit.verify import verify
from tests.audit.support import API_ROUTE, BOT_ID, sample


def test_wal_private_file_and_indexes(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    SqliteSink(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexed = {
            column
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            for (_, _, column) in db.execute(f"PRAGMA index_info({name})")
        }
    assert {"time", "tenant_id", "object_id", "kind", "route_host", "event", "reason"} <= indexed


def test_rows_hold_the_line_and_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    sink, chain = SqliteSink(path), Chain("c")
    body = record_body(
        sample(
            7, identity=BOT_ID, route=API_ROUTE, token_id="u1", token_age=5.0, token_remaining=10.0
        )
    )
    line = chain.seal(body)
    sink.write([Sealed(body, line)])
    with sqlite3.connect(path) as db:  # spooled, not yet in the table
        assert db.execute("SELECT count(*) FROM audit").fetchone()[0] == 0
    assert sink.index() == 1
    assert sink.last_hash() == chain.prev
    sink.close()
    with sqlite3.connect(path) as db:
        row = db.execute(f"SELECT {', '.join(COLUMNS)}, record FROM audit").fetchone()
    values = dict(zip(COLUMNS, row, strict=False))
    data = orjson.loads(row[-1])
    assert row[-1].encode() == line
    assert values == {c: data.get(c) for c in COLUMNS}
    assert values["kind"] == "app" and values["route"] == 2 and values["token_lifetime"] == 15.0


def test_a_line_that_is_not_a_record_is_kept_for_verify_to_report(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    sink, chain = SqliteSink(path), Chain("c")
    good = record_body(sample(0))
    sink.write([Sealed(good, chain.seal(good)), Sealed({}, b"{}"), Sealed({}, b"garbage")])
    assert sink.index() == 3
    sink.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT time, chain, seq, event FROM audit ORDER BY id").fetchall()
    assert [row[1:4] for row in rows] == [("c", 0, "allow"), ("", -1, ""), ("", -1, "")]
    reader = open_reader([str(path)])
    problems = verify(reader.entries(), anchors=reader.anchors()).problems
    reader.close()
    assert [p.where for p in problems] == ["row 2", "row 3"]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(sqlite3.DatabaseError, match="schema version 99"):
        SqliteSink(path)


def test_readers_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    SqliteSink(path).close()
    db = connect_readonly(path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("DELETE FROM audit")
    db.close()
    with pytest.raises(sqlite3.OperationalError):
        connect_readonly(tmp_path / "missing.db")
    (tmp_path / "other.db").write_bytes(b"")
    with pytest.raises(sqlite3.DatabaseError):
        connect_readonly(tmp_path / "other.db")
