"""Message exchange: keep-alive, pipelining, HTTP/1.0, HEAD, 1xx, 204/304, Expect.

RFC 9110 and RFC 9112.
"""

from __future__ import annotations

import threading
import time
import uuid

from tests.http.rawhttp import Conn, fetch, request_bytes
from tests.http.upstream_app import Upstream
from tests.support.proxy import Proxy


def uid() -> str:
    return uuid.uuid4().hex[:12]


# -- keep-alive ---------------------------------------------------------------------------------


def test_several_requests_on_one_client_connection(conn: Conn) -> None:
    for i in range(5):
        resp = conn.exchange("GET", f"/echo?ka={i}")
        assert resp.status == 200
        assert resp.json()["target"] == f"/echo?ka={i}"
        assert not resp.has_token("connection", "close")
    assert not conn.is_closed(0.3)


def test_upstream_connections_are_reused(proxy: Proxy, upstream: Upstream) -> None:
    with Conn(proxy.port) as c:
        assert c.exchange("GET", "/echo?warm").status == 200
    before = upstream.connections_opened
    with Conn(proxy.port) as c:
        for i in range(4):
            assert c.exchange("GET", f"/echo?reuse-same={i}").status == 200
    for i in range(4):
        with Conn(proxy.port) as c:
            assert c.exchange("GET", f"/echo?reuse-fresh={i}").status == 200
    opened = upstream.connections_opened - before
    assert opened <= 1, f"8 sequential requests opened {opened} upstream connections"


def test_request_with_connection_close_gets_response_then_close(conn: Conn) -> None:
    resp = conn.exchange("GET", "/echo", headers=[("Connection", "close")])
    assert resp.status == 200
    assert resp.has_token("connection", "close")
    assert conn.is_closed(5)


# -- pipelining ---------------------------------------------------------------------------------


def test_pipelined_requests_answered_in_order(conn: Conn) -> None:
    tag = uid()
    conn.send(
        request_bytes("GET", f"/echo?p=1-{tag}")
        + request_bytes("POST", f"/upload?p=2-{tag}", body=b"x" * 3000)
        + request_bytes("GET", f"/echo?p=3-{tag}")
    )
    first = conn.read_response()
    second = conn.read_response()
    third = conn.read_response()
    assert first.json()["target"] == f"/echo?p=1-{tag}"
    assert second.json()["length"] == 3000
    assert third.json()["target"] == f"/echo?p=3-{tag}"


def test_pipelined_slow_request_still_answered_first(conn: Conn) -> None:
    tag = uid()
    conn.send(
        request_bytes("GET", f"/slow?delay=0.5&p=1-{tag}")
        + request_bytes("GET", f"/echo?p=2-{tag}")
        + request_bytes("HEAD", f"/echo?p=3-{tag}")
        + request_bytes("GET", f"/echo?p=4-{tag}")
    )
    assert conn.read_response().json()["target"] == f"/slow?delay=0.5&p=1-{tag}"
    assert conn.read_response().json()["target"] == f"/echo?p=2-{tag}"
    head = conn.read_response("HEAD")
    assert head.status == 200 and head.body == b""
    assert conn.read_response().json()["target"] == f"/echo?p=4-{tag}"


# -- HTTP/1.0 -----------------------------------------------------------------------------------


def test_http10_request_is_answered_then_closed(conn: Conn) -> None:
    resp = conn.exchange("GET", "/echo?v10", version="HTTP/1.0")
    assert resp.status == 200
    assert resp.json()["target"] == "/echo?v10"
    assert conn.is_closed(5)


def test_http10_keep_alive_is_honoured(conn: Conn) -> None:
    ka = [("Connection", "keep-alive")]
    first = conn.exchange("GET", "/echo?ka10=1", version="HTTP/1.0", headers=ka)
    assert first.status == 200
    assert first.framing == "length"
    assert first.has_token("connection", "keep-alive"), first.headers
    second = conn.exchange("GET", "/echo?ka10=2", version="HTTP/1.0", headers=ka)
    assert second.json()["target"] == "/echo?ka10=2"


