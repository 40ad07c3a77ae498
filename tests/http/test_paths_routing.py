"""Path normalization, routing, fail-closed routes and control endpoints (SECURITY.md 18, 19)."""

from __future__ import annotations

import uuid

import pytest

from tests.http.conftest import assert_error_page
from tests.http.rawhttp import fetch
from tests.http.upstream_app import Upstream
from tests.support.proxy import Proxy


def uid() -> str:
    return uuid.uuid4().hex[:12]


# -- normalization ------------------------------------------------------------------------------

NORMALIZED = [
    ("/echo/a/./b/../c", "/echo/a/c"),
    ("//echo///a//b", "/echo/a/b"),
    ("/echo/a/b/%2e%2e/c", "/echo/a/c"),
    ("/echo/a/b/%2E%2E/c", "/echo/a/c"),
    ("/echo/a/%2e/b", "/echo/a/b"),
    ("/echo/%41bc", "/echo/Abc"),
    ("/echo/%7euser/%2D", "/echo/~user/-"),
    ("/echo/a%2Fb", "/echo/a%2Fb"),
    ("/echo/a%20b", "/echo/a%20b"),
    ("/echo/./x/", "/echo/x/"),
    ("/echo/x/..", "/echo/"),
    ("/echo/a/b/../../c", "/echo/c"),
]


@pytest.mark.parametrize(("sent", "forwarded"), NORMALIZED, ids=[n[0] for n in NORMALIZED])
def test_upstream_receives_normalized_path(proxy: Proxy, sent: str, forwarded: str) -> None:
    resp = fetch(proxy.port, "GET", sent)
    assert resp.status == 200, resp.body[:200]
    assert resp.json()["target"] == forwarded


def test_query_string_passed_unchanged(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "GET", "/echo/./q?a=%2F..&b=/../c&c=%41&d=a+b&&e=%2e?x")
    assert resp.json()["target"] == "/echo/q?a=%2F..&b=/../c&c=%41&d=a+b&&e=%2e?x"


def test_malformed_percent_encoding_rejected(proxy: Proxy, upstream: Upstream) -> None:
    tag = uid()
    resp = fetch(proxy.port, "GET", f"/echo/{tag}/%zz")
    assert_error_page(resp, 400)
    assert not upstream.seen(tag)


@pytest.mark.parametrize("path", ["/echo/{tag}/a\\b", "/echo/{tag}/..\\private", "/echo/{tag}/%5C"])
def test_backslash_rejected(proxy: Proxy, upstream: Upstream, path: str) -> None:
    tag = uid()
    resp = fetch(proxy.port, "GET", path.replace("{tag}", tag))
    if "%5C" in path and resp.status == 200:
        assert resp.json()["target"].endswith("%5C")  # an encoded backslash may stay data
        return
    assert_error_page(resp, 400)
    assert not upstream.seen(tag)


def test_encoded_nul_rejected(proxy: Proxy, upstream: Upstream) -> None:
    tag = uid()
    resp = fetch(proxy.port, "GET", f"/echo/{tag}/a%00b")
    assert_error_page(resp, 400)
    assert not upstream.seen(tag)


# -- routing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "upstream_name"),
    [
        ("/api", "api"),
        ("/api/echo", "api"),
        ("/api/", "api"),
        ("/apix", "main"),
        ("/apix/echo", "main"),
        ("/api/../echo", "main"),
        ("/echo/../api/x", "api"),
        ("/%61pi/x", "api"),
        ("//api/x", "api"),
    ],
)
def test_path_prefix_routing_at_segment_boundary(
    proxy: Proxy, target: str, upstream_name: str
) -> None:
    resp = fetch(proxy.port, "GET", target)
    assert resp.status == 200
    assert resp.json()["upstream"] == upstream_name


def test_routing_by_host(proxy: Proxy) -> None:
    assert fetch(proxy.port, "GET", "/only/echo", host="api.test").json()["upstream"] == "api"
    assert fetch(proxy.port, "GET", "/echo", host="APP.TEST").json()["upstream"] == "main"
    assert fetch(proxy.port, "GET", "/echo", host="app.test:8080").json()["upstream"] == "main"


