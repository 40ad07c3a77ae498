"""Store checks on real SQLite files: writable, missing, locked, not a database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from portcullis.config import validate
from portcullis.doctor.report import Status
from portcullis.doctor.stores import (
    SPOOL_WARN_BYTES,
    check_stores,
    spool_backlog,
    sqlite_writable,
)


def test_an_existing_database_is_written_to_without_a_change(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    check = sqlite_writable("session store", str(path))
    assert check.status is Status.OK and check.detail == f"{path}: writable"
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_a_missing_file_needs_a_directory(tmp_path: Path) -> None:
    ok = sqlite_writable("audit store", str(tmp_path / "new.db"))
    assert ok.status is Status.OK and "will be created" in ok.detail
    assert not (tmp_path / "new.db").exists()
    missing = sqlite_writable("audit store", str(tmp_path / "nowhere" / "new.db"))
    assert missing.status is Status.FAIL
    assert f"the directory {tmp_path / 'nowhere'} does not exist" in missing.detail


def test_a_locked_database_warns(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    try:
        check = sqlite_writable("session store", str(path))
    finally:
        holder.close()
    assert check.status is Status.WARN and "locked" in check.detail


def test_a_file_that_is_not_a_database_fails(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"certainly not SQLite " * 100)
    check = sqlite_writable("session store", str(path))
    assert check.status is Status.FAIL and "not a database" in check.detail


def test_which_stores_are_checked(tmp_path: Path) -> None:
    auth = {
        "external_url": "https://p.example.com",
        "providers": [
            {
                "type": "oidc",
                "issuer": "https://i.example.com",
                "client_id": "c",
                "client_secret": [{"value": "s"}],
            }
        ],
        "session": {"keys": [{"value": "k" * 40}], "sqlite_path": str(tmp_path / "s.db")},
    }
    config = validate(
        {
            "routes": [{"upstream": "http://127.0.0.1:1"}],
            "auth": auth,
            "audit": {
                "sqlite": {"path": str(tmp_path / "a.db")},
                "jsonl": {"path": str(tmp_path / "audit.jsonl")},
            },
        }
    )
    assert [c.name for c in check_stores(config)] == [
        "session store",
        "audit store",
        "audit spool",
        "audit jsonl",
    ]
    memory = validate(
        {
            "routes": [{"upstream": "http://127.0.0.1:1"}],
            "server": {"workers": 2},
            "auth": {**auth, "session": {**auth["session"], "store": "memory"}},
            "audit": {"sqlite": {"enabled": False}, "jsonl": {"path": "-"}},
        }
    )
    [session, jsonl] = check_stores(memory)
    assert session.status is Status.WARN and "each has its own" in session.detail
    assert jsonl.detail == "written to standard output"


def test_the_audit_spool_backlog_is_reported(tmp_path: Path) -> None:
    spool = tmp_path / "a.db.spool"
    fresh = spool_backlog(str(spool))
    assert fresh.status is Status.OK and "created by the first worker" in fresh.detail
    spool.mkdir()
    (spool / "1-h-1-00000.seg").write_bytes(b"x" * 1024)
    (spool / "1-h-2-00001.open").write_bytes(b"x" * 1024)
    (spool / "unrelated.txt").write_bytes(b"x" * 10_000)
    waiting = spool_backlog(str(spool))
    assert waiting.status is Status.OK and "2 segments, 0.0 MiB not yet indexed" in waiting.detail
    big = spool / "1-h-3-00002.seg"
    with big.open("wb") as file:
        file.truncate(SPOOL_WARN_BYTES + 1)  # sparse
    backlog = spool_backlog(str(spool))
    assert backlog.status is Status.WARN and "portcullis audit index" in backlog.detail
    (tmp_path / "file.spool").write_bytes(b"")
    assert spool_backlog(str(tmp_path / "file.spool")).status is Status.FAIL
