"""Limits and client timeouts: 414, 431, 408, idle keep-alive, max_connections (SECURITY.md 7)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import suppress

import pytest

from tests.http.conftest import assert_error_page, config, route
from tests.http.rawhttp import Conn, fetch, request_bytes
from tests.http.upstream_app import Upstream
from tests.support.proxy import Proxy, run_proxy

LIMITS = {"max_url_bytes": 1024, "max_header_bytes": 4096, "max_header_count": 20}
TIMEOUTS = {"header": 1, "keepalive": 1, "body": 1}


def uid() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def strict_proxy(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    cfg = config(
        [route("app.test", "/", upstream.url)], server={"limits": LIMITS, "timeouts": TIMEOUTS}
    )
    with run_proxy(cfg, tmp_path_factory.mktemp("strict")) as p:
        yield p


@pytest.fixture(scope="module")
def small_proxy(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    cfg = config([route("app.test", "/", upstream.url)], server={"limits": {"max_connections": 3}})
    with run_proxy(cfg, tmp_path_factory.mktemp("small")) as p:
        yield p


# -- sizes --------------------------------------------------------------------------------------


def test_url_within_limit_is_served(strict_proxy: Proxy) -> None:
    target = "/echo?" + "a" * 900
    assert fetch(strict_proxy.port, "GET", target).json()["target"] == target


def test_url_too_long_gives_414(strict_proxy: Proxy, upstream: Upstream) -> None:
    tag = uid()
    with Conn(strict_proxy.port, timeout=5) as conn:
        resp = conn.exchange("GET", f"/echo?{tag}=" + "a" * 2000)
        assert_error_page(resp, 414)
        assert conn.is_closed(5)
    assert not upstream.seen(tag)


def test_headers_within_limit_are_served(strict_proxy: Proxy) -> None:
    resp = fetch(strict_proxy.port, "GET", "/echo", headers=[("X-Big", "b" * 3000)])
    assert resp.echo_header("x-big") == "b" * 3000


def test_headers_too_big_give_431(strict_proxy: Proxy, upstream: Upstream) -> None:
    tag = uid()
    with Conn(strict_proxy.port, timeout=5) as conn:
        resp = conn.exchange("GET", f"/echo?{tag}", headers=[("X-Big", "b" * 6000)])
        assert_error_page(resp, 431)
        assert conn.is_closed(5)
    assert not upstream.seen(tag)


def test_many_small_headers_too_big_give_431(strict_proxy: Proxy, upstream: Upstream) -> None:
    tag = uid()
    headers = [(f"X-H{i}", "v" * 300) for i in range(18)]  # 18 fields, ~5.6 kB
    resp = fetch(strict_proxy.port, "GET", f"/echo?{tag}", headers=headers)
    assert_error_page(resp, 431)
    assert not upstream.seen(tag)


def test_header_count_within_limit_is_served(strict_proxy: Proxy) -> None:
    headers = [(f"X-H{i}", "v") for i in range(15)]
    assert fetch(strict_proxy.port, "GET", "/echo", headers=headers).status == 200


def test_too_many_header_fields_give_431(strict_proxy: Proxy, upstream: Upstream) -> None:
    tag = uid()
    headers = [(f"X-H{i}", "v") for i in range(30)]
    resp = fetch(strict_proxy.port, "GET", f"/echo?{tag}", headers=headers)
    assert_error_page(resp, 431)
    assert not upstream.seen(tag)


def test_oversized_token_header_gives_431(strict_proxy: Proxy, upstream: Upstream) -> None:
    """SECURITY.md 7: an oversized Authorization header is refused before anything parses it."""
    tag = uid()
    resp = fetch(
        strict_proxy.port,
        "GET",
        f"/echo?{tag}",
        headers=[("Authorization", "Bearer " + "e" * 8000)],
    )
    assert_error_page(resp, (431, 400))
    assert not upstream.seen(tag)


# -- client timeouts ----------------------------------------------------------------------------


def test_slowloris_head_gets_408_and_close(strict_proxy: Proxy, upstream: Upstream) -> None:
    tag = uid()
    with Conn(strict_proxy.port, timeout=5) as conn:
        conn.send(f"GET /echo?{tag} HTTP/1.1\r\nHost: app.test\r\nX-Slow: ".encode())
        start = time.monotonic()
        received = b""
        while time.monotonic() - start < 6:
            try:
                conn.send(b"a")  # one byte per 100 ms: never a complete head
            except OSError:
                break
            received += conn.read_available(0.1)
            if received or conn.eof:
                break
        received += conn.read_available(1)
        elapsed = time.monotonic() - start
        closed = conn.eof or conn.is_closed(3)
    assert received.startswith(b"HTTP/1.1 408 "), received[:200]
    assert elapsed < 4, f"still reading a trickled head after {elapsed:.1f}s (timeouts.header: 1)"
    assert closed
    assert not upstream.seen(tag)


def test_silent_client_gets_408(strict_proxy: Proxy) -> None:
    with Conn(strict_proxy.port, timeout=5) as conn:
        conn.send(b"GET /echo HTTP/1.1\r\nHost: app.test\r\n")
        data = conn.read_to_close(5)
    assert data.startswith(b"HTTP/1.1 408 "), data[:200]


def test_body_stall_gets_408_and_close(strict_proxy: Proxy) -> None:
    with Conn(strict_proxy.port, timeout=6) as conn:
        conn.send(request_bytes("POST", "/upload", headers=[("Content-Length", "100")]) + b"x" * 50)
        resp = conn.read_response()
        assert resp.status == 408
        assert conn.is_closed(3)


def test_chunked_body_stall_gets_408(strict_proxy: Proxy) -> None:
    with Conn(strict_proxy.port, timeout=6) as conn:
        conn.send(
            request_bytes("POST", "/upload", headers=[("Transfer-Encoding", "chunked")])
            + b"a\r\n01234"
        )
        resp = conn.read_response()
        assert resp.status == 408


def test_slow_but_steady_body_is_not_cut(strict_proxy: Proxy) -> None:
    """timeouts.body is the longest silence, not the whole body's time."""
    with Conn(strict_proxy.port, timeout=6) as conn:
        conn.send(request_bytes("POST", "/upload", headers=[("Content-Length", "8")]))
        for _ in range(8):
            time.sleep(0.3)
            conn.send(b"s")
        resp = conn.read_response()
        assert resp.status == 200
        assert resp.json()["length"] == 8


