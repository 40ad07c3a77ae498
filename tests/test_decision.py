"""Decisions and the one place that maps denials to responses."""

import orjson

from portcullis.config.schema import Route
from portcullis.decision import Decision, Reason, RouteGate
from portcullis.http.pages import decision_response
from portcullis.http.request import RequestHead
from portcullis.routing import RouteTarget
from tests.support.heads import request_head


def _target(public: bool) -> RouteTarget[None]:
    return RouteTarget(0, Route(upstream="http://x", public=public), None)


def _head(method: str = "GET", accept: bytes = b"text/html", headers=()) -> RequestHead:
    return request_head(method, "/admin/x", b"?a=1&b=/", host="h", headers=headers, accept=accept)


def test_public_route_allows() -> None:
    decision = RouteGate().check(None, _target(True))  # type: ignore[arg-type]
    assert decision == Decision(True, Reason.PUBLIC)


def test_without_sign_in_a_non_public_route_fails_closed() -> None:
    decision = RouteGate().check(None, _target(False))  # type: ignore[arg-type]
    assert not decision.allow
    assert decision.reason is Reason.SIGN_IN_UNAVAILABLE
    response = decision_response(decision, _head())
    assert response.status == 401
    assert not any(name == b"Location" for name, _ in response.headers)


def test_browser_is_sent_to_sign_in_with_the_original_url() -> None:
    response = decision_response(Decision(False, Reason.UNAUTHENTICATED), _head())
    assert response.status == 302
    assert (
        dict(response.headers)[b"Location"]
        == b"/.portcullis/login?rd=%2Fadmin%2Fx%3Fa%3D1%26b%3D%2F"
    )


def test_api_clients_get_401_json_with_the_login_url() -> None:
    for head in [
        _head(accept=b"application/json"),
        _head(headers=[(b"X-Requested-With", b"XMLHttpRequest")]),
        _head(headers=[(b"Sec-Fetch-Mode", b"cors")]),
        _head(method="POST"),
    ]:
        response = decision_response(Decision(False, Reason.UNAUTHENTICATED), head)
        assert response.status == 401, head
        body = orjson.loads(response.body)
        assert body["error"] == "unauthenticated"
        assert body["login_url"].startswith("/.portcullis/login?rd=")
        assert body["request_id"] == "rid-1"


def test_forbidden_names_what_is_missing_escaped() -> None:
    decision = Decision(False, Reason.FORBIDDEN, "You need one of: role <Portal.Admin>.")
    html = decision_response(decision, _head())
    assert html.status == 403
    assert b"role &lt;Portal.Admin&gt;" in html.body
    assert b"rid-1" in html.body
    api = decision_response(decision, _head(accept=b"application/json"))
    assert orjson.loads(api.body)["error"] == "forbidden"
    groups = decision_response(
        Decision(False, Reason.GROUPS_UNRESOLVED, "x"), _head(accept=b"application/json")
    )
    assert groups.status == 403
    assert orjson.loads(groups.body)["error"] == "groups-unresolved"