def test_http10_client_gets_chunked_upstream_body_unchunked(conn: Conn) -> None:
    resp = conn.exchange("GET", "/chunked?parts=5", version="HTTP/1.0")
    assert resp.status == 200
    assert resp.header("transfer-encoding") is None, resp.headers
    assert resp.body == b"".join(f"part-{i}\n".encode() for i in range(5))
    assert conn.eof or conn.is_closed(5)


def test_http10_client_gets_close_delimited_body(conn: Conn) -> None:
    resp = conn.exchange("GET", "/close-delimited?size=5000", version="HTTP/1.0")
    assert resp.status == 200
    assert resp.header("transfer-encoding") is None, resp.headers
    assert resp.body == b"c" * 5000


def test_http10_keep_alive_client_with_chunked_upstream(conn: Conn) -> None:
    resp = conn.exchange(
        "GET", "/chunked?parts=3", version="HTTP/1.0", headers=[("Connection", "keep-alive")]
    )
    assert resp.header("transfer-encoding") is None, resp.headers
    assert resp.body == b"part-0\npart-1\npart-2\n"


def test_http11_client_gets_close_delimited_upstream_body(conn: Conn) -> None:
    resp = conn.exchange("GET", "/close-delimited?size=7000")
    assert resp.status == 200
    assert resp.body == b"c" * 7000


# -- HEAD ---------------------------------------------------------------------------------------


def test_head_has_headers_no_body_and_connection_stays_usable(conn: Conn) -> None:
    resp = conn.exchange("HEAD", "/big?size=5000")
    assert resp.status == 200
    assert resp.header("content-length") == "5000"
    after = conn.exchange("GET", "/echo?after-head")
    assert after.json()["target"] == "/echo?after-head"


def test_head_of_chunked_resource(conn: Conn) -> None:
    resp = conn.exchange("HEAD", "/chunked?parts=3")
    assert resp.status == 200
    after = conn.exchange("GET", "/echo?after-head-chunked")
    assert after.json()["target"] == "/echo?after-head-chunked"


def test_head_is_forwarded_as_head(conn: Conn, upstream: Upstream) -> None:
    tag = uid()
    assert conn.exchange("HEAD", f"/echo?{tag}").status == 200
    assert upstream.wait_seen(tag).method == "HEAD"


# -- 1xx, 204, 304 ------------------------------------------------------------------------------


def test_103_early_hints_forwarded_to_http11_client(conn: Conn) -> None:
    resp = conn.exchange("GET", "/early-hints")
    assert [i.status for i in resp.interim] == [103]
    assert resp.interim[0].header("link") == "</style.css>; rel=preload"
    assert resp.status == 200
    assert conn.exchange("GET", "/echo?after-103").status == 200


def test_1xx_not_sent_to_http10_client(conn: Conn) -> None:
    conn.request("GET", "/early-hints", version="HTTP/1.0")
    head = conn.read_head()
    assert head.status == 200, "a 1xx must not be sent to an HTTP/1.0 client"


def test_204_has_no_body(conn: Conn) -> None:
    resp = conn.exchange("GET", "/status/204")
    assert resp.status == 204
    assert resp.header("transfer-encoding") is None
    assert resp.header("content-length") in (None, "0")
    after = conn.exchange("GET", "/echo?after-204")
    assert after.json()["target"] == "/echo?after-204"


def test_304_has_no_body_even_with_content_length(proxy: Proxy) -> None:
    with Conn(proxy.port, timeout=5) as conn:
        resp = conn.exchange("GET", "/status/304", headers=[("If-None-Match", '"v1"')])
        assert resp.status == 304
        assert resp.header("transfer-encoding") is None
        assert resp.header("etag") == '"v1"'
        after = conn.exchange("GET", "/echo?after-304")
        assert after.json()["target"] == "/echo?after-304"


def test_other_statuses_pass_through(conn: Conn) -> None:
    resp = conn.exchange("GET", "/status/404")
    assert resp.status == 404
    assert resp.body == b"status 404\n"
    resp = conn.exchange("GET", "/status/500")
    assert resp.status == 500
    assert resp.body == b"status 500\n"


# -- Expect: 100-continue -----------------------------------------------------------------------