def test_idle_keepalive_connection_closed(strict_proxy: Proxy) -> None:
    with Conn(strict_proxy.port, timeout=6) as conn:
        assert conn.exchange("GET", "/echo?idle-1").status == 200
        time.sleep(0.3)
        assert conn.exchange("GET", "/echo?idle-2").status == 200
        data = conn.read_to_close(5)
    assert data == b"" or data.startswith(b"HTTP/1.1 408 "), data[:200]


def test_fresh_connection_without_request_is_closed(strict_proxy: Proxy) -> None:
    with Conn(strict_proxy.port, timeout=6) as conn:
        data = conn.read_to_close(5)
    assert data == b"" or data.startswith(b"HTTP/1.1 408 "), data[:200]


# -- max_connections ----------------------------------------------------------------------------


def test_max_connections(small_proxy: Proxy, upstream: Upstream) -> None:
    held = [Conn(small_proxy.port, timeout=5) for _ in range(3)]
    try:
        for i, c in enumerate(held):
            assert c.exchange("GET", f"/echo?held={i}").status == 200
        tag = uid()
        with Conn(small_proxy.port, timeout=5) as extra:
            with suppress(OSError):
                extra.request("GET", f"/echo?{tag}")
            data = extra.read_available(3)
            refused = extra.eof or data.startswith(b"HTTP/1.1 503 ")
            assert refused, (
                f"4th connection with max_connections 3: {data[:200]!r}, eof={extra.eof}"
            )
        assert not upstream.seen(tag)
        # Served again once a slot is free.
        held.pop().close()
        deadline = time.monotonic() + 5
        while True:
            try:
                resp = fetch(small_proxy.port, "GET", "/echo?after-free")
                if resp.status == 200:
                    break
            except (OSError, AssertionError):
                pass
            assert time.monotonic() < deadline, "no connection accepted after one was freed"
            time.sleep(0.1)
    finally:
        for c in held:
            c.close()
