"""The authorizer: parameters → route → the gate's decision → a CGI response for Apache."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Iterator
from typing import Any

import pytest

from portcullis.config import validate
from portcullis.config.auth_schema import IdentityHeaders
from portcullis.decision import Decision, Reason, RouteGate
from portcullis.fastcgi.authorizer import Authorizer
from portcullis.http.clock import CoarseClock
from portcullis.http.request import RequestHead
from portcullis.http.server import ProxyState
from portcullis.routing import RouteTarget
from portcullis.runtime import build_state

IDENTITY = (
    b"X-Portcullis-User: https://op.test#alice\r\n"
    b"X-Portcullis-Kind: user\r\n"
    b"X-Portcullis-Roles: Portal.Admin\r\n"
    b"X-Portcullis-Assertion: eyJ.eyJ.sig\r\n"
)
CONFIG = {
    "routes": [
        {"host": "app.test", "path": "/", "upstream": "http://127.0.0.1:8080"},
        {
            "host": "app.test",
            "path": "/public",
            "upstream": "http://127.0.0.1:8080",
            "public": True,
        },
        {"host": "app.test", "path": "/api", "upstream": "http://127.0.0.1:8080"},
    ]
}


class ScriptedGate:
    """Answers with the decision set for the route's path (async when ``later``)."""

    def __init__(self) -> None:
        self.decisions: dict[str, Decision] = {}
        self.later = False
        self.seen: list[RequestHead] = []

    def check(
        self, request: RequestHead, route: RouteTarget[Any]
    ) -> Decision | Awaitable[Decision]:
        self.seen.append(request)
        decision = self.decisions.get(route.config.path) or RouteGate().check(request, route)
        if not self.later:
            return decision

        async def later() -> Decision:
            await asyncio.sleep(0)
            return decision

        return later()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def gate() -> ScriptedGate:
    return ScriptedGate()


@pytest.fixture
def state(loop: asyncio.AbstractEventLoop, gate: ScriptedGate) -> ProxyState:
    config = validate(CONFIG)
    return build_state(loop, CoarseClock(loop), config, gate, frozenset({b"x-portcullis-user"}))


def ask(
    authorizer: Authorizer,
    loop: asyncio.AbstractEventLoop,
    uri: str,
    method: str = "GET",
    **env: str,
) -> tuple[int, dict[str, str], bytes, bytes]:
    """(status, headers, body, raw response) for one request."""
    pairs = [(b"REQUEST_METHOD", method.encode()), (b"REQUEST_URI", uri.encode())]
    pairs.append((b"HTTP_HOST", env.pop("host", "app.test").encode()))
    pairs += [(k.encode(), v.encode()) for k, v in env.items()]
    result = authorizer(pairs)
    raw = result if isinstance(result, bytes) else loop.run_until_complete(result)
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n"):
        name, _, value = line.decode().partition(": ")
        headers[name] = value
    return int(headers.pop("Status").split()[0]), headers, body, raw


@pytest.fixture
def authorizer(state: ProxyState) -> Authorizer:
    return Authorizer(lambda: state)


# allow -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("later", [False, True], ids=["cached", "awaited"])
def test_allow_is_a_200_with_the_identity_as_variables_and_nothing_else(
    authorizer: Authorizer, gate: ScriptedGate, loop: asyncio.AbstractEventLoop, later: bool
) -> None:
    gate.decisions["/"] = Decision(True, Reason.SIGNED_IN, "", IDENTITY)
    gate.later = later
    *_, raw = ask(authorizer, loop, "/reports?x=1", HTTP_COOKIE="portcullis=abc")
    assert raw == (
        b"Status: 200\r\n"
        b"Variable-PORTCULLIS_USER: https://op.test#alice\r\n"
        b"Variable-PORTCULLIS_KIND: user\r\n"
        b"Variable-PORTCULLIS_ROLES: Portal.Admin\r\n"
        b"Variable-PORTCULLIS_ASSERTION: eyJ.eyJ.sig\r\n"
        b"\r\n"
    )
    [head] = gate.seen
    assert (head.method, head.path, head.query, head.host) == (
        "GET",
        "/reports",
        b"?x=1",
        "app.test",
    )
    assert (b"COOKIE", b"portcullis=abc") in head.headers


