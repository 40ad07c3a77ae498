"""Building a worker's :class:`AuditLog` from the ``audit`` settings.

Call :func:`build_audit_log` once per worker process, after the fork, on the
loop that serves requests: the chain id names this process, and its first
record links to the last record already stored (SQLite first, else the JSONL
file), so a restart or a new worker continues the store's history.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import TYPE_CHECKING

from portcullis.audit.chain import GENESIS, Chain, chain_id
from portcullis.audit.jsonl import STDOUT, JsonlSink
from portcullis.audit.sink import Sink
from portcullis.audit.sqlite import SqliteSink
from portcullis.audit.syslog import SyslogSink
from portcullis.audit.writer import AuditLog

if TYPE_CHECKING:
    from portcullis.config.schema import AuditSettings

__all__ = ["build_audit_log", "build_sinks", "chain_anchor"]


def build_sinks(settings: AuditSettings) -> list[Sink]:
    """The configured sinks, opened (SQLite first: it anchors the chain)."""
    sinks: list[Sink] = []
    try:
        if settings.sqlite.enabled:
            sinks.append(SqliteSink(settings.sqlite.path))
        if settings.jsonl is not None:
            jsonl = settings.jsonl
            sinks.append(
                JsonlSink(
                    jsonl.path,
                    max_bytes=jsonl.max_bytes,
                    max_files=jsonl.max_files,
                    rotate_seconds=jsonl.rotate_seconds,
                )
            )
        if settings.syslog is not None:
            sinks.append(SyslogSink(settings.syslog.address, settings.syslog.facility))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks


def build_audit_log(
    settings: AuditSettings,
    loop: asyncio.AbstractEventLoop,
    *,
    now: float | None = None,
    sinks: list[Sink] | None = None,
) -> AuditLog:
    """An :class:`AuditLog` writing to the configured sinks (or to ``sinks``, for tests).

    Raises ``OSError`` / ``sqlite3.Error`` when a store cannot be opened: fail at
    start rather than serve without an audit trail.
    """
    sinks = build_sinks(settings) if sinks is None else sinks
    start = time.time() if now is None else now
    chain = Chain(chain_id(socket.gethostname(), os.getpid(), start), chain_anchor(sinks))
    return AuditLog(
        sinks,
        chain,
        loop=loop,
        durability=settings.durability,
        flush_interval=settings.flush_interval,
        queue_max=settings.queue_max,
    )


def chain_anchor(sinks: list[Sink]) -> str:
    """The last hash of the first store (SQLite, else a JSONL file), or :data:`GENESIS`."""
    for sink in sinks:
        if isinstance(sink, SqliteSink) or (isinstance(sink, JsonlSink) and sink.path != STDOUT):
            return sink.last_hash() or GENESIS
    return GENESIS
