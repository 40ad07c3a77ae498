"""Upstream connections: a keep-alive pool per origin and the protocol that reads responses.

An :class:`UpstreamConnection` serves one exchange at a time. Response events
(head, body pieces, end, loss) are handed to that exchange; the connection
itself only knows how to parse, time out and go back to its pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

import httptools

from portcullis.config.schema import Route
from portcullis.http.clock import CoarseClock

if TYPE_CHECKING:
    from portcullis.http.exchange import Exchange

__all__ = ["UpstreamConnection", "UpstreamPool", "UpstreamPools"]

log = logging.getLogger("portcullis.upstream")

_MAX_HEAD_BYTES = 64 * 1024  # a larger response head from an upstream is refused (502)


class UpstreamConnection(asyncio.Protocol):
    """One TCP (or TLS) connection to an upstream origin."""

    __slots__ = (
        "_head_only",
        "_head_seen",
        "_headers",
        "_interim",
        "_parser",
        "_trailers",
        "deadline",
        "exchange",
        "pool",
        "received",
        "reused",
        "transport",
        "tunnel",
    )

    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.deadline = 0.0
        self.reused = False
        self.received = False
        self.tunnel = False
        self._parser = httptools.HttpResponseParser(self)
        self._headers: list[tuple[bytes, bytes]] = []
        self._interim = False
        self._trailers = False
        self._head_only = False
        self._head_seen = -1  # bytes received while a response head is due; -1: not due

    # asyncio protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)
        transport.set_write_buffer_limits(high=256 * 1024)

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None:
            # Bytes on an idle connection: the upstream is confused. Do not reuse it.
            self.close()
            return
        if self.tunnel:
            exchange.tunnel_to_client(data)
            return
        self.received = True
        if self.deadline:
            self.deadline = self.pool.clock.now + self.pool.response_timeout
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            offset = upgrade.args[0]
            if self.exchange is exchange and exchange.upstream_upgraded():
                self.tunnel = True
                self.deadline = 0.0
                if offset < len(data):
                    exchange.tunnel_to_client(data[offset:])
        except httptools.HttpParserError as exc:
            log.warning("invalid response from upstream %s: %s", self.pool.origin, exc)
            if self.exchange is exchange:
                exchange.upstream_failed(self, 502, "The upstream sent an invalid response.")
            self.close()
            return
        if self.exchange is exchange:
            if self._head_seen >= 0:
                self._head_seen += len(data)
                if self._head_seen > _MAX_HEAD_BYTES:
                    log.warning("oversized response head from upstream %s", self.pool.origin)
                    exchange.upstream_failed(self, 502, "The upstream sent an invalid response.")
                    return
            exchange.flush()

    def eof_received(self) -> bool | None:
        return None  # close; connection_lost reports it to the exchange

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.forget(self)
        exchange = self.exchange
        self.exchange = None
        if exchange is not None:
            exchange.upstream_lost(self)

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.upstream_pause_writing()

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.upstream_resume_writing()

    # httptools callbacks (no on_message_begin/on_status: one Python call fewer each) ---------
    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._trailers:
            self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._trailers = True  # until on_message_complete, fields are trailers
        headers = self._headers
        self._headers = []
        status = self._parser.get_status_code()
        exchange = self.exchange
        if exchange is None:
            return
        if 100 <= status < 200:
            # 1xx: not the final response. 101 is completed by the upgrade in data_received.
            self._interim = True
            exchange.response_interim(status, headers)
            return
        self._interim = False
        self._head_seen = -1
        exchange.response_head(self, status, headers, self._parser.should_keep_alive())
        if self._head_only and self.exchange is exchange:
            # A HEAD response has no body whatever its framing headers say; start a fresh
            # parser for the next response on this connection.
            self._parser = httptools.HttpResponseParser(self)
            self._trailers = False
            exchange.response_end(self)

    def on_body(self, body: bytes) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.response_body(body)
        elif self._head_only:
            self.close()  # body bytes after a HEAD response: not reusable

    def on_message_complete(self) -> None:
        self._trailers = False
        if self._interim:
            self._interim = False
            return
        exchange = self.exchange
        if exchange is not None and not self._head_only:
            exchange.response_end(self)

    # used by the exchange and the pool --------------------------------------------------------
    def attach(self, exchange: Exchange, head_only: bool) -> None:
        self.exchange = exchange
        self.received = False
        self._head_seen = 0
        self._head_only = head_only
        self.pool.busy.add(self)

    def arm(self) -> None:
        """The request is fully sent: the upstream now owes us a response."""
        self.deadline = self.pool.clock.now + self.pool.response_timeout

    def close(self) -> None:
        self.deadline = 0.0
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        self.deadline = 0.0
        if self.transport is not None:
            self.transport.abort()

    def discard(self) -> None:
        """Its exchange ended mid-way: it leaves the pool's books and is cut, never reused."""
        self.pool.busy.discard(self)
        self.exchange = None
        self.abort()

    def on_deadline(self) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.upstream_failed(self, 504, "The upstream did not answer in time.")
        self.abort()


