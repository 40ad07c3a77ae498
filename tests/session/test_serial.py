"""Serialized sessions and pending logins: round trip, and garbage loads as None."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from portcullis.session.serial import (
    dump_pending,
    dump_session,
    load_pending,
    load_session,
    storage_key,
)
from tests.session.support import make_pending, make_session, oidc_identity


def test_session_round_trip_without_the_id() -> None:
    session = make_session()
    data = dump_session(session)
    assert session.id.encode() not in data
    assert load_session(data, session.id) == session


def test_minimal_identity_round_trip() -> None:
    session = make_session(oidc_identity())
    assert load_session(dump_session(session), session.id) == session


def test_pending_round_trip() -> None:
    pending = make_pending()
    assert load_pending(dump_pending(pending), pending.state) == pending
    assert load_pending(dump_pending(pending), "another-state") is None


def test_storage_key_hides_the_id() -> None:
    assert storage_key("abc") != "abc"
    assert len(storage_key("abc")) == 64


def _session_dict() -> dict[str, Any]:
    obj: dict[str, Any] = orjson.loads(dump_session(make_session()))
    return obj


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("identity"),
        lambda d: d.pop("csrf"),
        lambda d: d.update(v=2),
        lambda d: d.update(created_at="yesterday"),
        lambda d: d.update(expires_at=True),
        lambda d: d.update(last_seen=None),
        lambda d: d.update(csrf=42),
        lambda d: d.update(id_token=["x"]),
        lambda d: d.update(identity="alice"),
        lambda d: d["identity"].pop("subject"),
        lambda d: d["identity"].update(issuer=None),
        lambda d: d["identity"].update(kind="root"),
        lambda d: d["identity"].update(roles="admin"),
        lambda d: d["identity"].update(groups=[1, 2]),
        lambda d: d["identity"].update(email={"x": 1}),
        lambda d: d["identity"].update(auth_time="now"),
    ],
)
def test_malformed_session_loads_as_none(mutate: Any) -> None:
    obj = _session_dict()
    mutate(obj)
    assert load_session(orjson.dumps(obj), "sid") is None


@pytest.mark.parametrize("data", [b"", b"\xff", b"null", b"[]", b"{}", b"1e999", b'{"v":1'])
def test_garbage_loads_as_none(data: bytes) -> None:
    assert load_session(data, "sid") is None
    assert load_pending(data, "state") is None


def test_nan_and_infinity_are_refused() -> None:
    obj = _session_dict()
    text = (
        orjson.dumps(obj)
        .decode()
        .replace(f'"expires_at":{obj["expires_at"]}', '"expires_at":1e999')
    )
    assert load_session(text, "sid") is None


def test_step_up_pending_round_trip() -> None:
    pending = dataclasses.replace(make_pending(), max_age=300)
    assert load_pending(dump_pending(pending), pending.state) == pending


def test_pending_rows_from_before_step_up_load_without_max_age() -> None:
    pending = make_pending()
    obj = orjson.loads(dump_pending(pending))
    del obj["max_age"]
    loaded = load_pending(orjson.dumps(obj), pending.state)
    assert loaded == pending and loaded is not None and loaded.max_age is None


@pytest.mark.parametrize("max_age", ["300", 300.0, True, -1, 2_592_001, [300]])
def test_pending_with_a_bad_max_age_loads_as_none(max_age: object) -> None:
    pending = make_pending()
    obj = orjson.loads(dump_pending(pending))
    obj["max_age"] = max_age
    assert load_pending(orjson.dumps(obj), pending.state) is None