def test_a_public_route_is_a_bare_200(
    authorizer: Authorizer, loop: asyncio.AbstractEventLoop
) -> None:
    assert ask(authorizer, loop, "/public/x")[3] == b"Status: 200\r\n\r\n"


def test_the_gate_never_sees_identity_headers_the_client_sent(
    authorizer: Authorizer, gate: ScriptedGate, loop: asyncio.AbstractEventLoop
) -> None:
    ask(authorizer, loop, "/x", HTTP_X_PORTCULLIS_USER="mallory", HTTP_X_PORTCULLIS_ROLES="Root")
    assert not [h for h in gate.seen[0].headers if b"PORTCULLIS" in h[0].upper()]


def test_the_gate_never_sees_a_configured_identity_header_the_client_sent(
    gate: ScriptedGate, loop: asyncio.AbstractEventLoop
) -> None:
    """Names from ``auth.headers`` not spoofable by their prefix: the strip list, as proxied."""
    strip = frozenset({b"remote-principal"})
    state = build_state(loop, CoarseClock(loop), validate(CONFIG), gate, strip)
    ask(Authorizer(lambda: state), loop, "/x", HTTP_REMOTE_PRINCIPAL="mallory", HTTP_X_OK="kept")
    assert gate.seen[0].headers == [(b"X-OK", b"kept")]


def test_renamed_identity_headers_are_followed_after_a_reload(
    state: ProxyState, gate: ScriptedGate, loop: asyncio.AbstractEventLoop
) -> None:
    names: list[IdentityHeaders | None] = [None]
    authorizer = Authorizer(lambda: state, lambda: names[0])
    gate.decisions["/"] = Decision(True, Reason.SIGNED_IN, "", b"Remote-Principal: alice\r\n")
    assert ask(authorizer, loop, "/x")[3] == b"Status: 200\r\n\r\n"
    names[0] = IdentityHeaders(user="Remote-Principal")
    assert ask(authorizer, loop, "/x")[3] == (
        b"Status: 200\r\nVariable-PORTCULLIS_USER: alice\r\n\r\n"
    )


# deny: the proxy's own mapping, written as CGI ------------------------------------------------
def test_a_browser_that_is_not_signed_in_is_sent_to_sign_in(
    authorizer: Authorizer, gate: ScriptedGate, loop: asyncio.AbstractEventLoop
) -> None:
    gate.decisions["/"] = Decision(False, Reason.UNAUTHENTICATED, "no session")
    status, headers, body, _ = ask(authorizer, loop, "/reports/q1?tab=2", HTTP_ACCEPT="text/html")
    assert status == 302
    assert headers["Location"] == "/.portcullis/login?rd=%2Freports%2Fq1%3Ftab%3D2"
    assert headers["Cache-Control"] == "no-store"
    assert body == b""  # Apache writes its own short page around the Location


def test_an_api_client_that_is_not_signed_in_gets_401_json_inert_as_html(
    authorizer: Authorizer, gate: ScriptedGate, loop: asyncio.AbstractEventLoop
) -> None:
    gate.decisions["/"] = Decision(False, Reason.UNAUTHENTICATED, "no session")
    status, _, body, _ = ask(
        authorizer, loop, "/r?<script>&x", HTTP_ACCEPT="application/json", UNIQUE_ID="req-1"
    )
    assert status == 401
    assert b"<" not in body and b">" not in body and b"&" not in body
    payload = json.loads(body)  # still the same JSON
    assert payload["login_url"] == "/.portcullis/login?rd=%2Fr%3F%3Cscript%3E%26x"
    assert payload["request_id"] == "req-1"
    gate.decisions["/"] = Decision(False, Reason.FORBIDDEN, "Needs <b>Admin</b> & more")
    status, _, body, _ = ask(authorizer, loop, "/r", HTTP_ACCEPT="application/json")
    assert status == 403
    assert b"<" not in body and b">" not in body and b"&" not in body
    assert json.loads(body)["message"] == "Needs <b>Admin</b> & more"


def test_a_bearer_route_without_a_token_gets_401_with_a_challenge(
    authorizer: Authorizer, gate: ScriptedGate, loop: asyncio.AbstractEventLoop
) -> None:
    gate.decisions["/api"] = Decision(False, Reason.TOKEN_MISSING, "A bearer token is required.")
    status, headers, body, _ = ask(authorizer, loop, "/api/x")
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="portcullis"'
    assert json.loads(body)["error"] == "unauthenticated"


