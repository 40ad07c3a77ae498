"""Every decided request is counted in the metrics and queued for the audit log, as strings."""

from __future__ import annotations

from typing import Any

import pytest

from portcullis import decided
from portcullis.audit.requests import request_body
from portcullis.decided import record_decision, recorder
from portcullis.decision import ALLOW_PUBLIC, Decision, Reason
from portcullis.http.request import RequestHead
from tests.support.heads import request_head


class FakeAudit:
    def __init__(self) -> None:
        self.deferred: list[tuple[Any, tuple[object, ...]]] = []

    def defer(self, make: Any, *args: object) -> None:
        self.deferred.append((make, args))


def request() -> RequestHead:
    return request_head(
        "POST",
        "/api/x",
        b"?q=1",
        headers=[(b"A", b"b")],
        client_ip="10.0.0.5",
        request_id="rid-7",
        forwarded_for="192.0.2.1",
    )


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    calls: list[tuple[object, ...]] = []

    class Counting:
        def request(self, *args: object) -> None:
            calls.append(args)

    monkeypatch.setattr(decided, "METRICS", Counting())
    return calls


def test_a_decision_is_counted_and_queued_as_strings(counted: list[tuple[object, ...]]) -> None:
    audit, route = FakeAudit(), object()
    decision = Decision(True, Reason.SIGNED_IN)
    record_decision(audit, False, request(), route, decision, 200, 0.25)  # type: ignore[arg-type]
    assert counted == [(route, decision, 200, 0.25)]
    [(make, args)] = audit.deferred
    assert make is request_body
    assert args[1:] == ("rid-7", "POST", "/api/x", "192.0.2.1", route, decision, 200, 0.25)
    assert not any(isinstance(arg, RequestHead) for arg in args)


def test_public_routes_are_audited_only_when_asked(counted: list[tuple[object, ...]]) -> None:
    audit = FakeAudit()
    record_decision(audit, False, request(), object(), ALLOW_PUBLIC, 200, 0.1)  # type: ignore[arg-type]
    assert audit.deferred == [] and len(counted) == 1
    record_decision(audit, True, request(), object(), ALLOW_PUBLIC, 200, 0.1)  # type: ignore[arg-type]
    assert len(audit.deferred) == 1


def test_no_route_no_count_and_no_audit_log_no_record(
    counted: list[tuple[object, ...]],
) -> None:
    audit = FakeAudit()
    denial = Decision(False, Reason.FORBIDDEN, "No route matches this host and path.")
    record_decision(audit, False, request(), None, denial, 404, 0.0)  # type: ignore[arg-type]
    assert counted == [] and len(audit.deferred) == 1
    record_decision(None, True, request(), object(), denial, 403, 0.0)
    assert len(counted) == 1 and len(audit.deferred) == 1


def test_a_recorder_reads_the_audit_log_at_each_call(counted: list[tuple[object, ...]]) -> None:
    class Server:
        audit: FakeAudit | None = None
        audit_public = False

    server = Server()
    record = recorder(server)  # type: ignore[arg-type]
    record(request(), object(), Decision(True, Reason.BEARER), 200, 0.0)
    server.audit = FakeAudit()  # e.g. opened after the recorder was made
    record(request(), object(), Decision(True, Reason.BEARER), 200, 0.0)
    assert len(server.audit.deferred) == 1 and len(counted) == 2
