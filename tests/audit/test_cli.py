"""`portcullis audit ...` as an operator runs it: a real process on a store written by writers."""

from __future__ import annotations

import queue
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from portcullis.audit import Event
from portcullis.audit.jsonl import JsonlSink
from portcullis.audit.sqlite import SqliteSink
from portcullis.cli import main
from tests.audit.support import (
    ALICE,
    API_ROUTE,
    BOB_ID,
    BOT_ID,
    TID,
    indexed,
    sample,
    write_records,
)

NOW = time.time()
RECORDS = [
    sample(0, time=NOW - 7200, request_id="old-alice"),
    sample(1, time=NOW - 60, request_id="alice-deny", event=Event.DENY, reason="forbidden"),
    sample(2, time=NOW - 50, request_id="bob", identity=BOB_ID, route=API_ROUTE),
    sample(
        3,
        time=NOW - 40,
        request_id="bot",
        identity=BOT_ID,
        route=API_ROUTE,
        reason="bearer",
        token_id="uti-long",
        token_age=600.0,
        token_remaining=86400.0,
    ),
    sample(
        4,
        time=NOW - 30,
        request_id="bot-again",
        identity=BOT_ID,
        token_id="uti-short",
        token_age=60.0,
        token_remaining=3540.0,
    ),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    write_records(
        [SqliteSink(tmp / "audit.db"), JsonlSink(str(tmp / "audit.jsonl"))], RECORDS[:3], "w/1/0"
    )
    write_records(
        [SqliteSink(tmp / "audit.db"), JsonlSink(str(tmp / "audit.jsonl"))], RECORDS[3:], "w/2/0"
    )
    (tmp / "portcullis.yaml").write_text(
        "routes:\n  - {upstream: 'http://127.0.0.1:1', public: true}\n"
        f"audit:\n  sqlite: {{path: '{tmp / 'audit.db'}'}}\n"
    )
    indexed(tmp / "audit.db")  # the last writer's records too, before tests copy the file
    return tmp


def audit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portcullis", "audit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ids_of(output: str) -> list[str]:
    return [orjson.loads(line)["request_id"] for line in output.splitlines()]


def test_verify_ok(store: Path) -> None:
    done = audit("verify", "-c", "portcullis.yaml", cwd=store)
    assert (done.returncode, done.stdout, done.stderr) == (0, "5 records, 2 chains, OK\n", "")
    done = audit("verify", "audit.jsonl", cwd=store)
    assert (done.returncode, done.stdout) == (0, "5 records, 2 chains, OK\n")


def test_verify_reports_tampering_with_its_position(store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "audit.db"
    shutil.copy(store / "audit.db", copy)
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE audit SET record = replace(record, '/page/1', '/page/9') WHERE id = 2")
        db.execute("DELETE FROM audit WHERE id = 4")
    done = audit("verify", str(copy), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "row 2 (chain w/1/0, seq 1): edited: the record does not match its hash",
        "row 5 (chain w/2/0, seq 1): removed: the chain's first records (seq 0) are missing",
        "4 records, 2 chains, 2 problems",
    ]
    assert "--partial" in done.stderr


def test_verify_jsonl_lines(store: Path, tmp_path: Path) -> None:
    lines = (store / "audit.jsonl").read_bytes().splitlines()
    lines[1], lines[2] = lines[2], lines[1]  # two records of chain w/1/0 swapped
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    done = audit("verify", "a.jsonl", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == (
        "a.jsonl:2 (chain w/1/0, seq 2): reordered: stored before seq 1, which comes later at "
        "a.jsonl:3"
    )


def test_query_filters(store: Path) -> None:
    done = audit(
        "query", "-c", "portcullis.yaml", "--identity", f"{TID}/{ALICE}", "--json", cwd=store
    )
    assert (done.returncode, ids_of(done.stdout)) == (0, ["old-alice", "alice-deny"])
    done = audit(
        "query", "-c", "portcullis.yaml", "--since", "1h", "--kind", "app", "--json", cwd=store
    )
    assert ids_of(done.stdout) == ["bot", "bot-again"]
    done = audit("query", "-c", "portcullis.yaml", "--decision", "deny", cwd=store)
    header, row = done.stdout.splitlines()
    assert header.split() == ["TIME", "EVENT", "IDENTITY", "KIND", "REQUEST", "REASON"]
    assert row.split()[1:] == ["deny", "Alice", "Example", "user", "GET", "/page/1", "forbidden"]
    done = audit(
        "query", "--store", "audit.jsonl", "--route", "/api", "--limit", "1", "--json", cwd=store
    )
    assert ids_of(done.stdout) == ["bot"]


def test_query_usage_errors(store: Path) -> None:
    done = audit("query", "-c", "portcullis.yaml", "--since", "yesterday", cwd=store)
    assert done.returncode == 2 and "'yesterday' is neither a duration ago" in done.stderr
    done = audit("query", "-c", "portcullis.yaml", "--event", "allow,nope", cwd=store)
    assert done.returncode == 2 and "unknown event 'nope'" in done.stderr
    done = audit("query", cwd=store)
    assert done.returncode == 2 and "give -c CONFIG or the store to read" in done.stderr
    done = audit("query", "-c", "portcullis.yaml", "--limit", "0", cwd=store)
    assert done.returncode == 2 and "must be at least 1, got 0" in done.stderr
    done = audit("tail", "-c", "portcullis.yaml", "-n", "many", cwd=store)
    assert done.returncode == 2 and "expected a whole number, got 'many'" in done.stderr


def test_config_and_store_problems(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "routes: [{upstream: 'http://127.0.0.1:1'}]\naudit: {sqlite: {pth: x}}\n"
    )
    done = audit("query", "-c", "bad.yaml", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2,
        "audit.sqlite.pth: unknown key (did you mean 'path'?)\n",
    )
    (tmp_path / "ok.yaml").write_text("routes: [{upstream: 'http://127.0.0.1:1'}]\n")
    done = audit("tail", "-c", "ok.yaml", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2,
        "portcullis-audit.db: cannot read: No such file or directory\n",
    )


def test_tail(store: Path) -> None:
    done = audit("tail", "-c", "portcullis.yaml", "-n", "2", "--json", cwd=store)
    assert ids_of(done.stdout) == ["bot", "bot-again"]


def test_tail_follow_prints_new_records(tmp_path: Path) -> None:
    write_records([SqliteSink(tmp_path / "audit.db")], [sample(0, request_id="before")], "w/1/0")
    command = ["tail", "--store", "audit.db", "-f", "--json", "--interval", "0.05"]
    process = subprocess.Popen(
        [sys.executable, "-m", "portcullis", "audit", *command],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout or ():
            lines.put(line)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert orjson.loads(lines.get(timeout=30))["request_id"] == "before"
        write_records([SqliteSink(tmp_path / "audit.db")], [sample(1, request_id="after")], "w/2/0")
        assert orjson.loads(lines.get(timeout=30))["request_id"] == "after"
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=10)
        if process.stdout:
            process.stdout.close()


def test_tokens_report_flags_long_lifetimes(store: Path) -> None:
    done = audit("tokens", "-c", "portcullis.yaml", "--max-lifetime", "24h", cwd=store)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[1].split() == [BOT_ID.client_id, "app", "2", "1h", "1h", "1d10m", "1d10m"]
    assert "1 token lived longer than 1d:" in lines
    assert lines[-1].split()[:4] == ["uti-long", BOT_ID.client_id, "app", "1d10m"]
    done = audit("tokens", "-c", "portcullis.yaml", "--max-lifetime", "2d", "--json", cwd=store)
    assert done.returncode == 0
    report = orjson.loads(done.stdout)
    assert report["too_long"] == [] and report["groups"][0]["count"] == 2
    done = audit("tokens", "-c", "portcullis.yaml", "--max-lifetime", "long", cwd=store)
    assert done.returncode == 2 and "not a duration" in done.stderr


def test_in_process_entry_point(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "-c", str(store / "portcullis.yaml")]) == 0
    assert capsys.readouterr().out == "5 records, 2 chains, OK\n"
    assert main(["audit", "nope"]) == 2


def test_index_moves_what_the_workers_spooled(tmp_path: Path) -> None:
    records = [sample(n, request_id=f"r{n}") for n in range(3)]
    write_records([SqliteSink(tmp_path / "audit.db")], records, "w/1/0")  # spooled only
    spool = tmp_path / "audit.db.spool"
    assert [p.suffix for p in spool.iterdir()] == [".seg"]
    done = audit("index", "--store", "audit.db", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "3 records indexed\n", "")
    assert list(spool.iterdir()) == []
    with sqlite3.connect(tmp_path / "audit.db") as db:
        assert db.execute("SELECT count(*) FROM audit").fetchone()[0] == 3
    again = audit("index", "--store", "audit.db", cwd=tmp_path)
    assert again.stdout == "0 records indexed\n"
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_bytes(b"")
    done = audit("index", "--store", str(jsonl), cwd=tmp_path)
    assert done.returncode == 2 and "only a SQLite store" in done.stderr


def test_a_store_that_cannot_be_indexed_is_read_with_a_warning(tmp_path: Path) -> None:
    write_records([SqliteSink(tmp_path / "audit.db")], [sample(0, request_id="in")], "w/1/0")
    indexed(tmp_path / "audit.db")
    write_records([SqliteSink(tmp_path / "audit.db")], [sample(1, request_id="out")], "w/2/0")
    with sqlite3.connect(tmp_path / "audit.db") as db:  # a store this release cannot write
        db.execute("PRAGMA user_version = 99")
    done = audit("query", "--store", "audit.db", "--json", cwd=tmp_path)
    assert done.returncode == 0 and ids_of(done.stdout) == ["in"]
    assert done.stderr.startswith("warning: ") and "could not be added" in done.stderr
    assert "schema version 99" in done.stderr
    done = audit("index", "--store", "audit.db", cwd=tmp_path)
    assert done.returncode == 1 and "could not be added" in done.stderr


def test_query_gives_the_latest_by_time_across_workers(tmp_path: Path) -> None:
    early = [sample(n, time=NOW - 100 + 2 * n, request_id=f"a{n}") for n in range(3)]
    late = [sample(n, time=NOW - 99 + 2 * n, request_id=f"b{n}") for n in range(3)]
    # Two workers at once: each spools its own segment, indexed one after the other.
    write_records([SqliteSink(tmp_path / "audit.db")], early, "w/1/0")
    write_records([SqliteSink(tmp_path / "audit.db")], late, "w/2/0")
    done = audit("query", "--store", "audit.db", "--limit", "3", "--json", cwd=tmp_path)
    assert ids_of(done.stdout) == ["b1", "a2", "b2"]
