"""JSON lines: append-only files shared by processes, rotated by size and time, or stdout."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson

from portcullis.audit.chain import Chain
from portcullis.audit.jsonl import JsonlSink, last_line, rotated_files
from portcullis.audit.record import record_body
from portcullis.audit.sink import Sealed
from tests.audit.support import START, sample


def sealed(chain: Chain, *numbers: int) -> list[Sealed]:
    out = []
    for n in numbers:
        body = record_body(sample(n))
        out.append(Sealed(body, chain.seal(body)))
    return out


def test_lines_are_appended_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink, chain = JsonlSink(str(path)), Chain("c")
    sink.write(sealed(chain, 0, 1))
    sink.write(sealed(chain, 2))
    sink.sync()
    sink.close()
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(line)["seq"] for line in lines] == [0, 1, 2]
    assert path.read_bytes().endswith(b"\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "audit.jsonl.lock").stat().st_mode) == 0o600


def test_two_writers_share_one_file_without_tearing_lines(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.jsonl")
    first, second = JsonlSink(path), JsonlSink(path)
    a, b = Chain("a"), Chain("b")
    for n in range(50):
        first.write(sealed(a, n))
        second.write(sealed(b, n))
    first.close()
    second.close()
    records = [orjson.loads(line) for line in Path(path).read_bytes().splitlines()]
    assert len(records) == 100
    assert [r["seq"] for r in records if r["chain"] == "a"] == list(range(50))


def test_rotation_by_size_keeps_max_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink, chain = JsonlSink(str(path), max_bytes=4096, max_files=2), Chain("c")
    for n in range(60):
        sink.write(sealed(chain, n))
    sink.close()
    assert sorted(os.listdir(tmp_path)) == [
        "audit.jsonl",
        "audit.jsonl.1",
        "audit.jsonl.2",
        "audit.jsonl.lock",
    ]
    files = rotated_files(str(path), 2)
    assert files == [f"{path}.2", f"{path}.1", str(path)]
    seqs = [orjson.loads(line)["seq"] for f in files for line in Path(f).read_bytes().splitlines()]
    assert seqs == list(range(seqs[0], 60))  # the oldest were dropped, the rest in order
    assert all(Path(f).stat().st_size <= 4096 for f in files)


def test_rotation_by_time_starts_a_file_each_period(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    now = [START]
    sink = JsonlSink(str(path), rotate_seconds=3600, clock=lambda: now[0])
    chain = Chain("c")
    sink.write(sealed(chain, 0))
    os.utime(path, (START, START))  # last written within the current hour
    now[0] = START + 10
    sink.write(sealed(chain, 1))
    assert not (tmp_path / "audit.jsonl.1").exists()
    os.utime(path, (START, START))
    now[0] = START + 3600
    sink.write(sealed(chain, 2))
    sink.close()
    assert len((tmp_path / "audit.jsonl.1").read_bytes().splitlines()) == 2
    assert len(path.read_bytes().splitlines()) == 1


def test_a_file_moved_away_by_logrotate_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink, chain = JsonlSink(str(path)), Chain("c")
    sink.write(sealed(chain, 0))
    path.rename(tmp_path / "audit.jsonl.old")
    sink.write(sealed(chain, 1))
    sink.close()
    assert orjson.loads(path.read_bytes())["seq"] == 1


def test_stdout_gets_the_lines_and_no_rotation(tmp_path: Path) -> None:
    read, write = os.pipe()
    try:
        sink = JsonlSink("-", stdout_fd=write)
        sink.write(sealed(Chain("c"), 0, 1))
        sink.sync()  # a pipe cannot be synced: not an error
        sink.close()
        data = os.read(read, 65536)
    finally:
        os.close(read)
        os.close(write)
    assert [orjson.loads(line)["seq"] for line in data.splitlines()] == [0, 1]
    assert sink.last_hash() is None
    assert os.listdir(tmp_path) == []


def test_last_hash_reads_the_end_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink, chain = JsonlSink(str(path)), Chain("c")
    assert sink.last_hash() is None
    sink.write(sealed(chain, 0, 1, 2))
    assert sink.last_hash() == chain.prev
    sink.close()
    assert last_line(str(tmp_path / "missing")) is None
