"""Micro-benchmark of audit records: what each costs the proxy, and what indexing costs later.

    .venv/bin/python -m bench.audit [--records 100000]

Prints µs per record for what a worker does with the record of an allowed bearer-token
request: queueing it on the request path (``AuditLog.defer(request_body, ...)``), then the
flush on the same loop, amortized: making the body and sealing it into the hash chain,
then that plus each sink: the default SQLite store (which appends to its spool), a JSONL
file, syslog over UDP to a local socket nobody reads, and all three. Then what the proxy
does not pay: moving the spool into the indexed SQLite table (readers and ``audit index``
do it). ``durability: sync`` (one fsync per record) is measured on fewer records.
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

from portcullis.audit import AuditIdentity, AuditLog, Chain
from portcullis.audit.jsonl import JsonlSink
from portcullis.audit.requests import AuditSubject, request_body
from portcullis.audit.sink import Sink
from portcullis.audit.sqlite import SqliteSink, index_store, open_for_indexing
from portcullis.audit.syslog import SyslogSink
from portcullis.config.schema import Route
from portcullis.decision import Decision, Reason
from portcullis.http.request import RequestHead
from portcullis.routing import RouteTarget

TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OID = "0c3b2f9e-5f7d-4f57-9a55-6a1f0e1d2c3b"
CLIENT = "1b730954-1685-4b74-9bfd-dac224a7b894"

# Built once per verified token / per configured route, as the proxy does.
SUBJECT = AuditSubject(
    AuditIdentity(TID, OID, "app", "reporting-bot", CLIENT),
    "xq9y2lJd3EiV3wQdXKAZAA",
    1_764_000_000.0,
    1_764_003_600.0,
)
TARGET = RouteTarget(
    2, Route(host="api.example.com", path="/reports", upstream="http://127.0.0.1:8080"), None
)
HEADS = [
    RequestHead(
        "GET",
        f"/reports/{n % 100}",
        b"",
        "1.1",
        "api.example.com",
        b"api.example.com",
        [],
        "10.0.3.17",
        "http",
        f"8f14e45fceea167a5a36dedd4bea{n:06d}",
        True,
        False,
        None,
        False,
        None,
        b"",
    )
    for n in range(1000)
]

Entry = tuple[float, str, str, str, str, RouteTarget[None], Decision, int, float]


def make_entry(n: int) -> Entry:
    """What the exchange queues for a typical allowed bearer-token request."""
    decision = Decision(True, Reason.BEARER, "", b"", rule="app_roles", subject=SUBJECT)
    head = HEADS[n % 1000]
    wall = 1_764_001_200.0 + n * 0.001
    fields = (head.request_id, head.method, head.path, head.source_ip)
    return (wall, *fields, TARGET, decision, 200, 0.00183)


def per_record(seconds: float, count: int) -> float:
    return seconds / count * 1e6


def time_flush(
    label: str, sinks: Callable[[], list[Sink]], entries: list[Entry], sync: bool = False
) -> None:
    loop = asyncio.new_event_loop()
    try:
        made = sinks()
        log = AuditLog(
            made,
            Chain("bench/1/0"),
            loop=loop,
            queue_max=len(entries) + 1,
            durability="sync" if sync else "batched",
        )
        if sync:
            start = time.perf_counter()
            for entry in entries:
                log.defer(request_body, *entry)
            elapsed = time.perf_counter() - start
        else:
            for entry in entries:
                log.defer(request_body, *entry)
            start = time.perf_counter()
            log.flush()
            elapsed = time.perf_counter() - start
        loop.run_until_complete(log.close())
        assert log.written == len(entries), (log.written, log.errors)
    finally:
        loop.close()
    what = "defer() incl. write+fsync" if sync else "flush, amortized"
    print(f"{label:<38} {per_record(elapsed, len(entries)):7.2f} µs/record  ({what})")


def time_index(path: Path, count: int) -> None:
    db = open_for_indexing(str(path))
    try:
        start = time.perf_counter()
        indexed = index_store(db, str(path))
        elapsed = time.perf_counter() - start
    finally:
        db.close()
    assert indexed == count, (indexed, count)
    label = "index the spool into SQLite (not proxy)"
    print(f"{label:<38} {per_record(elapsed, count):7.2f} µs/record  (readers, audit index)")


class Null:
    name = "null"

    def write(self, batch: object) -> None: ...
    def sync(self) -> None: ...
    def close(self) -> None: ...


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--sync-records", type=int, default=2_000)
    args = parser.parse_args()
    count = args.records
    entries = [make_entry(n) for n in range(count)]
    print(f"{count} records, {os.cpu_count()} CPUs")

    loop = asyncio.new_event_loop()
    log = AuditLog([Null()], Chain("bench/1/0"), loop=loop, queue_max=count + 1)
    start = time.perf_counter()
    for entry in entries:
        log.defer(request_body, *entry)
    queued = time.perf_counter() - start
    log.flush()
    loop.run_until_complete(log.close())
    loop.close()
    print(f"{'AuditLog.defer() (request path)':<38} {per_record(queued, count):7.3f} µs/record")

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    udp = f"udp://127.0.0.1:{receiver.getsockname()[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        time_flush("body + seal (no sink)", lambda: [Null()], entries)
        time_flush(
            "body + seal + SQLite spool (default)", lambda: [SqliteSink(base / "a.db")], entries
        )
        time_index(base / "a.db", count)
        time_flush("body + seal + JSONL file", lambda: [JsonlSink(str(base / "a.jsonl"))], entries)
        time_flush("body + seal + syslog UDP", lambda: [SyslogSink(udp)], entries)
        time_flush(
            "body + seal + SQLite + JSONL + syslog",
            lambda: [
                SqliteSink(base / "b.db"),
                JsonlSink(str(base / "b.jsonl")),
                SyslogSink(udp),
            ],
            entries,
        )
        few = entries[: args.sync_records]
        time_flush("sync: SQLite spool + fsync", lambda: [SqliteSink(base / "c.db")], few, True)
        time_flush("sync: JSONL + fsync", lambda: [JsonlSink(str(base / "c.jsonl"))], few, True)
    receiver.close()


if __name__ == "__main__":
    main()
