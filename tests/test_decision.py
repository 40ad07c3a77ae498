"""Unit tests for the first gate: public passes, everything else fails closed."""

from portcullis.config.schema import Route
from portcullis.decision import Decision, Reason, RouteGate
from portcullis.http.pages import decision_response
from portcullis.routing import RouteTarget


def _target(public: bool) -> RouteTarget[None]:
    return RouteTarget(0, Route(upstream="http://x", public=public), None)


def test_public_route_allows() -> None:
    decision = RouteGate().check(None, _target(True))  # type: ignore[arg-type]
    assert decision == Decision(True, Reason.PUBLIC)


def test_non_public_route_denies_unauthenticated() -> None:
    decision = RouteGate().check(None, _target(False))  # type: ignore[arg-type]
    assert not decision.allow
    assert decision.reason is Reason.UNAUTHENTICATED


def test_denials_map_to_status_in_one_place() -> None:
    unauth = decision_response(Decision(False, Reason.UNAUTHENTICATED), request_id="r1", accept=b"")
    forbidden = decision_response(
        Decision(False, Reason.FORBIDDEN), request_id="r2", accept=b"application/json"
    )
    assert unauth.status == 401 and b"r1" in unauth.body
    assert forbidden.status == 403
    assert forbidden.content_type == b"application/json"
    assert b'"error":"forbidden"' in forbidden.body
