"""Request smuggling and malformed messages (RFC 9112 sections 2-7, 11.2).

Every case is followed, in the same ``sendall``, by a second request for
``/smuggled-<id>``. The proxy must answer the bad one with an error, close the
connection, and never let the upstream see the smuggled request.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.http.conftest import assert_error_page
from tests.http.rawhttp import Closed, Conn, Response
from tests.http.upstream_app import Upstream
from tests.support.proxy import Proxy

H = "Host: app.test\r\n"
POST = "POST /echo?bad={id} HTTP/1.1\r\n" + H
GET = "GET /echo?bad={id} HTTP/1.1\r\n" + H

# (case id, request bytes, acceptable statuses); ``{id}`` is filled in.
HEAD_CASES = [
    (
        "cl-and-te",
        POST + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        (400,),
    ),
    (
        "te-and-cl",
        POST + "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n",
        (400,),
    ),
    ("duplicate-cl-same", POST + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", (400,)),
    (
        "duplicate-cl-different",
        POST + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        (400,),
    ),
    ("cl-list", POST + "Content-Length: 5, 6\r\n\r\nhello!", (400,)),
    ("cl-not-a-number", POST + "Content-Length: 5a\r\n\r\nhello", (400,)),
    ("cl-plus-sign", POST + "Content-Length: +5\r\n\r\nhello", (400,)),
    ("cl-negative", POST + "Content-Length: -5\r\n\r\nhello", (400,)),
    ("obs-fold", GET + "X-Folded: a\r\n b\r\n\r\n", (400,)),
    ("obs-fold-tab", GET + "X-Folded: a\r\n\tb\r\n\r\n", (400,)),
    ("bare-lf-everywhere", "GET /echo?bad={id} HTTP/1.1\nHost: app.test\n\n", (400,)),
    ("bare-lf-in-headers", GET + "X-A: a\nX-B: b\r\n\r\n", (400,)),
    ("bare-lf-request-line", "GET /echo?bad={id} HTTP/1.1\n" + H + "\r\n", (400,)),
    ("bare-cr", GET + "X-A: a\rX-B: b\r\n\r\n", (400,)),
    ("header-name-at", GET + "X@A: 1\r\n\r\n", (400,)),
    ("space-before-colon", GET + "X-A : 1\r\n\r\n", (400,)),
    ("space-in-name", GET + "X A: 1\r\n\r\n", (400,)),
    ("empty-header-name", GET + ": 1\r\n\r\n", (400,)),
    ("no-colon", GET + "X-A\r\n\r\n", (400,)),
    (
        "leading-space-first-header",
        "GET /echo?bad={id} HTTP/1.1\r\n X-A: 1\r\n" + H + "\r\n",
        (400,),
    ),
    ("nul-in-value", GET + "X-A: a\x00b\r\n\r\n", (400,)),
    ("ctl-in-value", GET + "X-A: a\x01b\r\n\r\n", (400,)),
    ("del-in-value", GET + "X-A: a\x7fb\r\n\r\n", (400,)),
    ("nul-in-target", "GET /echo?bad={id}\x00x HTTP/1.1\r\n" + H + "\r\n", (400,)),
    ("te-gzip", POST + "Transfer-Encoding: gzip\r\n\r\nxxxxx", (400, 501)),
    ("te-chunked-gzip", POST + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", (400, 501)),
    ("te-gzip-chunked", POST + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", (400, 501)),
    (
        "te-chunked-twice",
        POST + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        (400, 501),
    ),
    ("te-identity", POST + "Transfer-Encoding: identity\r\n\r\n", (400, 501)),
    ("te-xchunked", POST + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", (400, 501)),
    (
        "te-on-http10",
        "POST /echo?bad={id} HTTP/1.0\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        (400,),
    ),
    ("missing-host", "GET /echo?bad={id} HTTP/1.1\r\n\r\n", (400,)),
    ("two-hosts", GET + "Host: other.test\r\n\r\n", (400,)),
    ("two-same-hosts", GET + H + "\r\n", (400,)),
    ("host-with-path", "GET /echo?bad={id} HTTP/1.1\r\nHost: app.test/evil\r\n\r\n", (400,)),
    ("host-with-userinfo", "GET /echo?bad={id} HTTP/1.1\r\nHost: user@app.test\r\n\r\n", (400,)),
    ("request-line-extra-token", "GET /echo?bad={id} HTTP/1.1 x\r\n" + H + "\r\n", (400,)),
    ("request-line-no-version", "GET /echo?bad={id}\r\n" + H + "\r\n", (400, 505)),
    ("lowercase-version", "GET /echo?bad={id} http/1.1\r\n" + H + "\r\n", (400, 505)),
]

# The head is fine, the chunked body is not: the head may already be upstream.
CHUNK_CASES = [
    ("chunk-size-not-hex", "zz\r\nhello\r\n0\r\n\r\n"),
    ("chunk-size-negative", "-1\r\nhello\r\n0\r\n\r\n"),
    ("chunk-size-0x-prefix", "0x5\r\nhello\r\n0\r\n\r\n"),
    ("chunk-size-overflow", "1" + "0" * 20 + "\r\nhello\r\n0\r\n\r\n"),
    ("chunk-size-empty", "\r\nhello\r\n0\r\n\r\n"),
    ("chunk-size-space-inside", "5 5\r\nhello\r\n0\r\n\r\n"),
    ("chunk-data-too-long", "5\r\nhelloXX\r\n0\r\n\r\n"),
    ("chunk-bare-lf", "5\nhello\n0\n\n"),
]


def smuggled(tag: str) -> bytes:
    return f"GET /smuggled-{tag} HTTP/1.1\r\nHost: app.test\r\n\r\n".encode()


def send_and_expect_rejection(
    proxy: Proxy, payload: bytes, tag: str, statuses: tuple[int, ...]
) -> Response:
    with Conn(proxy.port, timeout=5) as conn:
        conn.send(payload + smuggled(tag))
        resp = conn.read_response()
        assert_error_page(resp, statuses)
        assert conn.is_closed(5), "the connection must be closed after a malformed request"
    return resp


@pytest.mark.parametrize(("case", "raw", "statuses"), HEAD_CASES, ids=[c[0] for c in HEAD_CASES])
def test_malformed_head_rejected(
    proxy: Proxy, upstream: Upstream, case: str, raw: str, statuses: tuple[int, ...]
) -> None:
    tag = uuid.uuid4().hex[:12]
    send_and_expect_rejection(proxy, raw.replace("{id}", tag).encode("latin-1"), tag, statuses)
    time.sleep(0.1)
    assert not upstream.seen(f"smuggled-{tag}"), (
        "the request after the bad one reached the upstream"
    )
    assert not upstream.seen(f"bad={tag}"), "the malformed request reached the upstream"


@pytest.mark.parametrize(("case", "body"), CHUNK_CASES, ids=[c[0] for c in CHUNK_CASES])
def test_invalid_chunked_body_rejected(
    proxy: Proxy, upstream: Upstream, case: str, body: str
) -> None:
    tag = uuid.uuid4().hex[:12]
    head = POST.replace("{id}", tag) + "Transfer-Encoding: chunked\r\n\r\n"
    send_and_expect_rejection(proxy, (head + body).encode("latin-1"), tag, (400,))
    time.sleep(0.1)
    assert not upstream.seen(f"smuggled-{tag}"), (
        "the request after the bad one reached the upstream"
    )


def test_http2_request_line_gives_505(proxy: Proxy, upstream: Upstream) -> None:
    tag = uuid.uuid4().hex[:12]
    with Conn(proxy.port, timeout=5) as conn:
        conn.send(f"GET /echo?bad={tag} HTTP/2.0\r\n{H}\r\n".encode() + smuggled(tag))
        resp = conn.read_response()
        assert_error_page(resp, 505)
    time.sleep(0.1)
    assert not upstream.seen(tag)


def test_http2_preface_is_refused(proxy: Proxy, upstream: Upstream) -> None:
    before = len(upstream.requests)
    with Conn(proxy.port, timeout=5) as conn:
        conn.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        data = conn.read_to_close(5)
    assert data == b"" or data.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 505 ")), data[:200]
    assert not any(r.method == "PRI" for r in upstream.requests[before:])


@pytest.mark.parametrize("target", ["app.test:443", "127.0.0.1:22"])
def test_connect_is_not_proxied(proxy: Proxy, upstream: Upstream, target: str) -> None:
    with Conn(proxy.port, timeout=5) as conn:
        conn.send(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        resp = conn.read_response()
    assert 400 <= resp.status < 600, resp.status
    assert resp.status in (400, 405, 501), resp.status
    assert not any(r.method == "CONNECT" for r in upstream.requests)


def test_good_request_after_rejections_still_served(proxy: Proxy) -> None:
    with Conn(proxy.port) as conn:
        assert conn.exchange("GET", "/echo?still-fine").status == 200


# -- a request answered without reading its body must not leave the body to be parsed ----------


@pytest.mark.parametrize(
    ("host", "path", "status"),
    [
        ("app.test", "/private/x", 401),
        ("nope.test", "/x", 404),
        ("app.test", "/.portcullis/x", 404),
    ],
)
def test_body_of_a_refused_request_is_never_parsed_as_a_request(
    proxy: Proxy, upstream: Upstream, host: str, path: str, status: int
) -> None:
    tag = uuid.uuid4().hex[:12]
    hidden = smuggled(tag)
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(hidden)}\r\n\r\n"
    with Conn(proxy.port, timeout=5) as conn:
        conn.send(head.encode() + hidden)
        assert conn.read_response().status == status
        try:
            conn.request("GET", f"/echo?next-{tag}")
            following = conn.read_response()
        except (OSError, Closed):
            following = None  # closing instead of draining the body is fine
        if following is not None:
            assert following.json()["target"] == f"/echo?next-{tag}"
    time.sleep(0.1)
    assert not upstream.seen(f"smuggled-{tag}")


def test_chunked_body_of_a_refused_request_is_never_parsed_as_a_request(
    proxy: Proxy, upstream: Upstream
) -> None:
    tag = uuid.uuid4().hex[:12]
    hidden = smuggled(tag)
    body = b"%x\r\n" % len(hidden) + hidden + b"\r\n0\r\n\r\n"
    head = b"POST /private/x HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n"
    with Conn(proxy.port, timeout=5) as conn:
        conn.send(head + body)
        assert conn.read_response().status == 401
        try:
            conn.request("GET", f"/echo?next-{tag}")
            following = conn.read_response()
        except (OSError, Closed):
            following = None
        if following is not None:
            assert following.json()["target"] == f"/echo?next-{tag}"
    time.sleep(0.1)
    assert not upstream.seen(f"smuggled-{tag}")
