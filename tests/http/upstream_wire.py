"""The wire side of the scripted upstream: parsing request heads, reading bodies, canned bytes."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field

__all__ = [
    "BAD_RESPONSES",
    "BIG_BLOCK",
    "BadRequest",
    "Parsed",
    "RecordedRequest",
    "big_body",
    "big_body_sha256",
    "parse_head",
    "read_body",
    "response",
]

BIG_BLOCK = bytes(range(256)) * 256  # 64 KiB
RECORD_BODY_LIMIT = 1 << 20
BAD_RESPONSES = {
    "garbage": b"NOT HTTP AT ALL\r\n\r\n",
    "dup-cl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n",
    "huge-header": b"HTTP/1.1 200 OK\r\nX-Huge: "
    + b"h" * 200_000
    + b"\r\nContent-Length: 2\r\n\r\nok",
    "bad-status": b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok",
    "obs-fold": b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
    "nul-in-header": b"HTTP/1.1 200 OK\r\nX-Nul: a\x00b\r\nContent-Length: 2\r\n\r\nok",
    "unsolicited-101": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\n\r\nraw bytes after a 101",
    "204-with-body": b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nX-Injected: 1\r\n"
    b"Content-Length: 0\r\n\r\n",
    "head-with-body": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "stall-mid-body": b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"s" * 100,
}


def big_body(size: int) -> bytes:
    """The body ``/big?size=N`` sends (only for small N; tests hash big ones)."""
    return (BIG_BLOCK * (size // len(BIG_BLOCK) + 1))[:size]


def big_body_sha256(size: int) -> str:
    digest = hashlib.sha256()
    full, rest = divmod(size, len(BIG_BLOCK))
    for _ in range(full):
        digest.update(BIG_BLOCK)
    digest.update(BIG_BLOCK[:rest])
    return digest.hexdigest()


@dataclass
class RecordedRequest:
    """One request head as the upstream read it (plus a small body)."""

    conn_id: int
    raw_head: bytes
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes | None = None
    body_length: int = 0
    dropped: bool = False  # read on a poisoned connection and not answered

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


@dataclass
class Parsed:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None


class BadRequest(Exception):
    pass


async def read_body(
    req: Parsed,
    record: RecordedRequest,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> tuple[int, str]:
    te = req.header("transfer-encoding")
    cl = req.header("content-length")
    if (te or cl) and (req.header("expect") or "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    digest = hashlib.sha256()
    length = 0
    kept = bytearray()

    def take(data: bytes) -> None:
        nonlocal length
        digest.update(data)
        length += len(data)
        if len(kept) < RECORD_BODY_LIMIT:
            kept.extend(data[: RECORD_BODY_LIMIT - len(kept)])

    if te is not None:
        if te.strip().lower() != "chunked":
            raise BadRequest(te)
        while True:
            line = await reader.readuntil(b"\r\n")
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                break
            remaining = size
            while remaining:
                data = await reader.read(min(remaining, 1 << 16))
                if not data:
                    raise asyncio.IncompleteReadError(b"", remaining)
                take(data)
                remaining -= len(data)
            if await reader.readexactly(2) != b"\r\n":
                raise BadRequest("chunk not followed by CRLF")
    elif cl is not None:
        remaining = int(cl)
        while remaining:
            data = await reader.read(min(remaining, 1 << 16))
            if not data:
                raise asyncio.IncompleteReadError(b"", remaining)
            take(data)
            remaining -= len(data)
    record.body = bytes(kept) if length <= RECORD_BODY_LIMIT else None
    record.body_length = length
    return length, digest.hexdigest()


def parse_head(raw: bytes) -> Parsed:
    lines = raw[:-4].split(b"\r\n")
    try:
        method, target, version = lines[0].decode("latin-1").split(" ")
    except ValueError:
        raise BadRequest(lines[0]) from None
    parsed = Parsed(method, target, version)
    for line in lines[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise BadRequest(line)
        parsed.headers.append((name, value.strip(" \t")))
    return parsed


def response(status: int, body: bytes, content_type: str, head_only: bool) -> bytes:
    reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(status, "Status")
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head if head_only else head + body
