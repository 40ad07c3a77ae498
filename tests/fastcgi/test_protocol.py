"""The FastCGI record codec: spec layouts, round trips and hostile input."""

from __future__ import annotations

import struct

import pytest

from portcullis.fastcgi.protocol import (
    MAX_CONTENT,
    MAX_PARAMS_BYTES,
    ParamsBuffer,
    ProtocolError,
    ProtocolStatus,
    Record,
    RecordReader,
    RecordType,
    Role,
    decode_pairs,
    encode_end_request,
    encode_pairs,
    encode_record,
    encode_stream,
    encode_unknown_type,
    parse_begin_request,
)


def header(version: int, kind: int, request_id: int, length: int, padding: int = 0) -> bytes:
    return struct.pack(">BBHHBB", version, kind, request_id, length, padding, 0)


# spec layouts -----------------------------------------------------------------------------------
def test_a_begin_request_record_as_apache_sends_it() -> None:
    # version 1, BEGIN_REQUEST, id 1, 8 bytes; role AUTHORIZER (2), flags 0, 5 reserved bytes
    wire = bytes.fromhex("01010001000800000002000000000000")
    [record] = RecordReader().feed(wire)
    assert record == Record(RecordType.BEGIN_REQUEST, 1, bytes.fromhex("0002000000000000"))
    begin = parse_begin_request(record.content)
    assert (begin.role, begin.flags, begin.keep_conn) == (Role.AUTHORIZER, 0, False)
    assert parse_begin_request(bytes.fromhex("0002010000000000")).keep_conn


def test_name_value_pairs_with_one_and_four_byte_lengths() -> None:
    # The specification's example: 11-byte name, 2-byte value, both with 1-byte lengths.
    assert decode_pairs(b"\x0b\x02SERVER_PORT80") == [(b"SERVER_PORT", b"80")]
    long_value = b"v" * 128
    wire = encode_pairs([(b"HTTP_COOKIE", long_value)])
    assert wire[:5] == b"\x0b\x80\x00\x00\x80"  # 128 needs the 4-byte form, high bit set
    assert decode_pairs(wire) == [(b"HTTP_COOKIE", long_value)]
    edge = [(b"n" * 127, b"x" * 127), (b"a", b""), (b"", b"b"), (b"N" * 128, b"y" * 70_000)]
    assert decode_pairs(encode_pairs(edge)) == edge


def test_repeated_names_are_kept_in_order() -> None:
    pairs = [(b"HTTP_AUTHORIZATION", b"Bearer a"), (b"HTTP_AUTHORIZATION", b"Bearer b")]
    assert decode_pairs(encode_pairs(pairs)) == pairs


def test_records_are_padded_to_eight_bytes_and_read_back() -> None:
    for size in (0, 1, 7, 8, 9, 1000, MAX_CONTENT):
        wire = encode_record(RecordType.STDOUT, 513, b"x" * size)
        assert len(wire) % 8 == 0
        assert wire[:6] == header(1, RecordType.STDOUT, 513, size)[:6]
        assert RecordReader().feed(wire) == [Record(RecordType.STDOUT, 513, b"x" * size)]


def test_end_request_and_unknown_type_layouts() -> None:
    assert encode_end_request(7, 1, ProtocolStatus.OVERLOADED) == header(
        1, RecordType.END_REQUEST, 7, 8
    ) + bytes.fromhex("0000000102000000")
    assert encode_unknown_type(42) == header(1, RecordType.UNKNOWN_TYPE, 0, 8) + bytes(
        (42, 0, 0, 0, 0, 0, 0, 0)
    )


def test_a_long_stream_is_split_and_terminated() -> None:
    data = bytes(range(256)) * 600  # 153600 bytes: three records plus the empty one
    records = RecordReader().feed(encode_stream(RecordType.STDOUT, 3, data))
    assert [len(r.content) for r in records] == [
        MAX_CONTENT,
        MAX_CONTENT,
        len(data) - 2 * MAX_CONTENT,
        0,
    ]
    assert b"".join(r.content for r in records) == data
    assert encode_stream(RecordType.STDOUT, 3, b"") == encode_record(RecordType.STDOUT, 3)
    with pytest.raises(ValueError, match="at most"):
        encode_record(RecordType.STDOUT, 1, b"x" * (MAX_CONTENT + 1))


