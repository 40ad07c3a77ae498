"""What the writer hands to each sink, and what a sink must do with it.

The writer seals each record once (:class:`Sealed`: the JSON-ready body with
its chain fields, and the line on disk) and gives every sink the same batch,
in chain order. A sink writes it (``write``), makes it durable on demand
(``sync``, after every record with ``durability: sync``), and releases its
file or socket (``close``). A sink that raises loses that batch for itself
only; the writer logs it and counts ``errors``.

Sinks: :class:`~portcullis.audit.jsonl.JsonlSink` (stdout or rotated files),
:class:`~portcullis.audit.sqlite.SqliteSink` (the queryable store),
:class:`~portcullis.audit.syslog.SyslogSink` (RFC 5424 to a SIEM).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

__all__ = ["Sealed", "Sink", "Store"]


class Sealed(NamedTuple):
    """One record ready for the sinks: ``body`` (fields + chain, seq, prev) and its ``line``."""

    body: dict[str, Any]
    line: bytes  # compact JSON with the hash, no newline


class Sink(Protocol):
    name: str

    def write(self, batch: Sequence[Sealed]) -> None: ...

    def sync(self) -> None: ...

    def close(self) -> None: ...


class Store(Sink, Protocol):
    """A sink that keeps records and can say which was last (a new chain's anchor)."""

    def last_hash(self) -> str | None: ...
