"""The writer: O(1) record(), batched flushes on the loop, sync durability, overflow, close."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import orjson
import pytest

from portcullis.audit import AuditLog, AuditRecord, Chain, Event
from portcullis.audit.jsonl import JsonlSink
from portcullis.audit.sink import Sealed
from portcullis.audit.verify import Entry, verify
from tests.audit.support import Collect, sample


def make_log(*sinks: object, **options: object) -> AuditLog:
    return AuditLog(list(sinks), Chain("test/1/0"), loop=asyncio.get_running_loop(), **options)  # type: ignore[arg-type]


async def drained(log: AuditLog) -> None:
    """Wait (on the loop, as the flush timer does) until the writer has written everything."""
    async with asyncio.timeout(10):
        while log.queued:
            await asyncio.sleep(0.005)


def test_record_does_no_io_and_one_flush_writes_the_batch() -> None:
    async def scenario() -> None:
        sink = Collect()
        log = make_log(sink, flush_interval=0.01)
        for n in range(10):
            log.record(sample(n))
        assert sink.batches == [] and log.queued == 10  # nothing written yet
        await drained(log)
        assert [len(b) for b in sink.batches] == [10]
        assert log.written == 10 and log.queued == 0
        assert [orjson.loads(line)["seq"] for line in sink.lines] == list(range(10))
        await log.close()

    asyncio.run(scenario())


def test_a_large_backlog_is_written_in_bounded_batches_across_loop_turns() -> None:
    async def scenario() -> None:
        sink = Collect()
        log = make_log(sink, flush_interval=0.01, max_batch=4)
        for n in range(10):
            log.record(sample(n))
        await drained(log)
        assert [len(b) for b in sink.batches] == [4, 4, 2]
        await log.close()

    asyncio.run(scenario())


def test_close_flushes_what_is_queued_syncs_and_closes() -> None:
    async def scenario() -> None:
        sink = Collect()
        log = make_log(sink, flush_interval=60)
        for n in range(3):
            log.record(sample(n))
        await log.close()
        assert len(sink.lines) == 3 and sink.syncs == 1 and sink.closed
        log.record(sample(4))  # after close: dropped, counted
        assert log.dropped == 1 and len(sink.lines) == 3
        await log.close()  # twice is fine

    asyncio.run(scenario())


def test_sync_durability_writes_and_syncs_each_record_before_returning(tmp_path: Path) -> None:
    async def scenario() -> None:
        path = tmp_path / "a.jsonl"
        sink, seen = JsonlSink(str(path)), Collect()
        log = make_log(sink, seen, durability="sync", flush_interval=60)
        log.record(sample(0))
        assert len(path.read_bytes().splitlines()) == 1  # on disk already
        log.record(sample(1))
        assert seen.syncs == 2 and [len(b) for b in seen.batches] == [1, 1]
        await log.close()

    asyncio.run(scenario())


def test_a_full_queue_drops_counts_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        sink = Collect()
        log = make_log(sink, queue_max=3, flush_interval=0.01)
        for n in range(5):
            log.record(sample(n))
        assert log.dropped == 2 and log.queued == 3
        await drained(log)
        assert len(sink.lines) == 3
        for n in range(5, 9):
            log.record(sample(n))
        await log.close()
        assert log.dropped == 3

    with caplog.at_level(logging.WARNING, logger="portcullis.audit"):
        asyncio.run(scenario())
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "audit: 2 records dropped, the queue was full (queue_max 3, 2 dropped in all)",
        "audit: 1 records dropped, the queue was full (queue_max 3, 3 dropped in all)",
    ]


class Broken:
    name = "broken"

    def write(self, batch: object) -> None:
        raise OSError(28, "No space left on device")

    def sync(self) -> None: ...

    def close(self) -> None: ...


def test_a_failing_sink_costs_only_its_own_copy(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        good = Collect()
        log = make_log(Broken(), good, flush_interval=0.01)
        log.record(sample(0, detail="secret-free"))
        await log.close()
        assert len(good.lines) == 1 and log.errors == 1

    with caplog.at_level(logging.ERROR, logger="portcullis.audit"):
        asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records] == [
        "audit: broken sink write failed: [Errno 28] No space left on device"
    ]


def test_an_unserializable_record_is_dropped_and_the_chain_stays_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> Collect:
        sink = Collect()
        log = make_log(sink, flush_interval=0.01)
        log.record(sample(0))
        log.record(sample(1, status=2**70))
        log.record(sample(2))
        await log.close()
        assert log.errors == 1 and log.written == 2
        return sink

    with caplog.at_level(logging.ERROR, logger="portcullis.audit"):
        sink = asyncio.run(scenario())
    entries = [Entry(str(n), line) for n, line in enumerate(sink.lines)]
    assert verify(entries).ok
    assert caplog.records[0].getMessage() == "audit: cannot serialize a record (allow): TypeError"


def test_without_sinks_record_is_a_no_op() -> None:
    async def scenario() -> None:
        log = make_log()
        log.record(sample(0))
        assert log.queued == 0 and log.dropped == 0
        await log.close()

    asyncio.run(scenario())


def test_record_never_writes_on_the_request_path() -> None:
    class Exploding:
        name = "exploding"

        def write(self, batch: list[Sealed]) -> None:
            raise AssertionError("written on the request path")

        def sync(self) -> None: ...

        def close(self) -> None: ...

    async def scenario() -> None:
        log = make_log(Exploding(), flush_interval=60)
        for n in range(1000):
            log.record(AuditRecord(time=float(n), event=Event.ALLOW))
        assert log.queued == 1000 and log.errors == 0 and log.written == 0

    asyncio.run(scenario())