# the reader on a stream ------------------------------------------------------------------------
def test_records_arrive_in_any_split() -> None:
    wire = (
        encode_record(RecordType.BEGIN_REQUEST, 1, bytes.fromhex("0002010000000000"))
        + encode_record(RecordType.PARAMS, 1, encode_pairs([(b"REQUEST_URI", b"/a")]))
        + header(1, RecordType.PARAMS, 1, 0, padding=255)
        + bytes(255)
        + encode_record(RecordType.PARAMS, 2)
    )
    whole = RecordReader().feed(wire)
    assert [(r.type, r.request_id) for r in whole] == [(1, 1), (4, 1), (4, 1), (4, 2)]
    reader = RecordReader()
    bytewise = [record for i in range(len(wire)) for record in reader.feed(wire[i : i + 1])]
    assert bytewise == whole
    assert reader.pending == 0


def test_a_truncated_record_stays_pending() -> None:
    reader = RecordReader()
    wire = encode_record(RecordType.PARAMS, 1, b"x" * 100)
    assert reader.feed(wire[:50]) == []
    assert reader.pending == 50  # at end of stream: a truncated record
    assert reader.feed(wire[50:]) == [Record(RecordType.PARAMS, 1, b"x" * 100)]
    assert reader.pending == 0
    assert reader.feed(header(1, RecordType.PARAMS, 1, 8)[:3]) == []  # a cut header, too
    assert reader.pending == 3


@pytest.mark.parametrize("version", [0, 2, 0x46])  # 0x46: "F", e.g. an HTTP client talking
def test_a_wrong_version_is_an_error(version: int) -> None:
    with pytest.raises(ProtocolError, match="version"):
        RecordReader().feed(header(version, RecordType.PARAMS, 1, 0))
    # also behind a good record: nothing after it is trusted
    with pytest.raises(ProtocolError):
        RecordReader().feed(encode_record(RecordType.PARAMS, 1) + bytes((version,)) + bytes(7))


def test_an_http_request_is_not_fastcgi() -> None:
    with pytest.raises(ProtocolError):
        RecordReader().feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_unknown_record_types_are_read_for_the_caller_to_judge() -> None:
    [record] = RecordReader().feed(encode_record(99, 0, b"abc"))
    assert (record.type, record.request_id, record.content) == (99, 0, b"abc")


@pytest.mark.parametrize(
    "wire",
    [
        b"\x05",  # name length, no value length
        b"\x80\x00",  # a 4-byte length cut short
        b"\x05\x80\x00\x00",  # value length cut short
        b"\x05\x03abc",  # name longer than what follows
        b"\x01\x05ab",  # value longer than what follows
        b"\xff\xff\xff\xff\x00",  # a 2 GiB name in a 5-byte stream
        b"\x01\x01ab\x01",  # a good pair, then a cut one
    ],
)
def test_broken_pairs_are_an_error(wire: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_pairs(wire)


@pytest.mark.parametrize("size", [0, 7, 9, 16])
def test_a_begin_request_body_must_be_eight_bytes(size: int) -> None:
    with pytest.raises(ProtocolError, match="BEGIN_REQUEST"):
        parse_begin_request(bytes(size))


# the size limit on parameters ------------------------------------------------------------------
def test_parameters_up_to_the_limit_are_kept_and_past_it_dropped() -> None:
    pair = encode_pairs([(b"HTTP_X", b"v" * 1000)])
    buffer = ParamsBuffer(limit=3 * len(pair))
    for _ in range(3):
        buffer.append(pair)
    assert not buffer.oversized
    assert len(buffer.pairs()) == 3
    buffer.append(b"x")
    assert buffer.oversized
    buffer.append(pair)  # ignored from now on
    with pytest.raises(ProtocolError, match="limit"):
        buffer.pairs()
    assert ParamsBuffer().limit == MAX_PARAMS_BYTES == 64 * 1024


def test_parameters_split_across_records_are_joined_before_decoding() -> None:
    wire = encode_pairs([(b"REQUEST_URI", b"/x" * 200), (b"REQUEST_METHOD", b"GET")])
    buffer = ParamsBuffer()
    for start in range(0, len(wire), 3):  # a pair's bytes spread over many records
        buffer.append(wire[start : start + 3])
    assert dict(buffer.pairs())[b"REQUEST_METHOD"] == b"GET"
