"""Micro-benchmark of the audit writer: the request-path cost and the amortized flush cost.

    .venv/bin/python -m bench.audit [--records 100000]

Prints µs per record for: building an :class:`AuditRecord` (what the request path
does besides ``record()``), ``AuditLog.record()`` itself, and the flush that
runs later on the same loop — sealing only (serialization + hash chain), then
sealing plus each sink: SQLite (WAL, batched), a JSONL file, syslog over UDP to a
local socket nobody reads, and all three. ``durability: sync`` (one fsync per
record) is measured on fewer records.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from portcullis.audit import AuditIdentity, AuditLog, AuditRecord, AuditRoute, Chain, Event
from portcullis.audit.jsonl import JsonlSink
from portcullis.audit.sink import Sink
from portcullis.audit.sqlite import SqliteSink
from portcullis.audit.syslog import SyslogSink

TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OID = "0c3b2f9e-5f7d-4f57-9a55-6a1f0e1d2c3b"
CLIENT = "1b730954-1685-4b74-9bfd-dac224a7b894"


# Built once per verified token / per configured route, as the request path would.
IDENTITY = AuditIdentity(TID, OID, "app", "reporting-bot", CLIENT)
ROUTE = AuditRoute(2, "api.example.com", "/reports")
REQUEST_IDS = [f"8f14e45fceea167a5a36dedd4bea{n:06d}" for n in range(1000)]
PATHS = [f"/reports/{n}" for n in range(100)]


def make_record(n: int) -> AuditRecord:
    """A typical allowed bearer-token request."""
    return AuditRecord(
        time=1_764_000_000.0 + n * 0.001,
        event=Event.ALLOW,
        request_id=REQUEST_IDS[n % 1000],
        identity=IDENTITY,
        route=ROUTE,
        method="GET",
        path=PATHS[n % 100],
        source_ip="10.0.3.17",
        reason="bearer",
        rule="app_roles",
        reasons=("app-role Reports.Read",),
        token_id="xq9y2lJd3EiV3wQdXKAZAA",
        token_age=1200.0,
        token_remaining=2400.0,
        status=200,
        duration_ms=1.83,
    )


def per_record(seconds: float, count: int) -> float:
    return seconds / count * 1e6


def time_flush(
    label: str, sinks: Callable[[], list[Sink]], records: list[AuditRecord], sync: bool = False
) -> None:
    loop = asyncio.new_event_loop()
    try:
        made = sinks()
        log = AuditLog(
            made,
            Chain("bench/1/0"),
            loop=loop,
            queue_max=len(records) + 1,
            durability="sync" if sync else "batched",
        )
        if sync:
            start = time.perf_counter()
            for record in records:
                log.record(record)
            elapsed = time.perf_counter() - start
        else:
            for record in records:
                log.record(record)
            start = time.perf_counter()
            log.flush()
            elapsed = time.perf_counter() - start
        loop.run_until_complete(log.close())
        assert log.written == len(records), (log.written, log.errors)
    finally:
        loop.close()
    what = "record() incl. write+fsync" if sync else "flush, amortized"
    print(f"{label:<34} {per_record(elapsed, len(records)):7.2f} µs/record  ({what})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--sync-records", type=int, default=2_000)
    args = parser.parse_args()
    count = args.records

    start = time.perf_counter()
    records = [make_record(n) for n in range(count)]
    built = time.perf_counter() - start
    print(f"{count} records, {os.cpu_count()} CPUs")
    print(f"{'build AuditRecord (caller)':<34} {per_record(built, count):7.2f} µs/record")

    loop = asyncio.new_event_loop()

    class Null:
        name = "null"

        def write(self, batch: object) -> None: ...
        def sync(self) -> None: ...
        def close(self) -> None: ...

    log = AuditLog([Null()], Chain("bench/1/0"), loop=loop, queue_max=count + 1)
    start = time.perf_counter()
    for record in records:
        log.record(record)
    queued = time.perf_counter() - start
    log.flush()
    loop.run_until_complete(log.close())
    loop.close()
    print(f"{'AuditLog.record() (request path)':<34} {per_record(queued, count):7.3f} µs/record")

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    udp = f"udp://127.0.0.1:{receiver.getsockname()[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        time_flush("seal only (JSON + hash chain)", lambda: [Null()], records)
        time_flush("seal + SQLite", lambda: [SqliteSink(base / "a.db")], records)
        time_flush("seal + JSONL file", lambda: [JsonlSink(str(base / "a.jsonl"))], records)
        time_flush("seal + syslog UDP", lambda: [SyslogSink(udp)], records)
        time_flush(
            "seal + SQLite + JSONL + syslog",
            lambda: [
                SqliteSink(base / "b.db"),
                JsonlSink(str(base / "b.jsonl")),
                SyslogSink(udp),
            ],
            records,
        )
        few = records[: args.sync_records]
        time_flush(
            "sync: SQLite (synchronous=FULL)",
            lambda: [SqliteSink(base / "c.db", durable=True)],
            few,
            sync=True,
        )
        time_flush("sync: JSONL + fsync", lambda: [JsonlSink(str(base / "c.jsonl"))], few, True)
    receiver.close()


if __name__ == "__main__":
    main()
