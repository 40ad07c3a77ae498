"""Tamper evidence: every record is sealed into a hash chain.

Each writer (one per worker process) keeps its own chain, named by
:func:`chain_id` (``host/pid/start-ms``). A sealed record carries four more
keys after its fields, always in this order and always last::

    ..., "chain": "web1/4242/19c1f0e2a11", "seq": 7, "prev": "<64 hex>", "hash": "<64 hex>"}

* ``seq`` counts from 0 within the chain;
* ``prev`` is the ``hash`` of the chain's previous record; for ``seq`` 0 it is
  the hash of the last record in the store when the writer started (its
  *anchor*), or :data:`GENESIS` (64 zeros) for an empty store;
* ``hash`` = SHA-256 over the 32 bytes of ``prev`` followed by the record's
  compact JSON *without* ``hash`` (the *body*: the line up to, not including,
  ``,"hash":``, closed with ``}``).

So the line on disk is the body with ``,"hash":"…"`` spliced in before the
closing brace, and a verifier needs nothing but the bytes. Checking a store is
:func:`portcullis.audit.verify.verify`.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from typing import Any, Final

import orjson

__all__ = ["GENESIS", "HASH_KEY", "Chain", "body_hash", "chain_id", "is_hash", "split_line"]

GENESIS: Final = "0" * 64
HASH_KEY: Final = b',"hash":"'
_HEX64: Final = re.compile(rb"[0-9a-f]{64}")
_serial = itertools.count()


def chain_id(host: str, pid: int, start: float) -> str:
    """``host/pid/start`` with the start in hex milliseconds (unique within a process too)."""
    stamp = int(start * 1000) + next(_serial)  # two writers in one millisecond still differ
    return f"{host}/{pid}/{stamp:x}"


class Chain:
    """One writer's chain: seals record bodies in order. Not thread-safe (one event loop)."""

    __slots__ = ("_prev_raw", "id", "prev", "seq")

    def __init__(self, chain: str, anchor: str = GENESIS) -> None:
        if not is_hash(anchor):
            raise ValueError("a chain anchor is 64 lower-case hex digits")
        self.id = chain
        self.seq = 0
        self.prev = anchor
        self._prev_raw = bytes.fromhex(anchor)

    def seal(self, body: dict[str, Any]) -> bytes:
        """The record's line (no newline); ``body`` gains ``chain``, ``seq`` and ``prev``.

        The chain advances only when serialization succeeds.
        """
        body["chain"] = self.id
        body["seq"] = self.seq
        body["prev"] = self.prev
        data = orjson.dumps(body)
        digest = hashlib.sha256(self._prev_raw)
        digest.update(data)
        raw = digest.digest()
        hex_digest = raw.hex()
        self.seq += 1
        self.prev = hex_digest
        self._prev_raw = raw
        return b"".join((data[:-1], HASH_KEY, hex_digest.encode(), b'"}'))


def split_line(line: bytes) -> tuple[bytes, str] | None:
    """``(body, hash)`` of a sealed line, or ``None`` if it does not end in a ``hash`` key.

    A JSON string cannot contain an unescaped ``"``, so ``,"hash":"`` is found
    only as a key.
    """
    cut = line.rfind(HASH_KEY)
    if cut < 0:
        return None
    tail = line[cut + len(HASH_KEY) :]
    if len(tail) != 66 or not tail.endswith(b'"}') or not _HEX64.fullmatch(tail[:64]):
        return None
    return line[:cut] + b"}", tail[:64].decode()


def body_hash(prev: str, body: bytes) -> str:
    """The ``hash`` a record with this ``prev`` and body must carry."""
    digest = hashlib.sha256(bytes.fromhex(prev))
    digest.update(body)
    return digest.hexdigest()


def is_hash(value: str) -> bool:
    """64 lower-case hex digits."""
    return _HEX64.fullmatch(value.encode()) is not None
