"""Header hygiene: hop-by-hop removal, forwarding headers, request ids (SECURITY.md 16, 17)."""

from __future__ import annotations

import uuid

from tests.http.rawhttp import Conn, fetch
from tests.http.upstream_app import Upstream
from tests.support.proxy import Proxy

CLIENT_HOP_HEADERS = [
    ("Connection", "keep-alive, X-Custom-Hop, X-Other-Hop"),
    ("X-Custom-Hop", "must-not-pass"),
    ("X-Other-Hop", "must-not-pass"),
    ("Keep-Alive", "timeout=99"),
    ("TE", "trailers"),
    ("Trailer", "X-Checksum"),
    ("Upgrade", "h2c"),
    ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"),
    ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
    ("Proxy-Connection", "keep-alive"),
    ("X-End-To-End", "kept"),
]


def names(headers: list[list[str]]) -> set[str]:
    return {n.lower() for n, _ in headers}


def test_hop_by_hop_request_headers_removed(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "GET", "/echo?hop", headers=CLIENT_HOP_HEADERS)
    seen = resp.json()["headers"]
    present = names(seen)
    for gone in (
        "x-custom-hop",
        "x-other-hop",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "http2-settings",
        "proxy-authorization",
        "proxy-connection",
    ):
        assert gone not in present, f"{gone} was forwarded: {seen}"
    for value in resp.echo_header_all("connection"):
        tokens = {t.strip().lower() for t in value.split(",")}
        assert tokens <= {"keep-alive", "close"}, f"client Connection tokens forwarded: {value}"
    assert resp.echo_header("x-end-to-end") == "kept"


def test_hop_by_hop_response_headers_removed(conn: Conn) -> None:
    resp = conn.exchange("GET", "/hop-response")
    assert resp.body == b"hop"
    assert resp.header("x-end-to-end") == "kept"
    for gone in ("x-resp-hop", "proxy-connection", "trailer", "upgrade"):
        assert resp.header(gone) is None, f"{gone} reached the client: {resp.headers}"
    assert "77" not in (resp.header("keep-alive") or ""), "upstream Keep-Alive forwarded"
    for value in resp.header_all("connection"):
        assert "x-resp-hop" not in value.lower()
    assert conn.exchange("GET", "/echo?after-hop").status == 200


def test_forwarding_headers_added(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "GET", "/echo?fwd")
    assert resp.echo_header_all("x-forwarded-for") == ["127.0.0.1"]
    assert resp.echo_header_all("x-forwarded-proto") == ["http"]
    assert resp.echo_header_all("x-forwarded-host") == ["app.test"]
    assert len(resp.echo_header_all("x-request-id")) == 1
    assert resp.echo_header("x-request-id")


