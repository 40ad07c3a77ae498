"""The spool: segments per writer, indexed exactly once, abandoned segments cleaned up."""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from pathlib import Path

import orjson
import pytest

from portcullis.audit.chain import Chain
from portcullis.audit.record import record_body
from portcullis.audit.spool import (
    CLOSED,
    OPEN,
    SpoolWriter,
    _host,
    last_spooled_hash,
    spool_dir,
)
from portcullis.audit.sqlite import SqliteSink, index_store, open_for_indexing
from tests.audit.support import sample


def lines(count: int, chain: str = "w/1/0", start: int = 0) -> list[bytes]:
    sealer = Chain(chain)
    return [sealer.seal(record_body(sample(start + n))) for n in range(count)]


def stored(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT chain, seq FROM audit ORDER BY id"))


def index(path: Path) -> int:
    db = open_for_indexing(str(path))
    try:
        return index_store(db, str(path))
    finally:
        db.close()


def test_segments_are_private_open_while_written_and_sealed_on_close(tmp_path: Path) -> None:
    spool = spool_dir(str(tmp_path / "audit.db"))
    writer = SpoolWriter(spool)
    assert stat.S_IMODE(os.stat(spool).st_mode) == 0o700
    assert os.listdir(spool) == []  # nothing until the first write
    writer.write(lines(3))
    (name,) = os.listdir(spool)
    assert name.endswith(OPEN) and f"-{_host()}-{os.getpid()}-" in name
    assert stat.S_IMODE(os.stat(os.path.join(spool, name)).st_mode) == 0o600
    writer.close()
    (closed,) = os.listdir(spool)
    assert closed == name.removesuffix(OPEN) + CLOSED
    data = Path(spool, closed).read_bytes()
    assert data.count(b"\n") == 3 and data.endswith(b"\n")


def test_a_full_segment_is_sealed_and_the_next_one_begun(tmp_path: Path) -> None:
    spool = spool_dir(str(tmp_path / "audit.db"))
    writer = SpoolWriter(spool, segment_bytes=1000)
    for batch in range(5):
        writer.write(lines(1, start=batch))  # ~600 bytes each
    names = sorted(os.listdir(spool))
    assert [Path(n).suffix for n in names] == [CLOSED, CLOSED, OPEN]
    writer.close()


def test_indexing_moves_each_line_once_and_deletes_finished_segments(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    index(path)  # creates the store
    writer = SpoolWriter(spool_dir(str(path)))
    writer.write(lines(2))
    assert index(path) == 2
    assert index(path) == 0  # nothing new: nothing twice
    writer.write(lines(3, start=2)[2:])  # seq 0 of another sealer: content does not matter
    assert index(path) == 1
    writer.close()  # .open -> .seg: progress is kept under the new name
    assert index(path) == 0
    assert os.listdir(spool_dir(str(path))) == []  # finished and indexed: gone
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM spool").fetchone()[0] == 0
    assert len(stored(path)) == 3


def test_an_unfinished_line_waits_for_its_end(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    index(path)
    spool = spool_dir(str(path))
    writer = SpoolWriter(spool)
    first, second = lines(2)
    writer.write([first])
    (name,) = os.listdir(spool)
    with open(os.path.join(spool, name), "ab") as segment:  # a write caught half-way
        segment.write(second[:100])
    assert index(path) == 1
    with open(os.path.join(spool, name), "ab") as segment:
        segment.write(second[100:] + b"\n")
    assert index(path) == 1
    assert stored(path) == [("w/1/0", 0), ("w/1/0", 1)]
    writer.close()


def test_two_indexers_never_index_a_line_twice(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    index(path)
    writer = SpoolWriter(spool_dir(str(path)))
    writer.write(lines(50))
    writer.close()
    one, two = open_for_indexing(str(path)), open_for_indexing(str(path))
    try:
        assert index_store(one, str(path)) + index_store(two, str(path)) == 50
    finally:
        one.close()
        two.close()
    assert len(stored(path)) == 50


def test_a_dead_writers_open_segment_is_indexed_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    index(path)
    spool = spool_dir(str(path))
    os.makedirs(spool, exist_ok=True)
    line = lines(1)[0]
    dead = f"0000000000001-{_host()}-999999999-00000{OPEN}"  # no such pid
    elsewhere = f"0000000000002-other.host-1-00000{OPEN}"  # another machine's writer
    for name in (dead, elsewhere):
        Path(spool, name).write_bytes(line + b"\n")
    assert index(path) == 2
    assert os.listdir(spool) == [elsewhere]  # never taken for abandoned


def test_a_writer_whose_segment_was_removed_starts_a_new_one(tmp_path: Path) -> None:
    spool = spool_dir(str(tmp_path / "audit.db"))
    writer = SpoolWriter(spool)
    writer.write(lines(1))
    (name,) = os.listdir(spool)
    os.unlink(os.path.join(spool, name))
    writer.write(lines(1))
    (again,) = os.listdir(spool)
    assert again != name and Path(spool, again).read_bytes().count(b"\n") == 1
    writer.close()


def test_lines_keep_their_bytes(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    index(path)
    written = lines(3)
    writer = SpoolWriter(spool_dir(str(path)))
    writer.write(written)
    writer.close()
    index(path)
    with sqlite3.connect(path) as db:
        records = [row[0].encode() for row in db.execute("SELECT record FROM audit ORDER BY id")]
    assert records == written
    assert [orjson.loads(r)["seq"] for r in records] == [0, 1, 2]


def test_the_last_spooled_hash_is_the_newest_segments_last_complete_record(
    tmp_path: Path,
) -> None:
    spool = spool_dir(str(tmp_path / "audit.db"))
    assert last_spooled_hash(spool) is None  # no spool yet
    old, new = SpoolWriter(spool), SpoolWriter(spool)
    sealer = Chain("w/1/0")
    first, second, third = (sealer.seal(record_body(sample(n))) for n in range(3))
    old.write([first])
    (older,) = Path(spool).iterdir()
    new.write([second])
    (newer,) = set(Path(spool).iterdir()) - {older}
    with newer.open("ab") as segment:  # a write caught half-way
        segment.write(third[:50])
    os.utime(older, (1_000_000, 1_000_000))
    os.utime(newer, (2_000_000, 2_000_000))
    assert last_spooled_hash(spool) == orjson.loads(second)["hash"]
    os.utime(older, (3_000_000, 3_000_000))
    assert last_spooled_hash(spool) == orjson.loads(first)["hash"]
    old.close()
    new.close()


def test_a_new_sink_anchors_at_the_spool_without_indexing_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    index(path)
    writer = SpoolWriter(spool_dir(str(path)))
    written = lines(2)
    writer.write(written)
    writer.close()
    sink = SqliteSink(path)
    try:
        assert sink.last_hash() == orjson.loads(written[-1])["hash"]
        assert stored(path) == []  # starting never waits for indexing
    finally:
        sink.close()


def test_a_failed_write_leaves_its_segment_and_the_next_batch_starts_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = spool_dir(str(tmp_path / "audit.db"))
    writer = SpoolWriter(spool)
    writer.write(lines(1))
    real_write = os.write

    def disk_full(fd: int, data: bytes | memoryview) -> int:
        real_write(fd, bytes(data[:10]))  # part of a line, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(OSError, match="No space"):
        writer.write(lines(1, start=1))
    monkeypatch.setattr(os, "write", real_write)
    writer.write(lines(1, start=2))
    names = sorted(os.listdir(spool))
    assert [Path(n).suffix for n in names] == [CLOSED, OPEN]
    first, second = (Path(spool, n).read_bytes() for n in names)
    assert first.count(b"\n") == 1 and not first.endswith(b"\n")  # the cut line stays there
    assert second.count(b"\n") == 1 and second.endswith(b"\n")
    writer.close()
