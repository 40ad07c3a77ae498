"""Shared helpers for the audit tests: sample records, real stores written by real writers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from portcullis.audit import AuditIdentity, AuditLog, AuditRecord, AuditRoute, Chain, Event
from portcullis.audit.build import chain_anchor
from portcullis.audit.jsonl import JsonlSink
from portcullis.audit.sink import Sealed, Sink
from portcullis.audit.sqlite import SqliteSink, index_store, open_for_indexing

START = 1_764_000_000.0
TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ALICE = "0c3b2f9e-5f7d-4f57-9a55-6a1f0e1d2c3b"
BOB = "9a1e0f3c-2b4d-4c6e-8f7a-1b2c3d4e5f60"
APP = "1b730954-1685-4b74-9bfd-dac224a7b894"

ALICE_ID = AuditIdentity(TID, ALICE, "user", "Alice Example", APP)
BOB_ID = AuditIdentity(TID, BOB, "user", "Bob Example", APP)
BOT_ID = AuditIdentity(TID, APP, "app", "reporting-bot", APP)
AGENT_ID = AuditIdentity(TID, "agent-oid", "agent", "helper", "agent-app", f"{TID}/{ALICE}")
APP_ROUTE = AuditRoute(1, "app.example.com", "/")
API_ROUTE = AuditRoute(2, "app.example.com", "/api")


def sample(n: int = 0, **fields: Any) -> AuditRecord:
    values: dict[str, Any] = {
        "time": START + n,
        "event": Event.ALLOW,
        "request_id": f"req-{n}",
        "identity": ALICE_ID,
        "route": APP_ROUTE,
        "method": "GET",
        "path": f"/page/{n}",
        "source_ip": "192.0.2.10",
        "reason": "signed-in",
        "status": 200,
        "duration_ms": 1.5,
    }
    values.update(fields)
    return AuditRecord(**values)


class Collect:
    """A sink that keeps what it is given (for the writer's own behaviour)."""

    name = "collect"

    def __init__(self) -> None:
        self.batches: list[list[Sealed]] = []
        self.syncs = 0
        self.closed = False

    @property
    def lines(self) -> list[bytes]:
        return [entry.line for batch in self.batches for entry in batch]

    def write(self, batch: Sequence[Sealed]) -> None:
        self.batches.append(list(batch))

    def sync(self) -> None:
        self.syncs += 1

    def close(self) -> None:
        self.closed = True


def write_records(sinks: list[Sink], records: Iterable[AuditRecord], chain: str) -> str:
    """Write ``records`` through a real :class:`AuditLog` (as one worker); the last hash."""
    loop = asyncio.new_event_loop()
    try:
        log = AuditLog(sinks, Chain(chain, chain_anchor(sinks)), loop=loop)
        for record in records:
            log.record(record)
        loop.run_until_complete(log.close())
        assert log.errors == 0
        return log.chain.prev
    finally:
        loop.close()


def sqlite_store(path: Path, *workers: Iterable[AuditRecord]) -> Path:
    """A SQLite store written by one writer per argument, one after the other, with its
    spool indexed (so that tests may read and tamper with the table directly)."""
    for index, records in enumerate(workers):
        write_records([SqliteSink(path)], records, f"host/{100 + index}/0")
    return indexed(path)


def indexed(path: Path) -> Path:
    """``path``'s SQLite store with everything in its spool moved into the table."""
    db = open_for_indexing(str(path))
    try:
        index_store(db, str(path))
    finally:
        db.close()
    return path


def jsonl_store(path: Path, *workers: Iterable[AuditRecord]) -> Path:
    for index, records in enumerate(workers):
        write_records([JsonlSink(str(path))], records, f"host/{100 + index}/0")
    return path
