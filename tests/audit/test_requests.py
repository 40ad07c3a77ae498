"""The audit record of a decided request: its event, route, credential ages and reasons."""

from __future__ import annotations

import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portcullis.audit.record import AuditIdentity, AuditRoute, Event, record_body
from portcullis.audit.requests import (
    SESSION_EXPIRED_RULE,
    AuditSubject,
    event_of,
    request_body,
    request_record,
)
from portcullis.config.schema import Route
from portcullis.decision import Decision, Reason
from portcullis.http.request import RequestHead
from portcullis.routing import RouteTarget
from tests.support.heads import request_head

ALICE = AuditIdentity(tenant_id="t1", object_id="o1", kind="user")


def head(path: str = "/admin/users") -> RequestHead:
    return request_head(
        "POST",
        path,
        b"?q=1",
        host="portal.example.com",
        client_ip="192.0.2.7",
        scheme="https",
        request_id="req-1",
        forwarded_for="198.51.100.9",
    )


def fields(request: RequestHead) -> tuple[str, str, str, str]:
    """What the exchange queues of a request head."""
    return request.request_id, request.method, request.path, request.source_ip


def target(index: int = 2, path: str = "/admin") -> RouteTarget[object]:
    route = Route(host="portal.example.com", path=path, upstream="http://127.0.0.1:8080")
    return RouteTarget(index, route, object())


@pytest.mark.parametrize(
    ("decision", "event"),
    [
        (Decision(True, Reason.SIGNED_IN), Event.ALLOW),
        (Decision(True, Reason.SIGNED_IN, monitored=("admins: role",)), Event.MONITOR_DENY),
        (Decision(False, Reason.STEP_UP), Event.STEP_UP),
        (Decision(False, Reason.INSUFFICIENT_CLAIMS), Event.STEP_UP),
        (Decision(False, Reason.INVALID_TOKEN), Event.TOKEN_REJECTED),
        (Decision(False, Reason.TOKEN_TOO_LARGE), Event.TOKEN_REJECTED),
        (Decision(False, Reason.UNAUTHENTICATED, rule=SESSION_EXPIRED_RULE), Event.SESSION_EXPIRED),
        (Decision(False, Reason.UNAUTHENTICATED), Event.DENY),
        (Decision(False, Reason.FORBIDDEN, rule="default"), Event.DENY),
    ],
)
def test_each_decision_has_its_event(decision: Decision, event: Event) -> None:
    assert event_of(decision) is event


def test_a_record_has_the_request_route_and_credential_ages() -> None:
    subject = AuditSubject(
        ALICE, token_id="jti-1", issued_at=900.0, expires_at=1600.0, session_created=400.0
    )
    decision = Decision(True, Reason.BEARER, rule="readers", subject=subject)
    record = request_record(1000.0, *fields(head()), target(), decision, 200, 0.0125)
    assert (record.time, record.event, record.request_id) == (1000.0, Event.ALLOW, "req-1")
    assert (record.method, record.path, record.source_ip) == (
        "POST",
        "/admin/users",
        "198.51.100.9",
    )
    assert record.identity is ALICE
    assert record.route == AuditRoute(2, "portal.example.com", "/admin")
    assert (record.reason, record.rule, record.status) == ("bearer", "readers", 200)
    assert record.token_id == "jti-1"
    assert (record.token_age, record.token_remaining, record.token_lifetime) == (
        100.0,
        600.0,
        700.0,
    )
    assert record.session_age == 600.0
    assert record.duration_ms == 12.5
    assert record.detail is None  # only denials carry the detail


def test_a_denial_carries_its_trace_detail_and_monitored_rules() -> None:
    decision = Decision(
        False,
        Reason.FORBIDDEN,
        detail="no rule allows",
        rule="default",
        monitored=("beta: group",),
        explain=lambda: ("allow rule admins: no match",),
    )
    record = request_record(1000.0, *fields(head()), None, decision, 403, 0.001)
    assert record.event is Event.DENY
    assert record.reasons == ("allow rule admins: no match", "would deny: beta: group")
    assert record.detail == "no rule allows"
    assert record.route is None and record.identity is None and record.token_age is None
    assert record.status == 403


def test_the_route_of_a_record_does_not_keep_the_route_target_alive() -> None:
    """After a reload the old targets (and their upstream pools) must be freed."""
    pool = object()
    old = RouteTarget(0, target().config, pool)
    first = request_record(1.0, *fields(head()), old, Decision(True, Reason.PUBLIC), 200, 0.0).route
    again = request_record(
        2.0, *fields(head()), target(0), Decision(True, Reason.PUBLIC), 200, 0.0
    ).route
    assert first is again  # built once per route
    del old
    gc.collect()
    assert not any(isinstance(r, RouteTarget) for r in gc.get_referrers(pool))
    moved = request_record(
        3.0, *fields(head()), target(0, "/api"), Decision(True, Reason.PUBLIC), 200, 0
    )
    assert moved.route == AuditRoute(0, "portal.example.com", "/api")


SUBJECTS = [
    None,
    AuditSubject(ALICE, session_created=900.0),
    AuditSubject(AuditIdentity("t1", "bot", "app", "reporting-bot", "c1"), "uti-1", 500.0, 4100.0),
    AuditSubject(AuditIdentity("t1", "o2", "obo", acting_for="t1/o3"), None, None, 4000.0),
]
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@settings(max_examples=300, deadline=None)
@given(
    subject=st.sampled_from(SUBJECTS),
    route=st.sampled_from([None, 0, 2]),
    allow=st.booleans(),
    monitored=st.sampled_from([(), ("admins: role",)]),
    reason=st.sampled_from([Reason.SIGNED_IN, Reason.BEARER, Reason.FORBIDDEN]),
    rule=st.sampled_from(["", "readers", "default"]),
    path=st.sampled_from(["/a", "/a?x=1", "/b;jsessionid=abc", "/" + "p" * 2000]) | _text,
    request_id=st.sampled_from(["", "r-1", "x" * 300]) | _text,
    source_ip=st.sampled_from(["", "10.0.0.1", "2001:db8::1"]),
    status=st.sampled_from([0, 200, 403, 502]),
    wall=st.floats(1000.0, 5000.0),
    seconds=st.floats(0.0, 2.0),
)
def test_request_body_is_the_body_of_request_record(
    subject: AuditSubject | None,
    route: int | None,
    allow: bool,
    monitored: tuple[str, ...],
    reason: Reason,
    rule: str,
    path: str,
    request_id: str,
    source_ip: str,
    status: int,
    wall: float,
    seconds: float,
) -> None:
    request = head(path)
    request.request_id = request_id
    request.forwarded_for = source_ip
    request.client_ip = ""
    where = None if route is None else target(route)
    decision = Decision(allow, reason, rule=rule, monitored=monitored, subject=subject)
    expected = record_body(request_record(wall, *fields(request), where, decision, status, seconds))
    for _ in range(3):  # made, then from a template made for it, then from the template
        made = request_body(wall, *fields(request), where, decision, status, seconds)
        assert list(made.items()) == list(expected.items())
