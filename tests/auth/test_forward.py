"""Forward-auth (``/.portcullis/auth``) against the real gate, router and session cache.

The handler runs in-process with the production :class:`AuthGate` (memory sessions, real
cookie codec, real identity headers and assertion signer) and :class:`Router`; each test
describes an original request the way nginx, Traefik/Caddy or Envoy would, and reads the
answer the front proxy would act on.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from portcullis.assertion import AssertionSigner, generate_key
from portcullis.auth.forward import (
    ENVOY_AUTH_PREFIX,
    LOGIN_HEADER,
    ForwardAuth,
    Style,
    TargetError,
    read_target,
)
from portcullis.auth.gate import SESSION_PURPOSE, AuthGate
from portcullis.auth.upstream_headers import IdentityHeaderBuilder
from portcullis.config.auth_schema import IdentityHeaders, SessionSettings
from portcullis.config.schema import Route
from portcullis.decision import Decision, Gate, Reason
from portcullis.http.headers import TrustedProxies
from portcullis.http.pages import LocalResponse
from portcullis.http.paths import normalize_request_path
from portcullis.http.request import RequestHead
from portcullis.identity import Identity
from portcullis.routing import Router, RouteTarget
from portcullis.session.cache import CachedStore
from portcullis.session.cookie import CookieCodec
from portcullis.session.memory import MemoryStore
from portcullis.session.model import new_session
from tests.support.heads import request_head

NOW = 1_700_000_000.0
HOST = "intranet.example"
PROXY_IP = "10.0.0.5"
ROUTES = [
    {"host": HOST, "path": "/admin", "upstream": "http://app:8080", "allow": {"roles": ["Admin"]}},
    {"host": HOST, "path": "/public", "upstream": "http://app:8080", "public": True},
    {"host": HOST, "path": "/api", "upstream": "http://api:8080", "accept": ["bearer"], "api": "x"},
    {"host": HOST, "path": "/", "upstream": "http://app:8080"},
]
ALICE = Identity(
    issuer="https://idp.example",
    subject="alice",
    tenant_id="11111111-1111-1111-1111-111111111111",
    object_id="22222222-2222-2222-2222-222222222222",
    roles=("Admin",),
)
BOB = Identity(issuer="https://idp.example", subject="bob")


@dataclass
class State:
    router: Router[Any]
    gate: Gate
    trusted: TrustedProxies = field(default_factory=lambda: TrustedProxies(["10.0.0.0/24"]))
    strip_headers: frozenset[bytes] = frozenset(
        name.lower().encode() for name in IdentityHeaders().model_dump().values()
    )


@dataclass
class World:
    codec: CookieCodec
    inner: MemoryStore
    store: CachedStore
    state: State
    cookies: dict[str, bytes]
    recorded: list[tuple[RequestHead, Any, Decision, int]] = field(default_factory=list)

    def handler(self) -> ForwardAuth:
        return ForwardAuth(lambda: self.state, self.record)

    def record(
        self, head: RequestHead, route: Any, decision: Decision, status: int, took: float
    ) -> None:
        assert 0 <= took < 5
        self.recorded.append((head, route, decision, status))


def clock() -> float:
    return NOW


async def _world() -> World:
    codec = CookieCodec([b"k" * 32])
    inner = MemoryStore(clock)
    store = CachedStore(inner, clock=clock)
    signer = AssertionSigner([generate_key()], issuer="https://intranet.example")
    gate = AuthGate(
        codec=codec,
        store=store,
        settings=SessionSettings.model_validate({"keys": [{"value": "s" * 32}]}),
        cookie="portcullis",
        strip_cookies=("portcullis",),
        headers=IdentityHeaderBuilder(IdentityHeaders(), signer),
        validators={},
        clock=clock,
    )
    routes = [Route.model_validate(r) for r in ROUTES]
    cookies = {}
    for name, identity in (("alice", ALICE), ("bob", BOB)):
        session = new_session(identity, provider="default", now=NOW, absolute_timeout=3600)
        await store.put(session, ttl=3600)
        sealed = codec.seal(session.id.encode(), purpose=SESSION_PURPOSE)
        cookies[name] = b"portcullis=" + sealed.encode()
    return World(codec, inner, store, State(Router(routes, lambda r: None), gate), cookies)


@pytest.fixture
def world() -> World:
    return asyncio.run(_world())


def head(
    *headers: tuple[bytes, bytes],
    path: str = "/.portcullis/auth",
    query: bytes = b"",
    method: str = "GET",
    client_ip: str = PROXY_IP,
    accept: bytes = b"text/html",
    host: bytes = b"portcullis.internal:4180",
) -> RequestHead:
    return request_head(
        method,
        path,
        query,
        host=host.split(b":")[0].decode(),
        authority=host,
        headers=[(b"Accept", accept), *headers],
        client_ip=client_ip,
        accept=accept,
    )


def traefik(uri: bytes, *, method: bytes = b"GET", host: bytes = HOST.encode()) -> list[Any]:
    return [
        (b"X-Forwarded-Method", method),
        (b"X-Forwarded-Proto", b"https"),
        (b"X-Forwarded-Host", host),
        (b"X-Forwarded-Uri", uri),
    ]


def nginx(url: bytes, *, method: bytes = b"GET") -> list[Any]:
    return [(b"X-Original-URL", url), (b"X-Original-Method", method)]


def ask(world: World, request: RequestHead) -> LocalResponse:
    result = world.handler()(request, b"")
    if inspect.isawaitable(result):

        async def wait() -> LocalResponse:
            return await result

        return asyncio.run(wait())
    assert isinstance(result, LocalResponse)
    return result


def headers_of(response: LocalResponse) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in response.headers}


def cookie(world: World, user: str) -> tuple[bytes, bytes]:
    return (b"Cookie", b"theme=dark; " + world.cookies[user])


def login_rd(location: bytes) -> str:
    parts = urlsplit(location.decode())
    assert parts.path == "/.portcullis/login"
    return parse_qs(parts.query)["rd"][0]


# trusted callers, each convention ------------------------------------------------------------
def test_traefik_signed_in_with_role_gets_200_and_identity_headers(world: World) -> None:
    response = ask(world, head(*traefik(b"/admin/x?y=1"), cookie(world, "alice")))
    assert response.status == 200
    got = headers_of(response)
    assert got[b"x-portcullis-user"] == ALICE.key.encode()
    assert got[b"x-portcullis-roles"] == b"Admin"
    assert got[b"x-portcullis-assertion"].count(b".") == 2


def test_nginx_signed_in_with_role_gets_200(world: World) -> None:
    request = head(*nginx(b"https://intranet.example/admin/page"), cookie(world, "alice"))
    response = ask(world, request)
    assert response.status == 200
    assert headers_of(response)[b"x-portcullis-user"] == ALICE.key.encode()


def test_envoy_check_path_decides_the_original_path(world: World) -> None:
    request = head(
        cookie(world, "alice"),
        path=ENVOY_AUTH_PREFIX + "/admin/page",
        query=b"?a=1",
        host=HOST.encode(),
    )
    assert ask(world, request).status == 200
    bob = head(cookie(world, "bob"), path=ENVOY_AUTH_PREFIX + "/admin/page", host=HOST.encode())
    assert ask(world, bob).status == 403


def test_same_answer_as_the_cached_fast_path_when_the_session_is_not_cached(
    world: World,
) -> None:
    """A session only in the store (cache miss): the gate awaits, the answer is the same."""
    world.store.clear()
    response = ask(world, head(*traefik(b"/admin"), cookie(world, "alice")))
    assert response.status == 200
    assert headers_of(response)[b"x-portcullis-user"] == ALICE.key.encode()


def test_public_route_allowed_with_every_identity_header_empty(world: World) -> None:
    """Empty, not absent: a front proxy copying them overwrites what the client sent."""
    response = ask(world, head(*traefik(b"/public/logo.png"), cookie(world, "alice")))
    assert response.status == 200
    got = headers_of(response)
    assert set(got) == set(world.state.strip_headers)
    assert set(got.values()) == {b""}


def test_identity_fields_the_user_lacks_are_sent_empty(world: World) -> None:
    got = headers_of(ask(world, head(*traefik(b"/x"), cookie(world, "bob"))))
    assert got[b"x-portcullis-user"] == BOB.key.encode()
    assert got[b"x-portcullis-email"] == b""
    assert set(got) == set(world.state.strip_headers)


# denials -------------------------------------------------------------------------------------
def test_role_missing_is_403_in_both_styles(world: World) -> None:
    assert ask(world, head(*traefik(b"/admin"), cookie(world, "bob"))).status == 403
    request = head(*nginx(b"https://intranet.example/admin"), cookie(world, "bob"))
    assert ask(world, request).status == 403


def test_anonymous_browser_traefik_gets_302_to_sign_in_with_rd(world: World) -> None:
    response = ask(world, head(*traefik(b"/admin/x?y=1")))
    assert response.status == 302
    assert login_rd(headers_of(response)[b"location"]) == "/admin/x?y=1"


def test_anonymous_browser_nginx_gets_401_naming_the_sign_in_url(world: World) -> None:
    response = ask(world, head(*nginx(b"https://intranet.example/admin/x?y=1&z=2")))
    assert response.status == 401
    assert login_rd(headers_of(response)[LOGIN_HEADER.lower()]) == "/admin/x?y=1&z=2"


def test_anonymous_api_client_nginx_gets_401_without_login_url(world: World) -> None:
    request = head(*nginx(b"https://intranet.example/x"), accept=b"application/json")
    response = ask(world, request)
    assert response.status == 401
    assert LOGIN_HEADER.lower() not in headers_of(response)


def test_anonymous_envoy_gets_302(world: World) -> None:
    request = head(path=ENVOY_AUTH_PREFIX + "/x", host=HOST.encode())
    response = ask(world, request)
    assert response.status == 302
    assert login_rd(headers_of(response)[b"location"]) == "/x"


@pytest.mark.parametrize(
    ("query", "convention", "status"),
    [
        (b"?mode=status", traefik(b"/x"), 401),
        (b"?mode=redirect", nginx(b"https://intranet.example/x"), 302),
    ],
)
def test_mode_parameter_overrides_the_style(
    world: World, query: bytes, convention: list[Any], status: int
) -> None:
    assert ask(world, head(*convention, query=query)).status == status


@pytest.mark.parametrize("query", [b"?mode=other", b"?x=1", b"?mode=status&mode=redirect"])
def test_unknown_query_on_the_auth_url_is_refused(world: World, query: bytes) -> None:
    assert ask(world, head(*traefik(b"/public"), query=query)).status == 403


@pytest.mark.parametrize("convention", [traefik(b"/api/r"), nginx(b"https://intranet.example/api")])
def test_bearer_route_without_token_is_401_with_challenge(
    world: World, convention: list[Any]
) -> None:
    response = ask(world, head(*convention, accept=b"application/json"))
    assert response.status == 401
    assert headers_of(response)[b"www-authenticate"].startswith(b"Bearer ")


def test_unknown_host_is_403(world: World) -> None:
    assert ask(world, head(*traefik(b"/public", host=b"other.example"))).status == 403


# trust ---------------------------------------------------------------------------------------
def test_untrusted_caller_is_403_whatever_it_describes(world: World) -> None:
    request = head(*traefik(b"/public"), cookie(world, "alice"), client_ip="192.0.2.9")
    assert ask(world, request).status == 403
    request = head(*nginx(b"https://intranet.example/public"), client_ip="192.0.2.9")
    assert ask(world, request).status == 403


def test_no_trusted_proxies_configured_means_nobody_may_ask(world: World) -> None:
    world.state.trusted = TrustedProxies([])
    assert ask(world, head(*traefik(b"/public"))).status == 403


def test_the_auth_url_itself_is_never_the_target(world: World) -> None:
    """A trusted caller that describes nothing gets 403, not a decision on /.portcullis/auth."""
    assert ask(world, head(cookie(world, "alice"))).status == 403


# hostile descriptions --------------------------------------------------------------------------
HOSTILE: list[tuple[str, Sequence[tuple[bytes, bytes]]]] = [
    ("relative", traefik(b"admin")),
    ("absolute URL in X-Forwarded-Uri", traefik(b"https://intranet.example/public")),
    ("CRLF", traefik(b"/public\r\nX-Portcullis-User: admin")),
    ("LF", traefik(b"/public\nx")),
    ("space", traefik(b"/public /admin")),
    ("NUL", traefik(b"/public%00")),
    ("backslash", traefik(b"/public\\..\\admin")),
    ("huge", traefik(b"/public/" + b"a" * 9000)),
    ("empty", traefik(b"")),
    ("repeated uri", [*traefik(b"/public"), (b"X-Forwarded-Uri", b"/admin")]),
    ("both conventions", [*traefik(b"/public"), *nginx(b"https://intranet.example/public")]),
    ("nginx relative", nginx(b"/public")),
    ("nginx other scheme", nginx(b"javascript://intranet.example/public")),
    ("nginx userinfo", nginx(b"https://x@intranet.example/public")),
    ("nginx no host", nginx(b"https:///public")),
    ("bad host", traefik(b"/public", host=b"intranet.example, evil.example")),
    ("bad port", traefik(b"/public", host=b"intranet.example:x")),
    ("bad method", traefik(b"/public", method=b"GET /admin")),
    ("bad proto", [(b"X-Forwarded-Proto", b"gopher"), *traefik(b"/public")[2:]]),
    ("portcullis endpoint", traefik(b"/.portcullis/login")),
    ("portcullis endpoint by dots", traefik(b"/public/../.portcullis/jwks.json")),
]


@pytest.mark.parametrize(("name", "headers"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_descriptions_are_403(
    world: World, name: str, headers: Sequence[tuple[bytes, bytes]]
) -> None:
    response = ask(world, head(*headers, cookie(world, "alice")))
    assert response.status == 403
    assert not any(n.lower().startswith(b"x-portcullis-") for n, _ in response.headers)


def test_envoy_check_carrying_forwarded_uri_is_refused(world: World) -> None:
    request = head(
        (b"X-Forwarded-Uri", b"/public"), path=ENVOY_AUTH_PREFIX + "/admin", host=HOST.encode()
    )
    assert ask(world, request).status == 403


@pytest.mark.parametrize(
    "uri",
    [b"/public/../admin", b"/public/%2e%2e/admin", b"//public/./../admin", b"/Public/../admin"],
)
def test_traversal_is_decided_on_the_normalized_path(world: World, uri: bytes) -> None:
    """``/public/../admin`` is ``/admin``: Bob is refused, an anonymous browser signs in."""
    assert ask(world, head(*traefik(uri), cookie(world, "bob"))).status == 403
    response = ask(world, head(*traefik(uri)))
    assert response.status == 302
    assert login_rd(headers_of(response)[b"location"]) == "/admin"


def test_query_and_fragment_do_not_change_the_route(world: World) -> None:
    for uri in (b"/admin?/public", b"/admin#/public", b"/admin?x=/../public"):
        assert ask(world, head(*traefik(uri), cookie(world, "bob"))).status == 403


# the path the server hands to the Envoy endpoint ------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        (ENVOY_AUTH_PREFIX + "/public/../admin", ENVOY_AUTH_PREFIX + "/admin"),
        (ENVOY_AUTH_PREFIX + "/../../healthz", ENVOY_AUTH_PREFIX + "/healthz"),
        (ENVOY_AUTH_PREFIX + "/%2e%2e/%2e%2e/%2e%2e/x", ENVOY_AUTH_PREFIX + "/x"),
        ("/.portcullis/auth/../healthz", "/.portcullis/healthz"),
    ],
)
def test_envoy_original_path_cannot_climb_out_of_the_prefix(raw: str, normalized: str) -> None:
    assert normalize_request_path(raw) == normalized


# failures never allow ---------------------------------------------------------------------------
class _Failing:
    def __init__(self, *, awaitable: bool) -> None:
        self.awaitable = awaitable

    def check(self, request: RequestHead, route: RouteTarget[Any]) -> Decision | Any:
        if not self.awaitable:
            raise RuntimeError("boom")

        async def later() -> Decision:
            raise RuntimeError("boom")

        return later()


@pytest.mark.parametrize("awaitable", [False, True])
def test_a_failing_gate_denies(world: World, awaitable: bool) -> None:
    world.state.gate = _Failing(awaitable=awaitable)
    assert ask(world, head(*traefik(b"/public"))).status == 403


class _Recording:
    def __init__(self) -> None:
        self.asked: list[RequestHead] = []

    def check(self, request: RequestHead, route: RouteTarget[Any]) -> Decision:
        self.asked.append(request)
        return Decision(True, Reason.SIGNED_IN, "")


def test_the_gate_sees_the_client_the_trusted_proxy_forwarded_for(world: World) -> None:
    """``source_ip`` (policy, guardrails, audit) is the original client, as when proxying,
    never the front proxy's own address."""
    gate = world.state.gate = _Recording()
    request = head(*traefik(b"/admin"))
    request.forwarded_for = "203.0.113.9"
    assert ask(world, request).status == 200
    assert [asked.source_ip for asked in gate.asked] == ["203.0.113.9"]


