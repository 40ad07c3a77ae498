"""FastCGI 1.0 records: parsing and building them, no I/O.

A record is an 8-byte header (version 1, type, request id, content length,
padding length, reserved) followed by up to 65535 bytes of content and up to
255 bytes of padding. Name-value pairs (``FCGI_PARAMS``, ``FCGI_GET_VALUES``)
carry each length in one byte (0 to 127) or in four bytes with the high bit set
(31 bits).

Anything that breaks the format raises :class:`ProtocolError`: the caller
closes the connection. Sizes are bounded here: a record cannot exceed its
header's lengths, and :class:`ParamsBuffer` stops collecting a request's
parameters past its limit (the request is then refused, not parsed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "HEADER_LEN",
    "KEEP_CONN",
    "MAX_CONTENT",
    "MAX_PARAMS_BYTES",
    "VERSION",
    "BeginRequest",
    "ParamsBuffer",
    "ProtocolError",
    "ProtocolStatus",
    "Record",
    "RecordReader",
    "RecordType",
    "Role",
    "decode_pairs",
    "encode_end_request",
    "encode_pairs",
    "encode_record",
    "encode_stream",
    "encode_unknown_type",
    "parse_begin_request",
]

VERSION = 1
HEADER_LEN = 8
MAX_CONTENT = 0xFFFF
MAX_PARAMS_BYTES = 64 * 1024
KEEP_CONN = 1  # FCGI_BEGIN_REQUEST flag: keep the connection open after the response


class RecordType(IntEnum):
    BEGIN_REQUEST = 1
    ABORT_REQUEST = 2
    END_REQUEST = 3
    PARAMS = 4
    STDIN = 5
    STDOUT = 6
    STDERR = 7
    DATA = 8
    GET_VALUES = 9
    GET_VALUES_RESULT = 10
    UNKNOWN_TYPE = 11


class Role(IntEnum):
    RESPONDER = 1
    AUTHORIZER = 2
    FILTER = 3


class ProtocolStatus(IntEnum):
    REQUEST_COMPLETE = 0
    CANT_MPX_CONN = 1
    OVERLOADED = 2
    UNKNOWN_ROLE = 3


class ProtocolError(ValueError):
    """The peer broke the FastCGI format; the connection cannot be trusted any further."""


@dataclass(frozen=True, slots=True)
class Record:
    type: int  # a RecordType value, or an unknown one (answered with FCGI_UNKNOWN_TYPE)
    request_id: int
    content: bytes


@dataclass(frozen=True, slots=True)
class BeginRequest:
    role: int
    flags: int

    @property
    def keep_conn(self) -> bool:
        return bool(self.flags & KEEP_CONN)


class RecordReader:
    """Splits a byte stream into records; feed it what the socket delivers.

    At most one record (8 + 65535 + 255 bytes) is ever buffered. ``pending`` is
    what is left of an incomplete record: non-zero at end of stream means the
    peer sent a truncated record.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Record]:
        buffer = self._buffer
        buffer += data
        records: list[Record] = []
        start = 0
        end = len(buffer)
        while end - start >= HEADER_LEN:
            if buffer[start] != VERSION:
                raise ProtocolError(f"unsupported FastCGI version {buffer[start]}")
            length = (buffer[start + 4] << 8) | buffer[start + 5]
            total = HEADER_LEN + length + buffer[start + 6]
            if end - start < total:
                break
            request_id = (buffer[start + 2] << 8) | buffer[start + 3]
            content = bytes(buffer[start + HEADER_LEN : start + HEADER_LEN + length])
            records.append(Record(buffer[start + 1], request_id, content))
            start += total
        if start:
            del buffer[:start]
        return records


def parse_begin_request(content: bytes) -> BeginRequest:
    """The body of FCGI_BEGIN_REQUEST: role (2 bytes), flags (1), reserved (5)."""
    if len(content) != 8:
        raise ProtocolError(f"FCGI_BEGIN_REQUEST body of {len(content)} bytes, expected 8")
    return BeginRequest((content[0] << 8) | content[1], content[2])


