"""Verifying stores: every kind of tampering is found, with its position, in SQLite and JSONL.

The stores are written by real writers (two workers interleaved, then a restarted
one anchored to the store's last record) and tampered with the way an attacker
with file access would: edit a byte, delete, swap, insert a well-formed forgery.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Protocol

import orjson
import pytest

from portcullis.audit import AuditLog, Chain
from portcullis.audit.build import chain_anchor
from portcullis.audit.chain import body_hash, split_line
from portcullis.audit.jsonl import JsonlSink
from portcullis.audit.sink import Sink
from portcullis.audit.sqlite import COLUMNS, SqliteSink
from portcullis.audit.store import open_reader
from portcullis.audit.verify import Entry, Verification, verify
from tests.audit.support import indexed, sample

A, B = "web1/100/0", "web1/200/0"


class Store(Protocol):
    def sink(self) -> Sink: ...
    def lines(self) -> list[bytes]: ...
    def save(self, lines: list[bytes]) -> None: ...
    def where(self, index: int) -> str: ...


class JsonlFile:
    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "audit.jsonl"

    def sink(self) -> Sink:
        return JsonlSink(str(self.path))

    def lines(self) -> list[bytes]:
        return self.path.read_bytes().splitlines()

    def save(self, lines: list[bytes]) -> None:
        self.path.write_bytes(b"".join(line + b"\n" for line in lines))

    def where(self, index: int) -> str:
        return f"{self.path}:{index + 1}"


class SqliteFile:
    """Rewrites keep the indexed columns consistent with the records, as a careful attacker."""

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "audit.db"

    def sink(self) -> Sink:
        return SqliteSink(self.path)

    def lines(self) -> list[bytes]:
        indexed(self.path)  # what the writers spooled, in the table
        with sqlite3.connect(self.path) as db:
            return [r[0].encode() for r in db.execute("SELECT record FROM audit ORDER BY id")]

    def save(self, lines: list[bytes]) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute("DELETE FROM audit")
            for number, line in enumerate(lines, 1):
                data = orjson.loads(line)
                values = [number, *(data.get(c) for c in COLUMNS), line.decode()]
                marks = ", ".join("?" * len(values))
                db.execute(
                    f"INSERT INTO audit (id, {', '.join(COLUMNS)}, record) VALUES ({marks})",
                    values,
                )

    def where(self, index: int) -> str:
        return f"row {index + 1}"


@pytest.fixture(params=["jsonl", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    made: Store = JsonlFile(tmp_path) if request.param == "jsonl" else SqliteFile(tmp_path)
    interleave(made, 6)
    return made


def interleave(store: Store, count: int) -> None:
    """Workers A and B writing at the same time: A0 B0 A1 B1 ... (both start on an empty store)."""
    loop = asyncio.new_event_loop()
    try:
        logs = [AuditLog([store.sink()], Chain(name), loop=loop) for name in (A, B)]
        for n in range(count):
            for worker, log in enumerate(logs):
                log.record(sample(n, request_id=f"{'AB'[worker]}{n}"))
                log.flush()
        for log in logs:
            loop.run_until_complete(log.close())
    finally:
        loop.close()


def restart(store: Store, count: int, name: str = "web1/300/0") -> None:
    """A new worker: its chain begins at the store's last record."""
    loop = asyncio.new_event_loop()
    try:
        sinks = [store.sink()]
        log = AuditLog(sinks, Chain(name, chain_anchor(sinks)), loop=loop)
        for n in range(count):
            log.record(sample(100 + n, request_id=f"C{n}"))
        loop.run_until_complete(log.close())
    finally:
        loop.close()


def check(store: Store, *, partial: bool = False) -> Verification:
    path = store.path  # type: ignore[attr-defined]
    reader = open_reader([str(path)])
    try:
        return verify(reader.entries(), anchors=reader.anchors(), partial=partial)
    finally:
        reader.close()


def index_of(store: Store, request_id: str) -> int:
    return next(
        i for i, line in enumerate(store.lines()) if orjson.loads(line)["request_id"] == request_id
    )


def test_untouched_store_verifies(store: Store) -> None:
    restart(store, 3)
    result = check(store)
    assert result.problems == ()
    assert result.summary() == "15 records, 3 chains, OK"


def test_an_edited_byte_is_found_where_it_is(store: Store) -> None:
    lines = store.lines()
    at = index_of(store, "A2")
    lines[at] = lines[at].replace(b'"/page/2"', b'"/page/X"')
    store.save(lines)
    result = check(store)
    assert [(p.where, p.chain, p.seq) for p in result.problems] == [(store.where(at), A, 2)]
    assert result.problems[0].message.startswith("edited")


