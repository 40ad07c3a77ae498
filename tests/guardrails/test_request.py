"""Request guardrails on the head: rate limit, method, path and query patterns, declared size.

First :class:`RequestGuard` alone (pure, the clock passed in), then :class:`GuardRegistry`,
then through the real :class:`AuthGate` with real (forged, verified) bearer tokens: an app
and an agent are held to the guardrails, a person on the same route is not; each refusal
becomes its response through ``decision_response``.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import orjson
import pytest

from portcullis.assertion import AssertionSigner, generate_key
from portcullis.auth.gate import AuthGate
from portcullis.auth.upstream_headers import IdentityHeaderBuilder
from portcullis.config.auth_schema import IdentityHeaders, SessionSettings
from portcullis.config.schema import Route
from portcullis.decision import Decision, Reason
from portcullis.guardrails.request import GuardRegistry, RequestGuard
from portcullis.guardrails.request_schema import RouteGuardrails
from portcullis.http.pages import decision_response
from portcullis.http.request import RequestHead
from portcullis.identity import Kind
from portcullis.policy import Context, compile_route
from portcullis.routing import RouteTarget
from portcullis.session.cache import CachedStore
from portcullis.session.cookie import CookieCodec
from portcullis.session.memory import MemoryStore
from tests.bearer.harness import Env, agent_claims, app_claims, make_env, token, v2_claims
from tests.guardrails.heads import JSON, RID, head

T0 = 1_800_000_000.0
AGENT = "tenant/agent-oid"

SETTINGS: dict[str, Any] = {
    "methods": ["GET", "POST"],
    "max_body_bytes": 1000,
    "rate_limit": {"requests": 2, "per": 10},
    "deny": [
        {"path": "^/api/admin(/|$)", "message": "Agents stay out of the admin API."},
        {"query": r"(?i)drop\s+table", "message": "No SQL in queries.", "name": "no-sql"},
        {"json": {"pointer": "/command", "matches": "(?i)drop"}, "message": "No DDL."},
    ],
}


def guard(**settings: Any) -> RequestGuard:
    return RequestGuard(RouteGuardrails.model_validate(settings or SETTINGS))


def refused(result: Decision | None, reason: Reason) -> Decision:
    assert result is not None, "passed"
    assert not result.allow
    assert result.reason is reason, result
    return result


# the head checks -------------------------------------------------------------------------------


def test_a_request_within_every_guardrail_passes() -> None:
    assert guard().check(AGENT, head(query=b"?q=select"), T0) is None
    assert guard().check(AGENT, head("POST", headers=JSON, content_length=1000), T0) is None


def test_a_method_not_listed_is_405_with_allow() -> None:
    denied = refused(guard().check(AGENT, head("DELETE"), T0), Reason.METHOD_NOT_ALLOWED)
    assert denied.response_headers == ((b"Allow", b"GET, POST"),)
    assert denied.detail == "This method is not allowed here; allowed: GET, POST."
    assert denied.rule == "guardrails.methods"
    assert refused(guard().check(AGENT, head("HEAD"), T0), Reason.METHOD_NOT_ALLOWED)


def test_methods_in_the_configuration_are_upper_cased() -> None:
    lower = guard(methods=["get"])
    assert lower.check(AGENT, head("GET"), T0) is None
    assert lower.check(AGENT, head("get"), T0) is not None  # HTTP methods are case-sensitive


@pytest.mark.parametrize(
    "path", ["/api/admin", "/api/admin/users", "/api/%61dmin/users", "/api/admin%2Fusers"]
)
def test_a_path_pattern_refuses_with_its_message(path: str) -> None:
    denied = refused(guard().check(AGENT, head(path=path), T0), Reason.GUARDRAIL)
    assert denied.detail == "Agents stay out of the admin API."
    assert denied.rule == "guardrails.deny[0]"


def test_a_path_pattern_is_searched_as_written() -> None:
    assert guard().check(AGENT, head(path="/api/administrators"), T0) is None
    assert guard().check(AGENT, head(path="/v2/api/admin"), T0) is None  # anchored with ^


@pytest.mark.parametrize(
    "query",
    [b"?q=DROP TABLE x", b"?q=drop%20table%20x", b"?q=drop+table+x", b"?q=%64rop%09table"],
)
def test_a_query_pattern_sees_the_raw_and_the_decoded_query(query: bytes) -> None:
    denied = refused(guard().check(AGENT, head(query=query), T0), Reason.GUARDRAIL)
    assert (denied.detail, denied.rule) == ("No SQL in queries.", "no-sql")


def test_query_patterns_ignore_the_path_and_path_patterns_the_query() -> None:
    assert guard().check(AGENT, head(path="/api/drop table"), T0) is None
    assert guard().check(AGENT, head(query=b"?next=/api/admin"), T0) is None
    assert guard().check(AGENT, head(query=b"?"), T0) is None


def test_a_declared_length_over_max_body_bytes_is_413() -> None:
    denied = refused(
        guard().check(AGENT, head("POST", content_length=1001), T0), Reason.BODY_TOO_LARGE
    )
    assert denied.rule == "guardrails.max_body_bytes"
    assert "1000 bytes" in denied.detail


def test_the_rate_limit_refuses_with_retry_after_and_recovers() -> None:
    limited = guard()  # 2 requests per 10 s: one token every 5 s
    assert limited.check(AGENT, head(), T0) is None
    assert limited.check(AGENT, head(), T0) is None
    denied = refused(limited.check(AGENT, head(), T0 + 1), Reason.RATE_LIMITED)
    assert denied.response_headers == ((b"Retry-After", b"4"),)
    assert denied.detail == "Too many requests: at most 2 every 10 s. Try again in 4 s."
    assert denied.rule == "guardrails.rate_limit"
    assert limited.check("someone-else", head(), T0 + 1) is None
    assert limited.check(AGENT, head(), T0 + 5) is None


def test_a_fraction_of_a_second_to_wait_is_one_second_of_retry_after() -> None:
    fast = guard(rate_limit={"requests": 100, "per": 1, "burst": 1})
    assert fast.check(AGENT, head(), T0) is None
    denied = refused(fast.check(AGENT, head(), T0), Reason.RATE_LIMITED)
    assert denied.response_headers == ((b"Retry-After", b"1"),)


def test_every_request_counts_against_the_rate_limit_also_refused_ones() -> None:
    limited = guard()
    refused(limited.check(AGENT, head("DELETE"), T0), Reason.METHOD_NOT_ALLOWED)
    refused(limited.check(AGENT, head(path="/api/admin"), T0), Reason.GUARDRAIL)
    refused(limited.check(AGENT, head(), T0), Reason.RATE_LIMITED)


def test_applies_to_and_the_body_guard() -> None:
    assert guard().applies_to == {Kind.APP, Kind.AGENT}
    people = guard(applies_to=["user", "obo"], methods=["GET"])
    assert people.applies_to == {Kind.USER, Kind.ON_BEHALF_OF}
    assert guard().body is not None
    assert guard(methods=["GET"]).body is None


# the registry ----------------------------------------------------------------------------------


def route(**guardrails: Any) -> Route:
    return Route.model_validate(
        {
            "path": "/api",
            "upstream": "http://127.0.0.1:9",
            "accept": ["bearer"],
            "api": "contoso",
            "guardrails": guardrails or SETTINGS,
        }
    )


def test_the_registry_compiles_a_route_once() -> None:
    registry = GuardRegistry()
    config = route()
    assert registry.guard(config) is registry.guard(config)


def test_a_reload_with_the_same_guardrails_keeps_the_buckets() -> None:
    registry = GuardRegistry()
    before = registry.guard(route())
    for _ in range(2):
        before.check(AGENT, head(), T0)
    after = registry.guard(route())  # an equal route, as a reload builds it
    assert after is before
    refused(after.check(AGENT, head(), T0), Reason.RATE_LIMITED)
    changed = registry.guard(route(**{**SETTINGS, "rate_limit": {"requests": 3, "per": 10}}))
    assert changed is not before
    assert changed.check(AGENT, head(), T0) is None


def test_the_registry_is_bounded() -> None:
    registry = GuardRegistry(max_routes=2)
    configs = [route() for _ in range(5)]
    for config in configs:
        registry.guard(config)
    assert len(registry._by_config) <= 2


def test_a_route_without_guardrails_has_no_guard() -> None:
    config = Route.model_validate({"upstream": "http://127.0.0.1:9"})
    with pytest.raises(ValueError, match="no guardrails"):
        GuardRegistry().guard(config)


# through the gate, with real tokens ------------------------------------------------------------


@pytest.fixture
def env() -> Env:
    return make_env()


@pytest.fixture
def gate(env: Env) -> AuthGate:
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


def target(**guardrails: Any) -> RouteTarget[None]:
    config = Route.model_validate(
        {
            "path": "/api",
            "upstream": "http://127.0.0.1:9",
            "accept": ["bearer"],
            "api": "contoso",
            "rules": [
                {"name": "readers", "allow": {"app_roles": ["Reports.Read.All"]}},
                {"name": "agents", "allow": {"kinds": ["agent"]}},
                {"name": "people", "allow": {"scopes": ["Reports.Read"]}},
            ],
            "guardrails": guardrails or SETTINGS,
        }
    )
    return RouteTarget(0, config, None, compile_route(config, 0, Context()))


def decide(gate: AuthGate, request: RequestHead, route_target: RouteTarget[None]) -> Decision:
    result = gate.check(request, route_target)
    if inspect.isawaitable(result):

        async def wait() -> Decision:
            return await result  # type: ignore[no-any-return]

        return asyncio.run(wait())
    assert isinstance(result, Decision)
    return result


def bearer(tok: str, request: RequestHead) -> RequestHead:
    request.headers.append((b"Authorization", b"Bearer " + tok.encode()))
    return request


APP = token(app_claims())
AGENT_TOKEN = token(agent_claims(roles=["Reports.Read.All"]))
PERSON = token(v2_claims())


@pytest.mark.parametrize("caller", [APP, AGENT_TOKEN], ids=["app", "agent"])
def test_apps_and_agents_are_held_to_the_guardrails(gate: AuthGate, caller: str) -> None:
    api = target()
    allowed = decide(gate, bearer(caller, head()), api)
    assert allowed.allow
    assert allowed.body_guard is gate._guards.guard(api.config).body
    refused(decide(gate, bearer(caller, head("DELETE")), api), Reason.METHOD_NOT_ALLOWED)
    refused(decide(gate, bearer(caller, head()), api), Reason.RATE_LIMITED)


def test_people_on_the_same_route_are_not(gate: AuthGate) -> None:
    api = target()
    for _ in range(3):  # over the rate limit too
        for request in (head("DELETE"), head(path="/api/admin"), head(query=b"?q=drop table")):
            decision = decide(gate, bearer(PERSON, request), api)
            assert decision.allow, decision
            assert decision.body_guard is None  # no body checks either


def test_applies_to_user_holds_people_too(gate: AuthGate) -> None:
    api = target(applies_to=["user"], methods=["GET"])
    refused(decide(gate, bearer(PERSON, head("POST")), api), Reason.METHOD_NOT_ALLOWED)
    assert decide(gate, bearer(APP, head("POST")), api).allow


def test_the_gate_clock_drives_the_rate_limit(gate: AuthGate, env: Env) -> None:
    api = target()
    for _ in range(2):
        assert decide(gate, bearer(APP, head()), api).allow
    denied = refused(decide(gate, bearer(APP, head()), api), Reason.RATE_LIMITED)
    assert denied.subject is not None  # who, for the audit record
    env.now[0] += 5
    assert decide(gate, bearer(APP, head()), api).allow


def test_the_rules_decide_first(gate: AuthGate) -> None:
    api = target()
    stranger = token(app_claims(roles=["Other.Role"]))
    denied = decide(gate, bearer(stranger, head("DELETE")), api)
    assert denied.reason is Reason.INSUFFICIENT_SCOPE  # not the guardrail's 405


def test_a_route_without_guardrails_carries_no_body_guard(gate: AuthGate) -> None:
    config = target().config.model_copy(update={"guardrails": None})
    plain = RouteTarget(0, config, None, compile_route(config, 0, Context()))
    decision = decide(gate, bearer(APP, head("DELETE", path="/api/admin")), plain)
    assert decision.allow
    assert decision.body_guard is None


# the responses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_head", "status", "code", "header"),
    [
        (head("DELETE"), 405, "method-not-allowed", (b"Allow", b"GET, POST")),
        (head(path="/api/admin/x"), 403, "guardrail", None),
        (head("POST", content_length=5000), 413, "body-too-large", None),
    ],
)
def test_each_refusal_is_answered_in_json_with_its_message(
    request_head: RequestHead, status: int, code: str, header: tuple[bytes, bytes] | None
) -> None:
    denied = guard().check(AGENT, request_head, T0)
    assert denied is not None
    response = decision_response(denied, request_head)
    assert response.status == status
    assert response.content_type == b"application/json"
    assert orjson.loads(response.body) == {
        "error": code,
        "message": denied.detail,
        "request_id": RID,
    }
    if header is not None:
        assert header in response.headers


def test_429_carries_retry_after() -> None:
    limited = guard(rate_limit={"requests": 1, "per": 30})
    limited.check(AGENT, head(), T0)
    denied = limited.check(AGENT, head(), T0)
    assert denied is not None
    response = decision_response(denied, head())
    assert response.status == 429
    assert (b"Retry-After", b"30") in response.headers
    assert orjson.loads(response.body)["error"] == "rate-limited"


def test_a_browser_gets_the_message_in_html_escaped() -> None:
    html = guard(deny=[{"path": "/x", "message": "<b>no</b> & never"}])
    denied = html.check(AGENT, head(path="/x"), T0)
    assert denied is not None
    response = decision_response(denied, head(path="/x", accept=b"text/html,*/*"))
    assert response.status == 403
    assert b"&lt;b&gt;no&lt;/b&gt; &amp; never" in response.body
    assert b"<b>" not in response.body