def decode_pairs(data: bytes) -> list[tuple[bytes, bytes]]:
    """Name-value pairs, in order (a repeated name appears twice)."""
    pairs: list[tuple[bytes, bytes]] = []
    append = pairs.append
    offset = 0
    size = len(data)
    try:
        while offset < size:
            name_length = data[offset]
            if name_length < 0x80:
                offset += 1
            else:
                if offset + 4 > size:
                    raise ProtocolError("truncated name-value pair length")
                name_length = int.from_bytes(data[offset : offset + 4], "big") & 0x7FFFFFFF
                offset += 4
            value_length = data[offset]
            if value_length < 0x80:
                offset += 1
            else:
                if offset + 4 > size:
                    raise ProtocolError("truncated name-value pair length")
                value_length = int.from_bytes(data[offset : offset + 4], "big") & 0x7FFFFFFF
                offset += 4
            value_start = offset + name_length
            offset = value_start + value_length
            if offset > size:
                raise ProtocolError("name-value pair longer than its stream")
            append((data[value_start - name_length : value_start], data[value_start:offset]))
    except IndexError:
        raise ProtocolError("truncated name-value pair") from None
    return pairs


def _encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    if length > 0x7FFFFFFF:
        raise ValueError("a FastCGI name or value is at most 2**31 - 1 bytes")
    return (length | 0x80000000).to_bytes(4, "big")


def encode_pairs(pairs: Iterable[tuple[bytes, bytes]]) -> bytes:
    return b"".join(
        _encode_length(len(name)) + _encode_length(len(value)) + name + value
        for name, value in pairs
    )


class ParamsBuffer:
    """Collects one request's FCGI_PARAMS stream, up to ``limit`` bytes.

    Past the limit nothing more is kept and ``oversized`` is set: the request is
    refused without parsing what it sent.
    """

    __slots__ = ("_chunks", "_size", "limit", "oversized")

    def __init__(self, limit: int = MAX_PARAMS_BYTES) -> None:
        self.limit = limit
        self.oversized = False
        self._chunks: list[bytes] = []
        self._size = 0

    def append(self, content: bytes) -> None:
        if self.oversized:
            return
        self._size += len(content)
        if self._size > self.limit:
            self.oversized = True
            self._chunks.clear()
            return
        self._chunks.append(content)

    def pairs(self) -> list[tuple[bytes, bytes]]:
        if self.oversized:
            raise ProtocolError("parameters over the size limit were not kept")
        return decode_pairs(b"".join(self._chunks))


def encode_record(record_type: int, request_id: int, content: bytes = b"") -> bytes:
    """One record, padded to a multiple of 8 bytes as the specification recommends."""
    length = len(content)
    if length > MAX_CONTENT:
        raise ValueError(f"a record holds at most {MAX_CONTENT} bytes, not {length}")
    padding = -length % 8
    header = bytes(
        (
            VERSION,
            record_type,
            request_id >> 8,
            request_id & 0xFF,
            length >> 8,
            length & 0xFF,
            padding,
            0,
        )
    )
    return header + content + bytes(padding)


def encode_stream(record_type: int, request_id: int, data: bytes) -> bytes:
    """A whole stream (STDOUT, PARAMS, ...): as many records as needed, then the empty one."""
    parts = [
        encode_record(record_type, request_id, data[start : start + MAX_CONTENT])
        for start in range(0, len(data), MAX_CONTENT)
    ]
    parts.append(encode_record(record_type, request_id))
    return b"".join(parts)


def encode_end_request(
    request_id: int,
    app_status: int = 0,
    protocol_status: ProtocolStatus = ProtocolStatus.REQUEST_COMPLETE,
) -> bytes:
    body = app_status.to_bytes(4, "big") + bytes((protocol_status, 0, 0, 0))
    return encode_record(RecordType.END_REQUEST, request_id, body)


def encode_unknown_type(record_type: int) -> bytes:
    return encode_record(RecordType.UNKNOWN_TYPE, 0, bytes((record_type, 0, 0, 0, 0, 0, 0, 0)))
