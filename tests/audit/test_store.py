"""Reading stores: which store a configuration names, following new records, bad inputs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from portcullis.audit.filters import Filter
from portcullis.audit.jsonl import JsonlSink
from portcullis.audit.sqlite import SqliteSink
from portcullis.audit.store import StoreError, configured_store, open_reader
from portcullis.config.schema import AuditSettings
from tests.audit.support import sample, write_records


def test_the_configured_store_is_sqlite_else_the_jsonl_file() -> None:
    assert configured_store(AuditSettings()) == ("portcullis-audit.db", 0)
    settings = AuditSettings.model_validate(
        {"sqlite": {"enabled": False}, "jsonl": {"path": "/var/log/a.jsonl", "max_files": 3}}
    )
    assert configured_store(settings) == ("/var/log/a.jsonl", 3)
    nothing = AuditSettings.model_validate({"sqlite": {"enabled": False}, "jsonl": {"path": "-"}})
    with pytest.raises(StoreError, match="nothing to read"):
        configured_store(nothing)


def test_sqlite_follow(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    write_records([SqliteSink(path)], [sample(0), sample(1)], "h/1/0")
    reader = open_reader([str(path)])
    cursor = reader.end()
    assert reader.after(cursor) == ([], cursor)
    write_records([SqliteSink(path)], [sample(2), sample(3)], "h/2/0")
    rows, cursor = reader.after(cursor)
    assert [r.record["request_id"] for r in rows] == ["req-2", "req-3"]
    assert reader.after(cursor)[0] == []
    reader.close()


def test_jsonl_follow_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_records([JsonlSink(str(path))], [sample(0)], "h/1/0")
    reader = open_reader([str(path)])
    cursor = reader.end()
    with path.open("ab") as file:
        file.write(b'{"partial":')  # a line still being written is not read yet
    rows, cursor = reader.after(cursor)
    assert rows == []
    with path.open("ab") as file:
        file.write(b'1,"request_id":"p"}\n')
    rows, cursor = reader.after(cursor)
    assert [r.record["request_id"] for r in rows] == ["p"]
    write_records([JsonlSink(str(path))], [sample(1)], "h/2/0")
    path.rename(tmp_path / "a.jsonl.1")  # rotated before the next poll ...
    write_records([JsonlSink(str(path))], [sample(2)], "h/3/0")
    rows, cursor = reader.after(cursor)
    assert [r.record["request_id"] for r in rows] == ["req-1", "req-2"]  # ... nothing lost
    reader.close()


def test_jsonl_with_rotated_files_reads_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    for n in (3, 2, 1):
        write_records([JsonlSink(f"{path}.{n}")], [sample(10 - n)], f"h/{n}/0")
    write_records([JsonlSink(str(path))], [sample(10)], "h/0/0")
    reader = open_reader([str(path)], max_files=2)  # .3 is beyond max_files
    assert [r.record["request_id"] for r in reader.select(Filter())] == [
        "req-8",
        "req-9",
        "req-10",
    ]


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"missing\.db: cannot read: No such file"):
        open_reader([str(tmp_path / "missing.db")])
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match=r"other\.db: not an audit store"):
        open_reader([str(db)])
    with pytest.raises(StoreError, match="verified on its own"):
        open_reader([str(db), str(db)])
    with pytest.raises(StoreError, match="no audit store given"):
        open_reader([])