def test_expect_100_continue(proxy: Proxy, upstream: Upstream) -> None:
    body = b"hello world"
    tag = uid()
    with Conn(proxy.port, timeout=5) as conn:
        conn.request(
            "POST",
            f"/echo?{tag}",
            headers=[("Expect", "100-continue"), ("Content-Length", str(len(body)))],
        )
        interim = conn.read_head()  # times out if the proxy waits for the body
        assert interim.status == 100
        assert interim.version == "HTTP/1.1"
        conn.send(body)
        resp = conn.read_response()
        assert resp.status == 200
        assert resp.json()["body_length"] == len(body)
        assert resp.echo_header("expect") is None, "Expect is answered by the proxy, not forwarded"
        assert resp.interim == [], "only one 100 Continue"
        assert conn.exchange("GET", "/echo?after-expect").status == 200


def test_unknown_expectation_gives_417(proxy: Proxy, upstream: Upstream) -> None:
    tag = uid()
    resp = fetch(
        proxy.port, "POST", f"/echo?{tag}", headers=[("Expect", "teapot"), ("Content-Length", "0")]
    )
    assert resp.status == 417
    assert not upstream.seen(tag)


def test_connection_usable_after_local_error_responses(conn: Conn) -> None:
    assert conn.exchange("GET", "/x", host="nope.test").status == 404
    assert conn.exchange("GET", "/private/x").status == 401
    assert conn.exchange("GET", "/.portcullis/healthz").status == 200
    assert conn.exchange("GET", "/echo?after-local").status == 200


def test_expect_100_continue_on_a_denied_route_gets_final_status_first(proxy: Proxy) -> None:
    with Conn(proxy.port, timeout=5) as conn:
        conn.request(
            "POST", "/private/x", headers=[("Expect", "100-continue"), ("Content-Length", "10")]
        )
        head = conn.read_head()
        assert head.status == 401, "a request that will be refused gets no 100 Continue"


def test_absolute_form_target_and_host_agree(proxy: Proxy) -> None:
    """RFC 9112 3.2.2: the target's authority wins over Host; routing and forwarding agree."""
    resp = fetch(proxy.port, "GET", "http://api.test/only/echo?q=1", host="app.test")
    assert resp.status == 200
    assert resp.json()["upstream"] == "api"
    assert resp.echo_header_all("host") == ["api.test"]
    assert resp.json()["target"] == "/only/echo?q=1"


def test_fragment_is_not_forwarded(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "GET", "/echo/frag?a=1#section")
    assert resp.status in (200, 400)
    if resp.status == 200:
        assert resp.json()["target"] == "/echo/frag?a=1"


def test_close_delimited_upstream_body_is_rechunked_for_http11(conn: Conn) -> None:
    resp = conn.exchange("GET", "/close-delimited?size=3000")
    assert resp.framing == "chunked", resp.headers
    assert resp.body == b"c" * 3000
    assert conn.exchange("GET", "/echo?after-rechunk").status == 200


def test_request_after_connection_close_is_not_processed(conn: Conn, upstream: Upstream) -> None:
    tag = uid()
    conn.send(
        request_bytes("GET", f"/echo?first-{tag}", headers=[("Connection", "close")])
        + request_bytes("GET", f"/echo?second-{tag}")
    )
    assert conn.read_response().json()["target"] == f"/echo?first-{tag}"
    assert conn.is_closed(5)
    time.sleep(0.1)
    assert not upstream.seen(f"second-{tag}")


def test_fifty_pipelined_requests(conn: Conn) -> None:
    tag = uid()
    conn.send(b"".join(request_bytes("GET", f"/echo?n={i}-{tag}") for i in range(50)))
    for i in range(50):
        assert conn.read_response().json()["target"] == f"/echo?n={i}-{tag}"


def test_concurrent_clients_are_served_concurrently(proxy: Proxy, upstream: Upstream) -> None:
    results: list[int] = []

    def one(i: int) -> None:
        with Conn(proxy.port, timeout=15) as c:
            results.append(c.exchange("GET", f"/slow?delay=0.5&c={i}").status)

    upstream.slow_peak = 0
    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == [200] * 20
    assert upstream.slow_peak > 1, "requests from separate clients were serialized"
