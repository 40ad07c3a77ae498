"""WebSocket upgrades are tunnelled both ways (RFC 6455 over RFC 9110 Upgrade)."""

from __future__ import annotations

import os
import socket

from websockets.sync.client import ClientConnection, connect

from tests.http.rawhttp import Conn
from tests.http.upstream_app import Upstream
from tests.support.proxy import Proxy


def ws_connect(proxy: Proxy, path: str = "/ws/echo") -> ClientConnection:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    return connect(
        f"ws://app.test{path}", sock=sock, open_timeout=5, close_timeout=2, max_size=1 << 24
    )


def test_text_and_binary_messages_round_trip(proxy: Proxy) -> None:
    with ws_connect(proxy) as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
        binary = bytes(range(256)) * 10
        ws.send(binary)
        assert ws.recv(timeout=5) == binary
        for i in range(20):
            ws.send(f"message {i}")
        assert [ws.recv(timeout=5) for _ in range(20)] == [f"message {i}" for i in range(20)]


def test_large_binary_message_round_trips(proxy: Proxy) -> None:
    payload = os.urandom(3 * 1024 * 1024)
    with ws_connect(proxy) as ws:
        ws.send(payload)
        assert ws.recv(timeout=10) == payload


def test_upgrade_headers_reach_the_upstream(proxy: Proxy, upstream: Upstream) -> None:
    before = len(upstream.ws_handshakes)
    with ws_connect(proxy) as ws:
        ws.send("x")
        assert ws.recv(timeout=5) == "x"
    handshake = dict((n.lower(), v) for n, v in upstream.ws_handshakes[before])
    assert handshake["upgrade"].lower() == "websocket"
    assert "upgrade" in handshake["connection"].lower()
    assert "sec-websocket-key" in handshake
    assert handshake["x-forwarded-for"] == "127.0.0.1"


def test_proxy_serves_after_a_tunnel_ends(proxy: Proxy) -> None:
    ws = ws_connect(proxy)
    ws.send("bye")
    assert ws.recv(timeout=5) == "bye"
    ws.close()
    # The proxy keeps serving after a tunnel ends.
    with Conn(proxy.port) as conn:
        assert conn.exchange("GET", "/echo?after-ws").status == 200


def test_upgrade_refused_by_upstream_stays_http(proxy: Proxy) -> None:
    """An Upgrade the origin does not accept (it answers 200) leaves an ordinary exchange."""
    with Conn(proxy.port) as conn:
        resp = conn.exchange(
            "GET",
            "/echo?not-ws",
            headers=[
                ("Connection", "Upgrade"),
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"),
            ],
        )
        assert resp.status == 200
        assert conn.exchange("GET", "/echo?after-refused-upgrade").status == 200
