"""Backpressure bookkeeping between a client and its upstream connection, step by step.

The real ``ClientConnection``, ``Exchange`` and ``UpstreamConnection`` objects run on
in-process transports that record reading state, so the orderings that the socket tests
only hit by chance (a response ending while the client's buffer is over the high-water
mark) are driven deterministically.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from portcullis.config.validate import validate
from portcullis.http.clock import CoarseClock
from portcullis.http.server import ClientConnection, ProxyServer
from portcullis.http.upstream import UpstreamConnection, UpstreamPool
from portcullis.runtime import build_state


class RecordingTransport(asyncio.Transport):
    """Enough of a transport for the protocols: writes are kept, reading is a flag."""

    def __init__(self, peer: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        super().__init__()
        self.written = bytearray()
        self.reading = True
        self.closing = False
        self._peer = peer

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._peer if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True


class Wired:
    """One client connection and one pooled upstream connection, both on fake transports."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        config = validate(
            {"routes": [{"path": "/", "upstream": "http://127.0.0.1:9", "public": True}]}
        )
        clock = CoarseClock(loop)
        state = build_state(loop, clock, config)
        self.server = ProxyServer(loop, state, clock)
        route = state.router.match(b"app.test", "/")
        assert route is not None
        self.pool: UpstreamPool = route.pool
        self.upstream = UpstreamConnection(self.pool)
        self.upstream_transport = RecordingTransport()
        self.upstream.connection_made(self.upstream_transport)
        self.pool.idle.append(self.upstream)
        self.client = ClientConnection(self.server)
        self.client_transport = RecordingTransport()
        self.client.connection_made(self.client_transport)

    def request(self, target: str = "/") -> None:
        self.client.data_received(b"GET %b HTTP/1.1\r\nHost: app.test\r\n\r\n" % target.encode())

    def respond(self, body: bytes = b"hello") -> None:
        self.upstream.data_received(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
        )


@pytest.fixture
def wired() -> Iterator[Wired]:
    loop = asyncio.new_event_loop()
    try:
        yield Wired(loop)
    finally:
        loop.close()


def test_a_response_ending_while_the_client_is_slow_pools_a_reading_connection(
    wired: Wired,
) -> None:
    wired.request()
    assert b"GET / HTTP/1.1" in wired.upstream_transport.written
    wired.client.pause_writing()  # the client's buffer went over the high-water mark
    assert not wired.upstream_transport.reading
    wired.respond()  # ... and the response ended in that state
    assert wired.upstream in wired.pool.idle
    assert wired.upstream_transport.reading, "a pooled connection must read its next response"
    wired.client.resume_writing()
    assert b"hello" in wired.client_transport.written


def test_the_next_exchange_waits_for_a_slow_client_before_reading_its_upstream(
    wired: Wired,
) -> None:
    wired.request("/first")
    wired.client.pause_writing()
    wired.respond(b"first")
    wired.request("/second")  # reuses the pooled connection while the client is still slow
    assert wired.upstream.exchange is not None
    assert not wired.upstream_transport.reading
    assert wired.upstream.deadline == 0.0, "no response timeout while the client holds us up"
    wired.client.resume_writing()
    assert wired.upstream_transport.reading
    assert wired.upstream.deadline > 0.0
    wired.respond(b"second")
    assert wired.client_transport.written.count(b"HTTP/1.1 200 OK") == 2


def test_resuming_a_client_does_not_arm_the_response_timeout_mid_upload(wired: Wired) -> None:
    wired.client.data_received(
        b"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 10\r\n\r\n12345"
    )
    wired.client.pause_writing()
    wired.client.resume_writing()
    assert wired.upstream.deadline == 0.0, "the request is not fully sent yet"
    wired.client.data_received(b"67890")
    assert wired.upstream.deadline > 0.0
    assert wired.upstream_transport.written.endswith(b"1234567890")