def test_read_target_reports_the_convention() -> None:
    target, style = read_target(head(*nginx(b"HTTPS://Intranet.Example:8443/a/./b?q#f")))
    assert (target.scheme, target.host, target.path, target.query) == (
        "https",
        "intranet.example",
        "/a/b",
        b"?q",
    )
    assert style is Style.STATUS
    target, style = read_target(head(*traefik(b"/c", method=b"DELETE")))
    assert (target.method, target.scheme, style) == ("DELETE", "https", Style.REDIRECT)
    with pytest.raises(TargetError):
        read_target(head())


# every answer is recorded (metrics, audit) -----------------------------------------------------
def test_each_answer_is_recorded_for_the_original_request(world: World) -> None:
    ask(world, head(*nginx(b"https://intranet.example/admin/page?q=1"), cookie(world, "alice")))
    ask(world, head(*traefik(b"/admin", method=b"DELETE"), cookie(world, "bob")))
    ask(world, head(*traefik(b"/public", host=b"other.example")))
    ask(world, head(*traefik(b"/public"), client_ip="192.0.2.9"))
    got = [
        (h.method, h.path, h.source_ip, None if r is None else r.config.path, d.allow, d.reason, s)
        for h, r, d, s in world.recorded
    ]
    assert got == [
        ("GET", "/admin/page", PROXY_IP, "/admin", True, Reason.SIGNED_IN, 200),
        ("DELETE", "/admin", PROXY_IP, "/admin", False, Reason.FORBIDDEN, 403),
        ("GET", "/public", PROXY_IP, None, False, Reason.FORBIDDEN, 403),
        # Not a trusted proxy: the request recorded is the auth request itself.
        ("GET", "/.portcullis/auth", "192.0.2.9", None, False, Reason.FORBIDDEN, 403),
    ]
    assert world.recorded[-1][2].detail == "Only a trusted front proxy may ask."
