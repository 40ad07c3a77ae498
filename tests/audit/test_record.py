"""The record: a closed schema, one flat JSON form in a fixed key order, text made safe."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from portcullis.audit.record import (
    FIELDS,
    AuditIdentity,
    AuditRecord,
    AuditRoute,
    Event,
    record_body,
    scrub,
)
from portcullis.config.schema import Route
from portcullis.identity import Identity, Kind
from portcullis.routing import RouteTarget
from tests.audit.support import ALICE, ALICE_ID, API_ROUTE, TID, sample


def test_events_are_the_closed_set() -> None:
    assert [e.value for e in Event] == [
        "allow",
        "deny",
        "monitor-deny",
        "sign-in",
        "sign-out",
        "token-rejected",
        "session-expired",
        "step-up",
        "config-reloaded",
        "violation",
    ]


def test_record_is_frozen_and_slotted() -> None:
    record = sample()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.path = "/other"  # type: ignore[misc]
    assert not hasattr(record, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ALICE_ID.name = "Mallory"  # type: ignore[misc]


def test_no_field_could_hold_a_credential() -> None:
    names = {f.name for f in dataclasses.fields(AuditRecord)}
    names |= {f.name for f in dataclasses.fields(AuditIdentity)}
    for word in ("token", "cookie", "secret", "authorization", "password", "assertion", "header"):
        holders = {n for n in names if word in n} - {"token_id", "token_age", "token_remaining"}
        assert holders - {"token_lifetime"} == set(), word


def test_full_record_serializes_flat_in_the_fixed_order() -> None:
    record = AuditRecord(
        time=1.5,
        event=Event.DENY,
        request_id="r1",
        identity=AuditIdentity(TID, ALICE, "obo", "Alice", "app-1", f"{TID}/{ALICE}"),
        route=API_ROUTE,
        method="POST",
        path="/api/x",
        source_ip="192.0.2.1",
        reason="forbidden",
        rule="routes[2].allow",
        reasons=("missing role Admin",),
        token_id="uti-1",
        token_age=10.0,
        token_remaining=20.0,
        token_lifetime=30.0,
        session_age=5.0,
        status=403,
        duration_ms=0.25,
        detail="no role",
    )
    body = record_body(record)
    assert list(body) == list(FIELDS)
    assert body["event"] == "deny" and type(body["event"]) is str
    assert body["route"] == 2 and body["route_host"] == "app.example.com"
    assert body["route_path"] == "/api"
    assert body["acting_for"] == f"{TID}/{ALICE}"
    assert orjson.dumps(body).startswith(b'{"time":1.5,"event":"deny","request_id":"r1",')


def test_empty_fields_are_left_out_and_order_kept() -> None:
    body = record_body(AuditRecord(time=2.0, event=Event.CONFIG_RELOADED, detail="3 routes"))
    assert body == {"time": 2.0, "event": "config-reloaded", "detail": "3 routes"}
    body = record_body(sample(reasons=(), identity=None, route=None))
    keys = list(body)
    assert keys == [k for k in FIELDS if k in body]
    assert "reasons" not in body and "tenant_id" not in body


def test_token_lifetime_defaults_to_age_plus_remaining() -> None:
    assert record_body(sample(token_age=100.0, token_remaining=3500.0))["token_lifetime"] == 3600
    given = sample(token_age=1.0, token_remaining=2.0, token_lifetime=7.0)
    assert record_body(given)["token_lifetime"] == 7.0
    assert "token_lifetime" not in record_body(sample(token_age=1.0))


def test_path_loses_query_and_fragment() -> None:
    body = record_body(sample(path="/cb?code=abc&state=xyz#frag"))
    assert body["path"] == "/cb"


def test_strings_are_cut_to_size() -> None:
    body = record_body(
        sample(
            request_id="r" * 1000,
            path="/" + "p" * 5000,
            detail="d" * 5000,
            reasons=tuple("x" * 500 for _ in range(40)),
        )
    )
    assert len(body["request_id"]) == 256 and body["request_id"].endswith("…")
    assert len(body["path"]) == 1024
    assert len(body["detail"]) == 512
    assert len(body["reasons"]) == 16 and all(len(r) == 128 for r in body["reasons"])
    identity = AuditIdentity(name="n" * 999)
    assert len(record_body(sample(identity=identity))["name"]) == 256


JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"bad token {JWT} here", "bad token [redacted] here"),
        (f"Authorization: Bearer {JWT}", "Authorization: [redacted]"),
        ("authorization: Basic dXNlcjpwYXNz", "authorization: [redacted]"),
        ("sent bearer abc.def-ghi", "sent bearer [redacted]"),
        ("Cookie: portcullis=AAA; other=BBB\nnext", "Cookie: [redacted]\nnext"),
        ("client_secret=s3cr3t&x=1", "client_secret=[redacted]&x=1"),
        ("password: hunter2, user: bob", "password: [redacted], user: bob"),
        ("code=abc state=def nonce=ghi", "code=[redacted] state=[redacted] nonce=[redacted]"),
        ("x-api-key=k1 refresh_token=r1", "x-api-key=[redacted] refresh_token=[redacted]"),
        ("/cb;jsessionid=ABC/x", "/cb;jsessionid=[redacted]"),  # values may hold "/"
        ("missing role: Admin", "missing role: Admin"),
        ("app-role Reports.Read", "app-role Reports.Read"),
        ("kid=abc not found", "kid=abc not found"),
    ],
)
def test_scrub_redacts_credential_shapes(text: str, expected: str) -> None:
    assert scrub(text, 500) == expected


def test_free_text_fields_are_scrubbed() -> None:
    body = record_body(
        sample(
            path=f"/x/{JWT}/y;sid=abc",
            detail=f"invalid token {JWT}",
            reasons=(f"token={JWT}",),
        )
    )
    text = orjson.dumps(body).decode()
    assert "eyJ" not in text and "abc" not in text
    assert body["path"] == "/x/[redacted]/y;sid=[redacted]"


def test_identity_from_a_verified_identity() -> None:
    entra = Identity(
        issuer=f"https://login.microsoftonline.com/{TID}/v2.0",
        subject="sub",
        kind=Kind.ON_BEHALF_OF,
        tenant_id=TID,
        object_id=ALICE,
        name="Alice",
        email="alice@example.com",
        client_id="app-1",
    )
    who = AuditIdentity.of(entra, acting_for=f"{TID}/{ALICE}")
    assert who == AuditIdentity(TID, ALICE, "obo", "Alice", "app-1", f"{TID}/{ALICE}")
    other = Identity(issuer="https://idp.example", subject="s-1")
    assert AuditIdentity.of(other) == AuditIdentity("https://idp.example", "s-1", "user")
    assert "email" not in orjson.dumps(record_body(sample(identity=who))).decode()


def test_route_from_a_route_target() -> None:
    target = RouteTarget(3, Route(host="a.example", path="/api", upstream="http://127.0.0.1:1"), 0)
    assert AuditRoute.of(target) == AuditRoute(3, "a.example", "/api")