def test_wildcard_host(proxy: Proxy) -> None:
    assert fetch(proxy.port, "GET", "/echo", host="a.wild.test").json()["upstream"] == "api"
    assert fetch(proxy.port, "GET", "/echo", host="x.y.wild.test").json()["upstream"] == "api"
    assert fetch(proxy.port, "GET", "/echo", host="wild.test").status == 404
    assert fetch(proxy.port, "GET", "/echo", host="evilwild.test").status == 404


def test_unmatched_host_gives_404(proxy: Proxy, upstream: Upstream, api_upstream: Upstream) -> None:
    tag = uid()
    resp = fetch(proxy.port, "GET", f"/echo?{tag}", host="nope.test")
    assert_error_page(resp, 404)
    assert not upstream.seen(tag) and not api_upstream.seen(tag)


def test_unmatched_path_gives_404(proxy: Proxy, api_upstream: Upstream) -> None:
    tag = uid()
    resp = fetch(proxy.port, "GET", f"/other?{tag}", host="api.test")
    assert_error_page(resp, 404)
    resp = fetch(proxy.port, "GET", f"/onlyx?{tag}", host="api.test")
    assert_error_page(resp, 404)
    assert not api_upstream.seen(tag)


def test_absolute_form_target_routes_by_its_authority(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "GET", "http://api.test/only/echo", host="api.test")
    assert resp.status == 200
    assert resp.json()["target"] == "/only/echo"


# -- fail closed --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/private",
        "/private/",
        "/private/x",
        "/%70rivate/x",
        "//private/x",
        "/echo/../private/x",
        "/./private/x",
        "/private/%2e%2e/private/x",
        "/echo/%2e%2e/private",
    ],
)
def test_non_public_route_denied_without_sign_in(
    proxy: Proxy, upstream: Upstream, target: str
) -> None:
    tag = uid()
    resp = fetch(proxy.port, "GET", f"{target}?{tag}")
    assert_error_page(resp, 401)
    assert not upstream.seen(tag)


def test_leaving_a_non_public_prefix_is_normal_routing(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "GET", "/private/../echo")
    assert resp.status == 200
    assert resp.json()["target"] == "/echo"


def test_private_route_not_opened_by_trusted_headers(
    trusting_proxy: Proxy, upstream: Upstream
) -> None:
    """SECURITY.md 17: X-Forwarded-Uri and friends never change which rule applies."""
    tag = uid()
    resp = fetch(
        trusting_proxy.port,
        "GET",
        f"/private/x?{tag}",
        headers=[
            ("X-Forwarded-Uri", "/echo"),
            ("X-Original-URL", "/echo"),
            ("X-Forwarded-Prefix", "/"),
        ],
    )
    assert_error_page(resp, 401)
    assert not upstream.seen(tag)


# -- control endpoints --------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["app.test", "nope.test", "api.test", "127.0.0.1"])
def test_healthz_on_any_host(
    proxy: Proxy, upstream: Upstream, api_upstream: Upstream, host: str
) -> None:
    before = len(upstream.requests) + len(api_upstream.requests)
    resp = fetch(proxy.port, "GET", "/.portcullis/healthz", host=host)
    assert resp.status == 200
    assert resp.body.strip() == b"ok"
    assert len(upstream.requests) + len(api_upstream.requests) == before


def test_readyz(proxy: Proxy, upstream: Upstream) -> None:
    resp = fetch(proxy.port, "GET", "/.portcullis/readyz")
    assert resp.status == 200
    assert not upstream.seen(".portcullis")


def test_healthz_head(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "HEAD", "/.portcullis/healthz")
    assert resp.status == 200


def test_unknown_control_endpoint_is_404_not_proxied(proxy: Proxy, upstream: Upstream) -> None:
    for target in ("/.portcullis/x", "/.portcullis/", "/%2Eportcullis/x", "/echo/../.portcullis/x"):
        resp = fetch(proxy.port, "GET", target)
        assert_error_page(resp, 404)
    assert not upstream.seen(".portcullis")
    assert not upstream.seen("%2Eportcullis")


def test_control_endpoint_is_not_a_route_bypass(proxy: Proxy, upstream: Upstream) -> None:
    """SECURITY.md 19: the health endpoint grants nothing beyond itself."""
    tag = uid()
    resp = fetch(proxy.port, "GET", f"/.portcullis/healthz/../../private/x?{tag}")
    assert resp.status in (401, 404)
    assert not upstream.seen(tag)