def test_an_edited_hash_is_found_on_the_record_and_the_next_one(store: Store) -> None:
    lines = store.lines()
    at = index_of(store, "B3")
    data = orjson.loads(lines[at])
    lines[at] = lines[at].replace(data["hash"].encode(), b"0" * 64)
    store.save(lines)
    problems = check(store).problems
    assert [(p.where, p.seq) for p in problems] == [
        (store.where(at), 3),
        (store.where(index_of(store, "B4")), 4),
    ]


def test_a_removed_record_is_found_at_the_next_one(store: Store) -> None:
    lines = store.lines()
    at = index_of(store, "A2")
    del lines[at]
    store.save(lines)
    problems = check(store).problems
    assert [(p.where, p.chain, p.seq, p.message) for p in problems] == [
        (store.where(index_of(store, "A3")), A, 3, "removed: seq 2 missing before this record")
    ]


def test_removed_records_at_the_start_of_a_chain(store: Store) -> None:
    lines = store.lines()
    del lines[index_of(store, "B0")]
    del lines[index_of(store, "B1") - 1]
    store.save(lines)
    result = check(store)
    assert [(p.where, p.seq, p.message) for p in result.problems] == [
        (
            store.where(index_of(store, "B2")),
            2,
            "removed: the chain's first records (seq 0-1) are missing",
        )
    ]
    partial = check(store, partial=True)
    assert partial.ok and partial.partial_chains == 1
    assert partial.summary() == "10 records, 2 chains (1 begin before the input), OK"


def test_swapped_records_are_reported_as_reordered(store: Store) -> None:
    lines = store.lines()
    first, second = index_of(store, "A2"), index_of(store, "A3")
    lines[first], lines[second] = lines[second], lines[first]
    store.save(lines)
    problems = check(store).problems
    assert len(problems) == 1
    assert problems[0].where == store.where(first)
    assert problems[0].message == (
        f"reordered: stored before seq 2, which comes later at {store.where(second)}"
    )


def test_an_inserted_forgery_is_found(store: Store) -> None:
    """A forged record with a correct hash, linked to its predecessor: its successor objects."""
    lines = store.lines()
    at = index_of(store, "A2")
    genuine = orjson.loads(lines[at])
    forged = {k: v for k, v in genuine.items() if k != "hash"}
    forged.update(path="/admin", seq=3, prev=genuine["hash"])
    body = orjson.dumps(forged)
    line = body[:-1] + b',"hash":"' + body_hash(forged["prev"], body).encode() + b'"}'
    assert split_line(line) is not None
    lines.insert(at + 1, line)
    store.save(lines)
    problems = check(store).problems
    after = index_of(store, "A3")
    assert [(p.where, p.seq) for p in problems] == [
        (store.where(after), 3),
        (store.where(index_of(store, "A4")), 4),
    ]
    assert problems[0].message.startswith("inserted or duplicated: seq 3 comes after seq 3")
    assert problems[1].message.startswith("prev is not the hash of seq 3")


def test_a_duplicated_record_is_found(store: Store) -> None:
    lines = store.lines()
    lines.append(lines[index_of(store, "A1")])
    store.save(lines)
    problems = check(store).problems
    assert [(p.where, p.seq) for p in problems] == [(store.where(len(lines) - 1), 1)]
    assert problems[0].message.startswith("inserted or duplicated")


def test_a_removed_anchor_is_found_at_the_chain_that_needed_it(store: Store) -> None:
    restart(store, 2)
    lines = store.lines()
    del lines[index_of(store, "B5")]  # the store's last record when worker C started
    store.save(lines)
    problems = check(store).problems
    assert [(p.where, p.chain, p.seq) for p in problems] == [
        (store.where(index_of(store, "C0")), "web1/300/0", 0)
    ]
    assert "anchor" in problems[0].message
    assert check(store, partial=True).ok


def test_garbage_lines_are_reported() -> None:
    entries = [Entry("x:1", b"not json"), Entry("x:2", b'{"a":1,"hash":"' + b"0" * 64 + b'"}')]
    problems = verify(entries).problems
    assert [p.where for p in problems] == ["x:1", "x:2"]
    assert all(p.message.startswith("not a sealed audit record") for p in problems)


def test_an_edited_column_is_found(tmp_path: Path) -> None:
    store = SqliteFile(tmp_path)
    interleave(store, 2)
    indexed(store.path)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE audit SET object_id = 'someone-else' WHERE id = 3")
    problems = check(store).problems
    assert [(p.where, p.message) for p in problems] == [
        ("row 3", "edited: column object_id differs from the sealed record")
    ]