class UpstreamPool:
    """Keep-alive connections to one origin (scheme, host, port)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        clock: CoarseClock,
        route: Route,
        max_idle: int,
    ) -> None:
        parts = urlsplit(route.upstream)
        self.loop = loop
        self.clock = clock
        self.origin = route.upstream
        self.host = parts.hostname or "localhost"
        self.secure = parts.scheme == "https"
        self.port = parts.port or (443 if self.secure else 80)
        self.authority = parts.netloc.encode("latin-1")
        self.max_idle = max_idle
        self.connect_timeout = route.timeouts.connect
        self.response_timeout = route.timeouts.response
        self.idle_timeout = route.timeouts.idle
        self.ssl: ssl.SSLContext | None = None
        if self.secure:
            self.ssl = ssl.create_default_context(cafile=route.tls_ca_file)
            if not route.tls_verify:
                self.ssl.check_hostname = False
                self.ssl.verify_mode = ssl.CERT_NONE
        self.idle: list[UpstreamConnection] = []
        self.busy: set[UpstreamConnection] = set()

    def acquire(self) -> UpstreamConnection | None:
        """A pooled connection, or None when a new one must be opened."""
        idle = self.idle
        while idle:
            conn = idle.pop()
            transport = conn.transport
            if transport is not None and not transport.is_closing():
                conn.reused = True
                conn.deadline = 0.0
                return conn
        return None

    async def connect(self) -> UpstreamConnection:
        """Open a new connection; raises OSError or TimeoutError."""
        _, conn = await asyncio.wait_for(
            self.loop.create_connection(
                lambda: UpstreamConnection(self),
                self.host,
                self.port,
                ssl=self.ssl,
                server_hostname=self.host if self.ssl else None,
            ),
            timeout=self.connect_timeout,
        )
        return conn

    def release(self, conn: UpstreamConnection) -> None:
        """Return a connection whose exchange finished cleanly."""
        self.busy.discard(conn)
        conn.exchange = None
        if len(self.idle) >= self.max_idle or conn.tunnel:
            conn.close()
            return
        # The response may have ended while a slow client had the connection paused: a
        # pooled connection always reads (its next response, or the upstream closing it).
        if conn.transport is not None:
            conn.transport.resume_reading()
        conn.deadline = self.clock.now + self.idle_timeout
        self.idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        self.busy.discard(conn)
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)

    def sweep(self, now: float) -> None:
        for conn in [c for c in self.busy if c.deadline and c.deadline <= now]:
            conn.on_deadline()
        for conn in [c for c in self.idle if c.deadline <= now]:
            self.forget(conn)
            conn.close()

    def close(self) -> None:
        for conn in [*self.idle, *self.busy]:
            conn.close()
        self.idle.clear()


class UpstreamPools:
    """One pool per distinct upstream origin and TLS setting, shared by routes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: CoarseClock, max_idle: int) -> None:
        self._loop = loop
        self._clock = clock
        self._max_idle = max_idle
        self._pools: dict[tuple[object, ...], UpstreamPool] = {}

    def for_route(self, route: Route) -> UpstreamPool:
        key = (route.upstream, route.tls_verify, route.tls_ca_file, route.timeouts)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = UpstreamPool(self._loop, self._clock, route, self._max_idle)
        return pool

    def sweep(self, now: float) -> None:
        for pool in self._pools.values():
            pool.sweep(now)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