def test_forbidden_is_403_and_unavailable_is_503(
    authorizer: Authorizer, gate: ScriptedGate, loop: asyncio.AbstractEventLoop
) -> None:
    gate.decisions["/"] = Decision(False, Reason.FORBIDDEN, "Needs the role Portal.Admin.")
    status, headers, body, _ = ask(authorizer, loop, "/admin", HTTP_ACCEPT="text/html")
    assert status == 403
    assert headers["Content-Type"].startswith("text/html")
    assert b"Portal.Admin" in body
    gate.decisions["/"] = Decision(False, Reason.AUTH_UNAVAILABLE, "")
    status, headers, _, _ = ask(authorizer, loop, "/admin")
    assert (status, headers["Retry-After"]) == (503, "5")


def test_no_route_is_404(authorizer: Authorizer, loop: asyncio.AbstractEventLoop) -> None:
    assert ask(authorizer, loop, "/x", host="other.test")[0] == 404


def test_portcullis_paths_are_refused_with_a_hint_in_the_log(
    authorizer: Authorizer,
    gate: ScriptedGate,
    loop: asyncio.AbstractEventLoop,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, "portcullis.authorizer"):
        for uri in ("/.portcullis/login?rd=/", "/.portcullis", "/x/../.portcullis/callback"):
            assert ask(authorizer, loop, uri)[0] == 404
    assert "pass /.portcullis/ to Portcullis without the authorizer" in caplog.text
    assert not gate.seen


def test_parameters_that_describe_no_request_are_400(
    authorizer: Authorizer, gate: ScriptedGate, loop: asyncio.AbstractEventLoop
) -> None:
    assert ask(authorizer, loop, "/a\\b")[0] == 400
    assert ask(authorizer, loop, "*", method="OPTIONS")[0] == 400
    assert not gate.seen


def test_no_denial_body_starts_like_a_path_or_url(
    authorizer: Authorizer, gate: ScriptedGate, loop: asyncio.AbstractEventLoop
) -> None:
    """Apache treats a body starting with '/' (or a URL) as an ErrorDocument redirect."""
    for reason in Reason:
        gate.decisions["/"] = Decision(False, reason, "/etc/passwd")
        for accept in ("text/html", "application/json", ""):
            *_, raw = ask(authorizer, loop, "/x", HTTP_ACCEPT=accept)
            body = raw.partition(b"\r\n\r\n")[2]
            assert body[:1] in (b"", b"<", b"{"), (reason, accept, body[:20])


def test_refusals_made_before_any_request_are_not_allows(authorizer: Authorizer) -> None:
    assert authorizer.too_large.startswith(b"Status: 431 ")
    assert authorizer.failure.startswith(b"Status: 500 ")


# every decision is recorded (metrics, audit) ---------------------------------------------------
@pytest.mark.parametrize("later", [False, True], ids=["cached", "awaited"])
def test_each_decision_is_recorded_with_the_status_answered_to_apache(
    state: ProxyState, gate: ScriptedGate, loop: asyncio.AbstractEventLoop, later: bool
) -> None:
    seen: list[tuple[str, str, object, bool, str, int]] = []

    def record(head: RequestHead, route: Any, decision: Decision, status: int, took: float) -> None:
        assert 0 <= took < 5
        where = None if route is None else route.config.path
        seen.append((head.method, head.path, where, decision.allow, decision.reason.value, status))

    authorizer = Authorizer(lambda: state, record=record)
    gate.later = later
    gate.decisions["/"] = Decision(True, Reason.SIGNED_IN, "", IDENTITY)
    ask(authorizer, loop, "/reports?x=1")
    gate.decisions["/"] = Decision(False, Reason.FORBIDDEN, "Needs the role Portal.Admin.")
    ask(authorizer, loop, "/admin", method="DELETE")
    ask(authorizer, loop, "/x", host="other.test")
    ask(authorizer, loop, "/.portcullis/login")
    assert seen == [
        ("GET", "/reports", "/", True, "signed-in", 200),
        ("DELETE", "/admin", "/", False, "forbidden", 403),
        ("GET", "/x", None, False, "forbidden", 404),
        ("GET", "/.portcullis/login", None, False, "forbidden", 404),
    ]
