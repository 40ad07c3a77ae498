"""Bearer denials as responses (RFC 6750), through the gate's bearer path.

The gate runs with the real validator (stubbed IdP) and the real rule; each denial goes
through ``decision_response``: 401/403, one ``WWW-Authenticate`` with the RFC 6750
error, a JSON body with ``error`` and ``request_id``, and the token nowhere in the answer.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import re
from typing import Any

import orjson
import pytest

from portcullis.assertion import AssertionSigner, generate_key
from portcullis.auth.gate import AuthGate
from portcullis.auth.rules import evaluate
from portcullis.auth.upstream_headers import IdentityHeaderBuilder
from portcullis.config.auth_schema import Allow, IdentityHeaders, SessionSettings
from portcullis.config.schema import Route
from portcullis.decision import Decision, Reason
from portcullis.http.pages import decision_response
from portcullis.http.request import RequestHead
from portcullis.oidc.fetch import IdpUnavailable
from portcullis.policy import Context, compile_route
from portcullis.routing import RouteTarget
from portcullis.session.cache import CachedStore
from portcullis.session.cookie import CookieCodec
from portcullis.session.memory import MemoryStore
from tests.bearer.harness import (
    DAEMON,
    DROP,
    V2_JWKS,
    Env,
    app_claims,
    keys,
    make_env,
    token,
    v2_claims,
)
from tests.support.heads import request_head

ROLE = "Reports.Read.All"
RID = "rid-7"


def _head(*headers: tuple[bytes, bytes], accept: bytes = b"application/json") -> RequestHead:
    return request_head(
        "GET", "/reports/x", host="api.example", headers=headers, scheme="https",
        request_id=RID, accept=accept,
    )  # fmt: skip


def _bearer(tok: str) -> tuple[bytes, bytes]:
    return (b"Authorization", b"Bearer " + tok.encode())


def _gate(env: Env) -> AuthGate:
    clock = lambda: env.now[0]  # noqa: E731
    signer = AssertionSigner([generate_key()], issuer="https://proxy.example")
    return AuthGate(
        codec=CookieCodec([b"k" * 32]),
        store=CachedStore(MemoryStore(clock), clock=clock),
        settings=SessionSettings.model_validate({"keys": [{"value": "s" * 32}]}),
        cookie="__Host-portcullis",
        strip_cookies=("__Host-portcullis",),
        headers=IdentityHeaderBuilder(IdentityHeaders(), signer),
        validators={"contoso": env.validator},
        clock=clock,
    )


def _route(allow: Allow | None, accept: tuple[str, ...] = ("bearer",)) -> RouteTarget[None]:
    route = Route.model_validate(
        {"upstream": "http://127.0.0.1:9", "accept": list(accept), "api": "contoso"}
    )
    route = route.model_copy(update={"allow": allow})
    return RouteTarget(0, route, None, compile_route(route, 0, Context()))


def _decide(gate: AuthGate, head: RequestHead, route: RouteTarget[None]) -> Decision:
    result = gate.check(head, route)
    if inspect.isawaitable(result):

        async def wait() -> Decision:
            return await result  # type: ignore[no-any-return]

        return asyncio.run(wait())
    assert isinstance(result, Decision)
    return result


def _assert_token_absent(response: Any, tok: str) -> None:
    blob = response.body + b"".join(name + b"\0" + value for name, value in response.headers)
    for part in tok.split("."):
        if len(part) >= 8:
            assert part.encode() not in blob


def _challenge(response: Any) -> str:
    values = [v for n, v in response.headers if n.lower() == b"www-authenticate"]
    assert len(values) == 1, response.headers
    value = values[0]
    assert b"\r" not in value and b"\n" not in value
    text = value.decode("ascii")
    assert text.startswith("Bearer ")
    return text


def _claims_of(challenge: str) -> dict[str, Any]:
    match = re.search(r'claims="([A-Za-z0-9+/=_-]+)"', challenge)
    assert match, challenge
    encoded = match.group(1)
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


CASES = [
    # (token factory or None, rule, reason, status, RFC 6750 error or None)
    pytest.param(None, Allow(app_roles=[ROLE]), Reason.TOKEN_MISSING, 401, None, id="missing"),
    pytest.param(lambda: token(v2_claims(), alg="none", signature=b""), Allow(app_roles=[ROLE]),
                 Reason.INVALID_TOKEN, 401, "invalid_token", id="alg-none"),
    pytest.param(lambda: token(v2_claims(), key=keys().attacker), Allow(app_roles=[ROLE]),
                 Reason.INVALID_TOKEN, 401, "invalid_token", id="bad-signature"),
    pytest.param(lambda: token(v2_claims(aud="api://other")), Allow(app_roles=[ROLE]),
                 Reason.INVALID_TOKEN, 401, "invalid_token", id="bad-audience"),
    pytest.param(lambda: "A" * 20000, Allow(app_roles=[ROLE]), Reason.TOKEN_TOO_LARGE, 431,
                 "invalid_token", id="oversize"),
    pytest.param(lambda: token(app_claims(roles=DROP)), Allow(app_roles=[ROLE]),
                 Reason.INSUFFICIENT_SCOPE, 403, "insufficient_scope", id="app-without-role"),
    pytest.param(lambda: token(v2_claims(scp="Other")), Allow(scopes=["Reports.Read"]),
                 Reason.INSUFFICIENT_SCOPE, 403, "insufficient_scope", id="scope-missing"),
    pytest.param(lambda: token(v2_claims(xms_cc=["cp1"])), Allow(auth_context="c1"),
                 Reason.INSUFFICIENT_CLAIMS, 401, "insufficient_claims", id="cae-step-up"),
    pytest.param(lambda: token(v2_claims()), Allow(auth_context="c1"),
                 Reason.INSUFFICIENT_SCOPE, 403, "insufficient_scope", id="cae-without-cp1"),
]  # fmt: skip


@pytest.mark.parametrize("accept", [b"application/json", b"text/html", b"*/*"])
@pytest.mark.parametrize(("make", "rule", "reason", "status", "error"), CASES)
def test_bearer_denial_response(
    make: Any, rule: Allow, reason: Reason, status: int, error: str | None, accept: bytes
) -> None:
    env = make_env()
    tok = make() if make is not None else None
    head = _head(*([_bearer(tok)] if tok else []), accept=accept)
    decision = _decide(_gate(env), head, _route(rule))
    assert not decision.allow
    assert decision.reason is reason
    assert decision.upstream_headers == b""
    response = decision_response(decision, head)
    assert response.status == status
    challenge = _challenge(response)
    if error is None:
        assert "error=" not in challenge  # RFC 6750 3.1: no error code without credentials
    else:
        assert f'error="{error}"' in challenge
    assert response.content_type.startswith(b"application/json")  # an API answer, any Accept
    body = orjson.loads(response.body)
    assert body["error"] == (error or "unauthenticated")
    assert body["request_id"] == RID
    assert not any(n.lower() == b"location" for n, _ in response.headers)  # no login redirect
    if tok:
        _assert_token_absent(response, tok)
    if reason is Reason.INSUFFICIENT_CLAIMS:
        assert _claims_of(challenge) == {
            "access_token": {"acrs": {"essential": True, "value": "c1"}}
        }


def test_valid_token_passes_with_identity_headers_and_is_cached() -> None:
    env = make_env()
    gate = _gate(env)
    tok = token(app_claims())
    route = _route(Allow(app_roles=[ROLE]))
    first = _decide(gate, _head(_bearer(tok)), route)
    assert first.allow and first.reason is Reason.BEARER
    assert b"X-Portcullis-Kind: app\r\n" in first.upstream_headers
    assert f"X-Portcullis-Client: {DAEMON}\r\n".encode() in first.upstream_headers
    assert tok.encode() not in first.upstream_headers
    fetched = list(env.fetcher.urls)
    again = gate.check(_head(_bearer(tok)), route)
    assert isinstance(again, Decision) and again.allow  # from the cache: no await at all
    assert env.fetcher.urls == fetched


def test_two_authorization_headers_are_refused() -> None:
    env = make_env()
    tok = token(app_claims())
    head = _head(_bearer(tok), (b"authorization", b"Bearer " + tok.encode()))
    decision = _decide(_gate(env), head, _route(Allow(app_roles=[ROLE])))
    assert decision.reason is Reason.INVALID_TOKEN
    assert decision_response(decision, head).status == 401
    assert env.fetcher.urls == []


def test_other_schemes_are_no_token() -> None:
    env = make_env()
    head = _head((b"Authorization", b"Basic dXNlcjpwYXNz"))
    decision = _decide(_gate(env), head, _route(Allow(app_roles=[ROLE])))
    assert decision.reason is Reason.TOKEN_MISSING


def test_scheme_is_case_insensitive() -> None:
    env = make_env()
    head = _head((b"authorization", b"bearer " + token(app_claims()).encode()))
    assert _decide(_gate(env), head, _route(Allow(app_roles=[ROLE]))).allow


def test_idp_outage_is_a_503_that_names_no_token() -> None:
    """Not a verdict on the token: a 401 would make the client throw a good token away."""
    env = make_env()
    env.fetcher.documents[V2_JWKS] = IdpUnavailable("GET keys: HTTP 503")
    tok = token(app_claims())
    head = _head(_bearer(tok))
    decision = _decide(_gate(env), head, _route(Allow(app_roles=[ROLE])))
    assert decision.reason is Reason.AUTH_UNAVAILABLE
    response = decision_response(decision, head)
    assert response.status == 503
    assert dict(response.headers)[b"Retry-After"] == b"5"
    _assert_token_absent(response, tok)
    assert b"GET keys" not in response.body  # the IdP's failure is logged, not shown


def test_session_and_bearer_route_without_a_token_asks_for_sign_in() -> None:
    env = make_env()
    decision = _decide(_gate(env), _head(), _route(None, accept=("session", "bearer")))
    assert decision.reason is Reason.UNAUTHENTICATED


@pytest.mark.parametrize(
    "reason", [Reason.TOKEN_MISSING, Reason.INVALID_TOKEN, Reason.INSUFFICIENT_SCOPE]
)
def test_hostile_detail_cannot_break_the_challenge(reason: Reason) -> None:
    """Details are fixed strings today; quotes must still not end the quoted-string early."""
    decision = Decision(False, reason, 'say "hi", error="x"')
    response = decision_response(decision, _head())
    challenge = _challenge(response)
    assert challenge.count('"') % 2 == 0
    assert 'error="x"' not in challenge


def test_rule_denial_details_are_ascii_safe() -> None:
    principal = make_env().check(token(v2_claims(scp="Other")))
    decision = evaluate(principal.identity, Allow(scopes=["Rapports.Lire.Été"]), principal.token)
    assert decision is not None
    challenge = _challenge(decision_response(decision, _head()))
    assert "insufficient_scope" in challenge


def test_oversize_token_gets_400_or_431() -> None:
    env = make_env()
    head = _head(_bearer("A" * 20000))
    decision = _decide(_gate(env), head, _route(Allow(app_roles=[ROLE])))
    assert decision_response(decision, head).status in (400, 431)
