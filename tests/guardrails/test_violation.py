"""Violations as values, and as ``violation`` audit records."""

from __future__ import annotations

from portcullis.audit.record import AuditIdentity, AuditRoute, Event, record_body
from portcullis.guardrails.violation import Severity, Violation, violation_record
from tests.guardrails.stream import ALICE, START, TID, obs


def violation(identity: str = ALICE, **fields: object) -> Violation:
    values: dict[str, object] = {
        "rule": "probing",
        "rule_kind": "denials",
        "severity": Severity.HIGH,
        "identity": identity,
        "kind": "user",
        "detail": "5 denials within 10 min (last: forbidden)",
        "time": START,
        "observation": obs(0, identity, allowed=False, reason="forbidden", path="/admin"),
        "block_seconds": 900.0,
    }
    values.update(fields)
    return Violation(**values)  # type: ignore[arg-type]


def test_severities_are_ordered() -> None:
    assert [s.rank for s in (Severity.LOW, Severity.MEDIUM, Severity.HIGH)] == [0, 1, 2]


def test_to_dict() -> None:
    data = violation().to_dict()
    assert data["severity"] == "high"
    assert data["block_seconds"] == 900.0
    assert data["request"]["path"] == "/admin"
    assert "block_seconds" not in violation(block_seconds=None).to_dict()


def test_audit_record() -> None:
    body = record_body(violation_record(violation(), request_id="req-1"))
    assert body == {
        "time": START,
        "event": "violation",
        "request_id": "req-1",
        "tenant_id": TID,
        "object_id": ALICE.split("/")[1],
        "kind": "user",
        "client_id": "00000003-0000-0000-c000-000000000000",
        "method": "GET",
        "path": "/admin",
        "source_ip": "192.0.2.10",
        "reason": "denials",
        "rule": "probing",
        "reasons": ["severity=high"],
        "detail": "5 denials within 10 min (last: forbidden) (blocked 15 min)",
    }


def test_audit_record_of_an_issuer_and_subject() -> None:
    key = "https://idp.example/realms/x#alice"
    found = violation(key, observation=obs(0, key, tenant_id=None), block_seconds=None)
    record = violation_record(found)
    assert record.event is Event.VIOLATION
    assert record.identity is not None
    assert (record.identity.tenant_id, record.identity.object_id) == (
        "https://idp.example/realms/x",
        "alice",
    )
    assert record.detail == found.detail


def test_audit_record_with_the_gate_parts() -> None:
    who = AuditIdentity(TID, "oid", "user", "Alice")
    where = AuditRoute(3, "app.example.com", "/admin")
    record = violation_record(violation(), identity=who, route=where)
    assert (record.identity, record.route) == (who, where)
