"""Sealing: hash = SHA-256(prev || body), the hash spliced in last, seq counting per chain."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from portcullis.audit.chain import GENESIS, Chain, body_hash, chain_id, is_hash, split_line
from portcullis.audit.record import record_body
from tests.audit.support import sample


def test_seal_appends_chain_fields_and_the_hash_last() -> None:
    chain = Chain("web1/42/abc")
    line = chain.seal(record_body(sample(0)))
    data = orjson.loads(line)
    assert list(data)[-4:] == ["chain", "seq", "prev", "hash"]
    assert (data["chain"], data["seq"], data["prev"]) == ("web1/42/abc", 0, GENESIS)
    body = line[: line.rindex(b',"hash":')] + b"}"
    expected = hashlib.sha256(bytes(32) + body).hexdigest()
    assert data["hash"] == expected == body_hash(GENESIS, body)
    assert b"\n" not in line


def test_each_record_links_to_the_one_before() -> None:
    chain = Chain("c", anchor="ab" * 32)
    first = orjson.loads(chain.seal(record_body(sample(0))))
    second = orjson.loads(chain.seal(record_body(sample(1))))
    assert first["prev"] == "ab" * 32
    assert (second["seq"], second["prev"]) == (1, first["hash"])
    assert chain.seq == 2 and chain.prev == second["hash"]


def test_a_failed_serialization_does_not_advance_the_chain() -> None:
    chain = Chain("c")
    body = record_body(sample(0, status=2**70))  # too large for JSON integers
    with pytest.raises(orjson.JSONEncodeError):
        chain.seal(body)
    assert (chain.seq, chain.prev) == (0, GENESIS)


def test_anchor_must_be_a_hash() -> None:
    with pytest.raises(ValueError, match="64 lower-case hex"):
        Chain("c", anchor="AB" * 32)
    assert is_hash("0f" * 32) and not is_hash("0f" * 31) and not is_hash("zz" * 32)


def test_split_line_finds_only_a_trailing_hash_key() -> None:
    line = Chain("c").seal(record_body(sample(0, detail='x","hash":"' + "0" * 64)))
    split = split_line(line)
    assert split is not None and split[1] == orjson.loads(line)["hash"]
    assert split_line(line + b" ") is None
    assert split_line(b'{"a":1}') is None
    assert split_line(line.replace(b'"}', b'" }')) is None


def test_chain_ids_name_the_process_and_differ_within_a_millisecond() -> None:
    first, second = chain_id("web1", 4242, 1_764_000_000.0), chain_id("web1", 4242, 1_764_000_000.0)
    assert first.startswith("web1/4242/") and first != second
