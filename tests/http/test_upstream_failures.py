"""The upstream side: pooling, stale connections, refusals, timeouts and crashes."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http.conftest import assert_error_page, assert_no_traceback, config, route
from tests.http.rawhttp import Conn, fetch, request_bytes
from tests.http.upstream_app import Upstream
from tests.support.proxy import Proxy, run_proxy


def uid() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def pool_upstream() -> Iterator[Upstream]:
    with Upstream("pool") as up:
        yield up


@pytest.fixture(scope="module")
def pool_proxy(
    pool_upstream: Upstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """A proxy whose only origin is ``pool_upstream``, so connection counts are exact."""
    cfg = config([route("app.test", "/", pool_upstream.url)])
    with run_proxy(cfg, tmp_path_factory.mktemp("pool")) as p:
        yield p


@pytest.fixture
def one_pooled(pool_proxy: Proxy, pool_upstream: Upstream) -> Iterator[Upstream]:
    """Exactly one idle pooled connection; poison cleared afterwards."""
    pool_upstream.close_idle()
    assert fetch(pool_proxy.port, "GET", "/echo?prime").status == 200
    time.sleep(0.1)
    yield pool_upstream
    pool_upstream.clear_poison()


# -- pooling ------------------------------------------------------------------------------------


def test_pool_reuses_one_connection_for_sequential_requests(
    pool_proxy: Proxy, pool_upstream: Upstream
) -> None:
    assert fetch(pool_proxy.port, "GET", "/echo?warm").status == 200
    before = pool_upstream.connections_opened
    conn_ids = set()
    for i in range(6):
        resp = fetch(pool_proxy.port, "GET", f"/echo?seq={i}")
        conn_ids.add(resp.json()["conn_id"])
    assert pool_upstream.connections_opened - before <= 1
    assert len(conn_ids) <= 2


def test_idle_connection_closed_by_upstream_then_get_succeeds(
    one_pooled: Upstream, pool_proxy: Proxy
) -> None:
    assert one_pooled.close_idle() >= 1
    resp = fetch(pool_proxy.port, "GET", "/echo?after-close-idle")
    assert resp.status == 200


def test_idle_connection_closed_by_upstream_then_post_succeeds(
    one_pooled: Upstream, pool_proxy: Proxy
) -> None:
    """The FIN has arrived before the request: the proxy must not use that connection."""
    assert one_pooled.close_idle() >= 1
    resp = fetch(pool_proxy.port, "POST", "/upload?after-close-idle", body=b"p" * 5000)
    assert resp.status == 200
    assert resp.json()["length"] == 5000


def test_stale_pooled_connection_get_is_retried(one_pooled: Upstream, pool_proxy: Proxy) -> None:
    assert one_pooled.poison_idle() == 1
    tag = uid()
    resp = fetch(pool_proxy.port, "GET", f"/echo?retry={tag}")
    assert resp.status == 200, resp.body[:300]
    attempts = one_pooled.seen(tag)
    assert [a.dropped for a in attempts] == [True, False], (
        "first try on the stale connection, then a retry"
    )


def test_stale_pooled_connection_post_is_not_retried(
    one_pooled: Upstream, pool_proxy: Proxy
) -> None:
    assert one_pooled.poison_idle() == 1
    tag = uid()
    resp = fetch(pool_proxy.port, "POST", f"/upload?no-retry={tag}", body=b"p" * 10000)
    attempts = one_pooled.seen(tag)
    assert len(attempts) == 1, "a POST must never be sent twice"
    assert attempts[0].dropped, "the POST should have gone out on the pooled (stale) connection"
    assert_error_page(resp, 502)
    assert_no_traceback(pool_proxy.log())


# -- refusals and timeouts ----------------------------------------------------------------------


def test_upstream_refusing_connections_gives_502(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "GET", "/anything", host="down.test")
    assert_error_page(resp, 502)
    assert resp.header("x-request-id")


def test_connect_timeout_gives_504(proxy: Proxy) -> None:
    with Conn(proxy.port, timeout=10) as conn:
        start = time.monotonic()
        resp = conn.exchange("GET", "/anything", host="blackhole.test")
        elapsed = time.monotonic() - start
    assert_error_page(resp, 504)
    assert elapsed < 8, f"504 after {elapsed:.1f}s with timeouts.connect 0.5"


def test_response_timeout_gives_504(proxy: Proxy, upstream: Upstream) -> None:
    with Conn(proxy.port, timeout=10) as conn:
        start = time.monotonic()
        resp = conn.exchange("GET", "/timeout/slow?delay=3")
        elapsed = time.monotonic() - start
    assert_error_page(resp, 504)
    assert elapsed < 2.8, f"504 after {elapsed:.1f}s: the proxy waited for the slow upstream"


@pytest.mark.parametrize(
    ("host", "target", "status"),
    [
        ("down.test", "/x", 502),
        ("blackhole.test", "/x", 504),
        ("app.test", "/crash-before-response", 502),
        ("app.test", "/timeout/slow?delay=2", 504),
        ("app.test", "/bad-response?kind=garbage", 502),
    ],
    ids=[
        "connect-refused",
        "connect-timeout",
        "crash-before-response",
        "response-timeout",
        "garbage",
    ],
)
def test_client_connection_usable_after_upstream_error(
    proxy: Proxy, host: str, target: str, status: int
) -> None:
    with Conn(proxy.port, timeout=5) as conn:
        resp = conn.exchange("GET", target, host=host)
        assert resp.status == status
        if resp.has_token("connection", "close"):
            assert conn.is_closed(5)
            return
        following = conn.exchange("GET", "/echo?after-upstream-error")  # times out if stuck
        assert following.status == 200


def test_idle_pooled_connections_closed_after_idle_timeout(tmp_path: Path) -> None:
    with Upstream("idle") as up:
        cfg = config([route("app.test", "/", up.url, timeouts={"idle": 0.5})])
        with run_proxy(cfg, tmp_path) as proxy:
            assert fetch(proxy.port, "GET", "/echo?idle-pool").status == 200
            assert up.open_connections() == 1
            deadline = time.monotonic() + 5
            while up.open_connections() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert up.open_connections() == 0, "pooled connection kept past routes[].timeouts.idle"
            assert fetch(proxy.port, "GET", "/echo?idle-pool-2").status == 200


# -- crashes ------------------------------------------------------------------------------------


def test_crash_mid_body_closes_client_connection_short(proxy: Proxy) -> None:
    with Conn(proxy.port, timeout=10) as conn:
        conn.request("GET", "/crash-mid-body")
        head = conn.read_head()
        assert head.status == 200
        assert head.header("content-length") == "1000"
        rest = conn.read_to_close(10)  # the proxy must close, not hang
    assert len(rest) < 1000
    assert_no_traceback(proxy.log())


def test_crash_mid_chunked_body_never_sends_last_chunk(proxy: Proxy) -> None:
    with Conn(proxy.port, timeout=10) as conn:
        conn.request("GET", "/crash-mid-chunked")
        head = conn.read_head()
        assert head.status == 200
        rest = conn.read_to_close(10)
    # A terminating chunk would make the truncated body look complete.
    assert not rest.endswith(b"0\r\n\r\n"), rest
    if head.header("content-length") is not None:
        assert len(rest) < int(head.header("content-length") or 0)
    assert_no_traceback(proxy.log())


def test_crash_before_response_gives_502(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "GET", "/crash-before-response")
    assert_error_page(resp, 502)
    assert_no_traceback(proxy.log())


def test_crash_before_response_to_post_gives_502(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "POST", "/crash-before-response", body=b"z" * 2000)
    assert_error_page(resp, 502)


def test_json_error_page_for_json_clients(proxy: Proxy) -> None:
    resp = fetch(
        proxy.port, "GET", "/x", host="down.test", headers=[("Accept", "application/json")]
    )
    assert resp.status == 502
    assert "json" in (resp.header("content-type") or "")
    assert_no_traceback(resp.body)


# -- malformed upstream responses ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["garbage", "dup-cl", "huge-header", "bad-status"])
def test_malformed_upstream_response_gives_502(proxy: Proxy, kind: str) -> None:
    resp = fetch(proxy.port, "GET", f"/bad-response?kind={kind}")
    assert_error_page(resp, 502)
    assert_no_traceback(proxy.log())


def test_upstream_response_with_cl_and_te_is_not_passed_on_ambiguously(proxy: Proxy) -> None:
    """RFC 9112 6.3: Transfer-Encoding wins; the client never sees both framings."""
    with Conn(proxy.port, timeout=5) as conn:
        resp = conn.exchange("GET", "/bad-response?kind=cl-te")
        assert resp.status in (200, 502)
        assert not (resp.header("content-length") and resp.header("transfer-encoding"))
        if resp.status == 200:
            assert resp.body == b"hello"
        assert conn.exchange("GET", "/echo?after-cl-te").status == 200


@pytest.mark.parametrize("announce", ["say-close", "say-http10"])
def test_connection_announced_closing_is_not_reused(
    one_pooled: Upstream, pool_proxy: Proxy, announce: str
) -> None:
    """After ``Connection: close`` (or an HTTP/1.0 response) the upstream connection is done."""
    assert fetch(pool_proxy.port, "GET", f"/echo?{announce}").status == 200
    tag = uid()
    resp = fetch(pool_proxy.port, "POST", f"/upload?{tag}", body=b"n" * 1000)
    assert resp.status == 200, resp.body[:300]
    assert [a.dropped for a in one_pooled.seen(tag)] == [False]


def test_upstream_answering_before_reading_the_body(proxy: Proxy) -> None:
    """An early final response (413 before the body was read) reaches the client, not a 502."""
    body = b"u" * (8 << 20)
    with Conn(proxy.port, timeout=10) as conn:
        conn.send(
            request_bytes("POST", "/reject-early", headers=[("Content-Length", str(len(body)))])
        )
        sender = threading.Thread(target=_send_quietly, args=(conn, body), daemon=True)
        sender.start()
        resp = conn.read_response()
        sender.join(10)
    assert resp.status == 413
    assert resp.body == b"too big\n"
    assert_no_traceback(proxy.log())


def _send_quietly(conn: Conn, data: bytes) -> None:
    with contextlib.suppress(OSError):
        conn.send(data)


def test_folded_upstream_header_never_reaches_the_client_folded(proxy: Proxy) -> None:
    with Conn(proxy.port, timeout=5) as conn:
        resp = conn.exchange("GET", "/bad-response?kind=obs-fold")
    if resp.status == 200:
        assert not any(line[:1] in (b" ", b"\t") for line in resp.raw.split(b"\r\n")), resp.raw
    else:
        assert_error_page(resp, 502)


def test_nul_in_upstream_header_gives_502(proxy: Proxy) -> None:
    resp = fetch(proxy.port, "GET", "/bad-response?kind=nul-in-header")
    assert_error_page(resp, 502)
    assert b"\x00" not in resp.raw


def test_client_abort_mid_upload_does_not_poison_the_pool(
    pool_proxy: Proxy, pool_upstream: Upstream
) -> None:
    """The upstream connection carrying a half-sent body is not handed to the next request."""
    tag = uid()
    with Conn(pool_proxy.port, timeout=5) as conn:
        conn.send(request_bytes("POST", f"/upload?{tag}", headers=[("Content-Length", "100000")]))
        conn.send(b"a" * 50000)
        pool_upstream.wait_seen(tag)
    time.sleep(0.2)
    for i in range(3):
        resp = fetch(pool_proxy.port, "POST", f"/upload?after-abort={i}", body=b"b" * 10)
        assert resp.status == 200
        assert resp.json()["length"] == 10


def test_unsolicited_101_is_not_tunnelled(proxy: Proxy) -> None:
    with Conn(proxy.port, timeout=5) as conn:
        conn.request("GET", "/bad-response?kind=unsolicited-101")
        data = conn.read_available(2)
    assert not data.startswith(b"HTTP/1.1 101"), data[:200]
    assert b"raw bytes after a 101" not in data
    assert data.startswith(b"HTTP/1.1 502 "), data[:200]


@pytest.mark.parametrize(("method", "kind"), [("GET", "204-with-body"), ("HEAD", "head-with-body")])
def test_body_bytes_where_none_belong_are_not_forwarded(
    proxy: Proxy, method: str, kind: str
) -> None:
    """A buggy upstream's stray bytes after a bodiless response never reach the client."""
    with Conn(proxy.port, timeout=5) as conn:
        resp = conn.exchange(method, f"/bad-response?kind={kind}")
        assert resp.status in (200, 204)
        following = conn.exchange("GET", "/echo?after-stray-bytes")
        assert following.status == 200
        assert following.header("x-injected") is None
        assert following.json()["target"] == "/echo?after-stray-bytes"


def test_upstream_stalling_mid_body_is_cut_after_response_timeout(proxy: Proxy) -> None:
    with Conn(proxy.port, timeout=10) as conn:
        conn.request("GET", "/timeout/bad-response?kind=stall-mid-body")
        head = conn.read_head()
        assert head.status == 200
        start = time.monotonic()
        rest = conn.read_to_close(10)
        elapsed = time.monotonic() - start
    assert len(rest) < 1000
    assert elapsed < 4, f"the stalled response was cut only after {elapsed:.1f}s (response: 0.5)"
    assert_no_traceback(proxy.log())