def test_client_forwarding_headers_replaced_when_untrusted(proxy: Proxy) -> None:
    resp = fetch(
        proxy.port,
        "GET",
        "/echo?spoof",
        headers=[
            ("X-Forwarded-For", "1.2.3.4"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Request-Id", "client-chosen-id"),
            ("x-forwarded-for", "5.6.7.8"),
            ("X_Forwarded_For", "9.9.9.9"),
            ("Forwarded", "for=1.2.3.4;proto=https"),
            ("X-Real-IP", "1.2.3.4"),
        ],
    )
    assert resp.echo_header_all("x-forwarded-for") == ["127.0.0.1"]
    assert resp.echo_header_all("x-forwarded-proto") == ["http"]
    assert resp.echo_header_all("x-forwarded-host") == ["app.test"]
    request_ids = resp.echo_header_all("x-request-id")
    assert len(request_ids) == 1 and request_ids[0] != "client-chosen-id"
    assert resp.header("x-request-id") == request_ids[0]
    seen = names(resp.json()["headers"])
    assert "x_forwarded_for" not in seen
    assert "forwarded" not in seen
    assert "x-real-ip" not in seen


def test_client_forwarding_headers_kept_when_trusted(trusting_proxy: Proxy) -> None:
    resp = fetch(
        trusting_proxy.port,
        "GET",
        "/echo?trusted",
        headers=[
            ("X-Forwarded-For", "1.2.3.4"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "public.example"),
            ("X-Request-Id", "front-proxy-id-42"),
        ],
    )
    assert resp.echo_header_all("x-forwarded-for") == ["1.2.3.4, 127.0.0.1"]
    assert resp.echo_header_all("x-forwarded-proto") == ["https"]
    assert resp.echo_header_all("x-forwarded-host") == ["public.example"]
    assert resp.echo_header_all("x-request-id") == ["front-proxy-id-42"]
    assert resp.header("x-request-id") == "front-proxy-id-42"


def test_trusted_proxy_without_forwarding_headers(trusting_proxy: Proxy) -> None:
    resp = fetch(trusting_proxy.port, "GET", "/echo?trusted-bare")
    assert resp.echo_header_all("x-forwarded-for") == ["127.0.0.1"]
    assert resp.echo_header_all("x-forwarded-proto") == ["http"]
    assert resp.echo_header_all("x-forwarded-host") == ["app.test"]


def test_response_request_id_matches_forwarded_one_and_is_unique(conn: Conn) -> None:
    ids = []
    for _ in range(3):
        resp = conn.exchange("GET", "/echo?rid")
        forwarded = resp.echo_header("x-request-id")
        assert forwarded
        assert resp.header("x-request-id") == forwarded
        ids.append(forwarded)
    assert len(set(ids)) == 3


def test_error_pages_carry_a_request_id(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "GET", "/nothing", host="nope.test")
    assert resp.status == 404
    assert resp.header("x-request-id")


def test_client_identity_headers_stripped(proxy: Proxy) -> None:
    """SECURITY.md 16: case and underscore variants included."""
    resp = fetch(
        proxy.port,
        "GET",
        "/echo?identity",
        headers=[
            ("X-Forwarded-Email", "admin@example.com"),
            ("X_Forwarded_Email", "admin@example.com"),
            ("x-forwarded-user", "admin"),
            ("X-Forwarded-Groups", "admins"),
            ("Remote-User", "admin"),
            ("X_Remote_User", "admin"),
            ("X-Portcullis-User", "admin"),
        ],
    )
    seen = {n.lower().replace("_", "-") for n, _ in resp.json()["headers"]}
    for gone in (
        "x-forwarded-email",
        "x-forwarded-user",
        "x-forwarded-groups",
        "remote-user",
        "x-remote-user",
        "x-portcullis-user",
    ):
        assert gone not in seen, f"client-supplied {gone} forwarded"


def test_host_preserved_by_default(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "GET", "/echo?host", host="app.test")
    assert resp.echo_header_all("host") == ["app.test"]


def test_host_rewritten_without_preserve_host(proxy: Proxy, upstream: Upstream) -> None:
    resp = fetch(proxy.port, "GET", "/echo?rewrite", host="rewrite.test")
    assert resp.echo_header_all("host") == [f"127.0.0.1:{upstream.port}"]
    assert resp.echo_header_all("x-forwarded-host") == ["rewrite.test"]


def test_end_to_end_headers_and_order_kept(proxy: Proxy) -> None:
    resp = fetch(
        proxy.port,
        "GET",
        "/echo?e2e",
        headers=[("Accept", "text/html"), ("X-Multi", "1"), ("Cookie", "a=b"), ("X-Multi", "2")],
    )
    assert resp.echo_header_all("x-multi") == ["1", "2"]
    assert resp.echo_header("cookie") == "a=b"
    assert resp.echo_header("accept") == "text/html"


def test_unusable_request_id_from_trusted_proxy_replaced(trusting_proxy: Proxy) -> None:
    for bad in ("x" * 300, "has space", 'quote"d'):
        resp = fetch(trusting_proxy.port, "GET", "/echo?bad-rid", headers=[("X-Request-Id", bad)])
        forwarded = resp.echo_header_all("x-request-id")
        assert len(forwarded) == 1 and forwarded[0] != bad
        assert resp.header("x-request-id") == forwarded[0]


def test_forwarded_request_head_is_well_formed(proxy: Proxy, upstream: Upstream) -> None:
    """What actually went upstream, byte for byte: one framing, CRLF only, HTTP/1.1."""
    tag = "raw-" + uuid.uuid4().hex[:8]
    with Conn(proxy.port) as conn:
        conn.send(
            b"POST /echo?" + tag.encode() + b" HTTP/1.1\r\nHost: app.test\r\n"
            b"Transfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        )
        assert conn.read_response().json()["body_length"] == 5
    seen = upstream.wait_seen(tag)
    raw = seen.raw_head
    assert raw.startswith(f"POST /echo?{tag} HTTP/1.1\r\n".encode())
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    framing = [
        (n.lower(), v)
        for n, v in seen.headers
        if n.lower() in ("content-length", "transfer-encoding")
    ]
    assert framing == [("transfer-encoding", "chunked")], seen.headers
    assert seen.header_all("host") == ["app.test"]
    assert seen.body == b"hello"
