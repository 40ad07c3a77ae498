"""The audit writer: ``record()`` on the request path costs a list append; I/O happens later.

:meth:`AuditLog.record` appends the record to an in-memory list and, if no
flush is pending, arms one ``loop.call_later(flush_interval)``. It does no I/O
and no serialization. The flush (on the event loop thread, between requests)
seals the queued records into the chain and hands each batch of at most
``max_batch`` records to every sink; if more are queued it continues on the
next loop iteration, so one flush never holds the loop for long.

``durability="sync"``: ``record()`` seals, writes and fsyncs the record in
every sink before it returns (SQLite ``synchronous=FULL``). Every request then
waits for the disk; use it where losing the last 100 ms of records on a crash
is not acceptable.

The queue holds at most ``queue_max`` records; beyond that new records are
dropped and counted in :attr:`AuditLog.dropped` (logged as a warning at the
next flush). A sink that fails is logged and counted in
:attr:`AuditLog.errors`; the others still get the batch. ``await close()``
writes everything still queued, syncs and closes the sinks; records after that
are dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Final, Literal

from portcullis.audit.chain import Chain
from portcullis.audit.record import AuditRecord, record_body
from portcullis.audit.sink import Sealed, Sink

__all__ = ["AuditLog", "Durability"]

log = logging.getLogger("portcullis.audit")

Durability = Literal["batched", "sync"]
MAX_BATCH: Final = 256  # records per flush callback: bounds how long one flush holds the loop
# A record, or how to make it: a function returning the record or its body (record_body's).
_Entry = AuditRecord | tuple[Callable[..., AuditRecord | dict[str, Any]], tuple[object, ...]]


class AuditLog:
    """One per worker process and event loop. Not thread-safe."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        chain: Chain,
        *,
        loop: asyncio.AbstractEventLoop,
        durability: Durability = "batched",
        flush_interval: float = 0.1,
        queue_max: int = 100_000,
        max_batch: int = MAX_BATCH,
    ) -> None:
        if flush_interval <= 0 or queue_max < 1 or max_batch < 1:
            raise ValueError("flush_interval, queue_max and max_batch must be positive")
        self.sinks = tuple(sinks)
        self.chain = chain
        self.durability: Durability = durability
        self.dropped = 0  # records lost to a full queue or after close()
        self.errors = 0  # records that could not be serialized + failed sink calls
        self.written = 0  # records sealed and handed to the sinks
        self._loop = loop
        self._interval = flush_interval
        self._queue_max = queue_max
        self._max_batch = max_batch
        self._queue: list[_Entry] = []
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._open = bool(self.sinks)  # no sinks: auditing is off, record() is a no-op
        self._closed = False
        self._dropped_logged = 0

    def __repr__(self) -> str:
        return f"AuditLog({list(self.sinks)!r}, chain={self.chain.id!r})"

    @property
    def queued(self) -> int:
        return len(self._queue)

    def record(self, record: AuditRecord) -> None:
        """Queue ``record`` for the sinks. Never blocks (except with ``durability: sync``)."""
        self._enqueue(record)

    def defer(self, make: Callable[..., AuditRecord | dict[str, Any]], *args: object) -> None:
        """Queue ``make(*args)``, called at flush time: the request path pays for a tuple,
        not for building the record. ``make`` returns the record, or straight away its body
        as :func:`record_body` would make it. ``args`` must not change after the call."""
        queue = self._queue
        if self._open and self._timer is not None and len(queue) < self._queue_max:
            queue.append((make, args))  # the common case: a flush is already due
        else:
            self._enqueue((make, args))

    def _enqueue(self, entry: _Entry) -> None:
        if not self._open:
            if self._closed:
                self._drop_after_close()
            return
        queue = self._queue
        if len(queue) >= self._queue_max:
            self.dropped += 1
            return
        queue.append(entry)
        if self.durability == "sync":
            self.flush()
        elif self._timer is None:
            self._timer = self._loop.call_later(self._interval, self._on_timer)

    def flush(self) -> None:
        """Write everything queued now, in batches (also syncs with ``durability: sync``)."""
        self._cancel_timer()
        while self._queue:
            self._write_batch()
        self._log_drops()

    async def close(self) -> None:
        """Flush, sync and close every sink. Safe to call twice."""
        if self._closed:
            return
        if self._open:
            self.flush()
            for sink in self.sinks:
                self._guard(sink, "sync", sink.sync)
                self._guard(sink, "close", sink.close)
        self._open = False
        self._closed = True

    # --- flushing ----------------------------------------------------------------

    def _on_timer(self) -> None:
        self._timer = None
        self._write_batch()
        self._log_drops()
        if self._queue:  # more than one batch: continue after other callbacks had a turn
            self._timer = self._loop.call_soon(self._on_timer)

    def _write_batch(self) -> None:
        queue = self._queue
        records = queue[: self._max_batch]
        del queue[: self._max_batch]
        batch = []
        chain = self.chain
        for entry in records:
            try:
                made = entry if isinstance(entry, AuditRecord) else entry[0](*entry[1])
                body = made if isinstance(made, dict) else record_body(made)
                batch.append(Sealed(body, chain.seal(body)))
            except Exception as exc:  # a value orjson cannot encode: lose it, not the batch
                self.errors += 1
                event = entry.event if isinstance(entry, AuditRecord) else "deferred"
                log.error("audit: cannot serialize a record (%s): %s", event, type(exc).__name__)
        if not batch:
            return
        self.written += len(batch)
        sync = self.durability == "sync"
        for sink in self.sinks:
            if self._guard(sink, "write", partial(sink.write, batch)) and sync:
                self._guard(sink, "sync", sink.sync)

    def _guard(self, sink: Sink, action: str, call: Callable[[], object]) -> bool:
        try:
            call()
        except Exception as exc:
            self.errors += 1
            # The exception text names files and errno, never record content.
            log.error("audit: %s sink %s failed: %s", sink.name, action, exc)
            return False
        return True

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _log_drops(self) -> None:
        if self.dropped > self._dropped_logged:
            log.warning(
                "audit: %d records dropped, the queue was full (queue_max %d, %d dropped in all)",
                self.dropped - self._dropped_logged,
                self._queue_max,
                self.dropped,
            )
            self._dropped_logged = self.dropped

    def _drop_after_close(self) -> None:
        self.dropped += 1
        log.warning("audit: a record arrived after the audit log was closed; dropped")
        self._dropped_logged = self.dropped
