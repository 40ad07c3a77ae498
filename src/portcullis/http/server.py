"""The client side: an asyncio protocol per connection, parsing with httptools (llhttp).

A :class:`ClientConnection` turns bytes into :class:`RequestHead` values,
enforces limits and timeouts, and runs one :class:`Exchange` at a time;
pipelined requests wait in order. llhttp already rejects the classic
request-smuggling shapes (CL+TE, duplicate Content-Length, obs-fold, bare CR
or LF, bad tokens, non-chunked final Transfer-Encoding); this module adds the
HTTP-version, Host, transfer-coding and method checks on top.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from itertools import count
from typing import Any, cast

import httptools

from portcullis.audit.writer import AuditLog
from portcullis.config.schema import Limits, Timeouts
from portcullis.control import ControlEndpoints, Handler
from portcullis.decision import Gate
from portcullis.guardrails.monitor import Guardrails
from portcullis.http.clock import CoarseClock
from portcullis.http.connection import OwnedTransport
from portcullis.http.exchange import Exchange
from portcullis.http.headers import (
    FORWARD_AUTH,
    HOP_BY_HOP,
    TRUSTED_FORWARDING,
    TrustedProxies,
    canonical,
    connection_tokens,
    is_spoofable,
    original_client,
    request_id_prefix,
    valid_request_id,
)
from portcullis.http.pages import LocalResponse, error_response, serialize
from portcullis.http.paths import InvalidPath, normalize_request_path
from portcullis.http.request import RequestHead
from portcullis.http.upstream import UpstreamPool, UpstreamPools
from portcullis.routing import Router

__all__ = ["ClientConnection", "ProxyServer", "ProxyState"]

log = logging.getLogger("portcullis.server")
access_log = logging.getLogger("portcullis.access")

# Reasons the client transport is not being read (a bit set).
_PAUSE_PIPELINE = 1  # a request waits behind the active one
_PAUSE_EXCHANGE = 2  # waiting for a decision or an upstream connection
_PAUSE_BACKPRESSURE = 4  # the upstream's write buffer is full
_PAUSE_STOPPED = 8  # no more requests on this connection

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}
_CONNECTION_OPTIONS = frozenset({b"close", b"keep-alive", b"upgrade"})

# Request fields that need more than "forward as is" (lower-case name -> kind).
_F_HOST, _F_ACCEPT, _F_CONTENT_LENGTH, _F_TRANSFER_ENCODING = 1, 2, 3, 4
_F_CONNECTION, _F_UPGRADE, _F_EXPECT, _F_HOP = 5, 6, 7, 8
_REQUEST_FIELDS: dict[bytes, int] = {name: _F_HOP for name in HOP_BY_HOP} | {
    b"host": _F_HOST,
    b"accept": _F_ACCEPT,
    b"content-length": _F_CONTENT_LENGTH,
    b"transfer-encoding": _F_TRANSFER_ENCODING,
    b"connection": _F_CONNECTION,
    b"upgrade": _F_UPGRADE,
    b"expect": _F_EXPECT,
}


@dataclass(frozen=True, slots=True)
class ProxyState:
    """Everything a request needs, built once per configuration and swapped whole."""

    router: Router[UpstreamPool]
    pools: UpstreamPools
    gate: Gate
    limits: Limits
    timeouts: Timeouts
    trusted: TrustedProxies
    scheme: str
    access_log: bool
    strip_headers: frozenset[bytes] = frozenset()  # configured identity headers (canonical)


class _Reject(Exception):
    """Raised inside parser callbacks to refuse a request with a status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ClientConnection(OwnedTransport):
    """One client connection."""

    def __init__(self, server: ProxyServer) -> None:
        super().__init__()
        self.server = server
        self.writing_paused = False  # our writes to the client are over the high-water mark
        self.tunnel: Exchange | None = None
        self.deadline = 0.0
        self._client_ip = ""
        self._trusted = False
        self._forwarded: tuple[tuple[bytes, bytes], ...] = ()
        self._limits = server.state.limits
        self._parser = httptools.HttpRequestParser(self)
        self._paused = 0
        self._active: Exchange | None = None
        self._parsing: Exchange | None = None
        self._pipeline: deque[Exchange | _FinalResponse] = deque()
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._in_head = False
        self._in_body = False
        self._head_seen = 0
        self._eof = False
        self._upgrade_buffer: list[bytes] | None = None

    # asyncio protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)
        server = self.server
        peer = transport.get_extra_info("peername")
        self._client_ip = peer[0] if isinstance(peer, tuple) else "unix"
        state = server.state
        self._limits = state.limits
        self._trusted = bool(state.trusted) and self._client_ip in state.trusted
        self._forwarded = (
            (b"X-Forwarded-For", self._client_ip.encode()),
            (b"X-Forwarded-Proto", state.scheme.encode()),
        )
        transport.set_write_buffer_limits(high=256 * 1024)
        if len(server.connections) >= state.limits.max_connections or server.draining:
            log.warning(
                "refusing connection from %s: %d connections open",
                self._client_ip,
                len(server.connections),
            )
            response = error_response(
                503, "Too many connections; try again later.", request_id=server.next_request_id()
            )
            self.write(serialize(response, request_id="-", keep_alive=False, head_only=False))
            self.close()
            return
        server.connections.add(self)
        self.deadline = server.clock.now + state.timeouts.header

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel.tunnel_to_upstream(data)
            return
        if self._upgrade_buffer is not None:
            self._upgrade_buffer.append(data)
            return
        if self._in_body:
            self.deadline = self.server.clock.now + self.server.state.timeouts.body
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._stop_reading()
            self._upgrade_buffer = [data[upgrade.args[0] :]]
        except httptools.HttpParserCallbackError as exc:
            reject = exc.__context__
            if isinstance(reject, _Reject):
                self._reject(reject.status, reject.message)
            else:
                log.error("internal error while parsing a request", exc_info=reject)
                self._reject(500, "Internal error.")
            return
        except httptools.HttpParserError as exc:
            self._reject(400, f"Malformed request: {exc}.")
            return
        if self._in_head:
            self._head_seen += len(data)
            limits = self._limits
            if self._head_seen > limits.max_url_bytes + limits.max_header_bytes:
                if not self._headers and len(self._url) > limits.max_url_bytes:
                    self._reject(414, "The request target is too long.")
                else:
                    self._reject(431, "The request header fields are too large.")
                return

    def eof_received(self) -> bool | None:
        if self.tunnel is not None:
            self.tunnel.tunnel_eof_from_client()
            return True
        if self._active is not None and self._active.request_done:
            self._eof = True  # half-closed: finish the response, then close
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        for exchange in (self._active, self.tunnel, *self._pipeline):
            if exchange is not None and not exchange.finished:
                exchange.client_lost()
        self._pipeline.clear()
        self._active = self.tunnel = None
        self.server.connection_closed()

    def pause_writing(self) -> None:
        self.writing_paused = True
        exchange = self.tunnel or self._active
        if exchange is not None:
            exchange.client_pause_writing()

    def resume_writing(self) -> None:
        self.writing_paused = False
        exchange = self.tunnel or self._active
        if exchange is not None:
            exchange.client_resume_writing()

    # httptools callbacks ----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._in_head = True
        self._head_seen = 0
        if self._active is None:
            self.deadline = self.server.clock.now + self.server.state.timeouts.header

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limits.max_url_bytes:
            raise _Reject(414, "The request target is too long.")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_head:
            return  # trailer fields of a chunked request body are dropped
        headers = self._headers
        headers.append((name, value))
        self._header_bytes += len(name) + len(value) + 4
        limits = self._limits
        if len(headers) > limits.max_header_count or self._header_bytes > limits.max_header_bytes:
            raise _Reject(431, "The request header fields are too large.")

    def on_headers_complete(self) -> None:
        self._in_head = False
        head = self._build_head()
        exchange = Exchange(self, head)
        self._parsing = exchange
        if head.has_body:
            self._in_body = True
            self.deadline = self.server.clock.now + self.server.state.timeouts.body
        if self._active is None:
            self._active = exchange
            if not head.has_body:
                self.deadline = 0.0
            exchange.start()
        else:
            self._pipeline.append(exchange)
            self._pause(_PAUSE_PIPELINE)

    def on_body(self, body: bytes) -> None:
        exchange = self._parsing
        if exchange is not None:
            exchange.request_body(body)

    def on_message_complete(self) -> None:
        self._in_body = False
        exchange = self._parsing
        self._parsing = None
        if exchange is not None:
            exchange.request_end()
            if exchange is self._active and not exchange.finished:
                self.deadline = 0.0

    # building the request head ----------------------------------------------------------------
    def _build_head(self) -> RequestHead:
        parser = self._parser
        version = parser.get_http_version()
        if version not in {"1.1", "1.0"}:
            raise _Reject(505, "Only HTTP/1.0 and HTTP/1.1 are supported.")
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method) or raw_method.decode("latin-1")
        if method == "CONNECT":
            raise _Reject(405, "CONNECT is not supported by a reverse proxy.")
        keep: list[tuple[bytes, bytes]] = []
        authority: bytes | None = None
        hosts = 0
        content_length: int | None = None
        chunked = False
        expect = upgrade = None
        accept = b""
        conn_values: list[bytes] | None = None
        forwarded: dict[bytes, list[bytes]] | None = None
        strip = self.server.state.strip_headers  # per request: a reload may rename them
        for name, value in self._headers:
            lname = name.lower()
            kind = _REQUEST_FIELDS.get(lname)
            if kind is None:
                if b"_" in lname:
                    lname = canonical(lname)
                if is_spoofable(lname) or lname in strip:
                    if self._trusted and lname in TRUSTED_FORWARDING:
                        if forwarded is None:
                            forwarded = {}
                        forwarded.setdefault(lname, []).append(value.strip())
                    continue
                keep.append((name, value.strip()))
            elif kind == _F_HOST:
                hosts += 1
                authority = value.strip()
            elif kind == _F_ACCEPT:
                accept = value
                keep.append((name, value))
            elif kind == _F_CONTENT_LENGTH:
                content_length = int(value)
            elif kind == _F_TRANSFER_ENCODING:
                if value.strip().lower() != b"chunked":
                    raise _Reject(501, "Only the chunked transfer coding is supported.")
                chunked = True
            elif kind == _F_CONNECTION:
                if conn_values is None:
                    conn_values = []
                conn_values.append(value)
            elif kind == _F_UPGRADE:
                upgrade = value.strip()
            elif kind == _F_EXPECT:
                expect = value.strip().lower()
            # _F_HOP: other hop-by-hop fields are dropped
        if conn_values is not None:
            listed = connection_tokens(conn_values) - _CONNECTION_OPTIONS
            if listed:
                keep = [(n, v) for n, v in keep if canonical(n) not in listed]
        url = self._url
        if b"#" in url:
            url = url[: url.find(b"#")]
        if url[:1] != b"/":
            url, authority, hosts = self._absolute_form(url, authority, hosts)
        if hosts != 1 and (hosts > 1 or version == "1.1"):
            raise _Reject(400, "An HTTP/1.1 request needs exactly one Host header.")
        if chunked and version == "1.0":
            raise _Reject(400, "Transfer-Encoding is not allowed in HTTP/1.0 (RFC 9112 6.1).")
        server = self.server
        if authority:
            host = server.host_names.get(authority)
            if host is None:
                host = _host_name(authority)
                if len(server.host_names) < 1024:
                    server.host_names[authority] = host
        else:
            host = ""
        path, sep, query = url.partition(b"?")
        try:
            normalized = normalize_request_path(path.decode("latin-1"))
        except InvalidPath as exc:
            raise _Reject(400, f"Invalid request path: {exc}.") from None
        expect_continue = False
        if expect is not None:
            if expect != b"100-continue":
                raise _Reject(417, "Only 'Expect: 100-continue' is supported.")
            expect_continue = version == "1.1"
        if upgrade is not None and (
            b"websocket" not in upgrade.lower() or method != "GET" or not parser.should_upgrade()
        ):
            upgrade = None  # only WebSocket upgrades are tunnelled (no h2c smuggling)
        if forwarded is None:
            request_id = server.next_request_id()
            keep += self._forwarded
            if authority:
                keep.append((b"X-Forwarded-Host", authority))
        else:
            request_id = self._trusted_request_id(forwarded) or server.next_request_id()
            keep += self._forwarding_headers(forwarded, authority)
            if normalized.startswith("/.portcullis/"):  # forward-auth: never forwarded upstream
                keep += [(n, v) for n, vs in forwarded.items() if n in FORWARD_AUTH for v in vs]
        keep.append((b"X-Request-Id", request_id.encode()))
        origin = ""
        if forwarded is not None and (chain := forwarded.get(b"x-forwarded-for")):
            origin = original_client(chain, server.state.trusted)
        return RequestHead(
            method,
            normalized,
            sep + query,
            version,
            host,
            authority or b"",
            keep,
            self._client_ip,
            server.state.scheme,
            request_id,
            parser.should_keep_alive(),
            chunked,
            content_length,
            expect_continue,
            upgrade,
            accept,
            origin,
        )

    @staticmethod
    def _absolute_form(url: bytes, authority: bytes | None, hosts: int) -> tuple[bytes, bytes, int]:
        """RFC 9112 3.2.2: an absolute-form target's authority replaces the Host header."""
        if not url.lower().startswith((b"http://", b"https://")):
            raise _Reject(400, "The request target must be a path or an http(s) URL.")
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            raise _Reject(400, "The request target is not a valid URL.") from None
        if not parsed.host or parsed.userinfo:
            raise _Reject(400, "The request target is not a valid URL.")
        new_authority = parsed.host + (b":%d" % parsed.port if parsed.port else b"")
        target = (parsed.path or b"/") + (b"?" + parsed.query if parsed.query else b"")
        return target, new_authority, 1

    @staticmethod
    def _trusted_request_id(forwarded: dict[bytes, list[bytes]]) -> str:
        values = forwarded.get(b"x-request-id")
        if values and valid_request_id(values[0]):
            return values[0].decode("ascii")
        return ""

    def _forwarding_headers(
        self, forwarded: dict[bytes, list[bytes]], authority: bytes | None
    ) -> list[tuple[bytes, bytes]]:
        """X-Forwarded-* from a trusted proxy, extended with this hop."""
        client = self._client_ip.encode()
        chain = forwarded.get(b"x-forwarded-for")
        if chain:
            client = b", ".join(chain) + b", " + client
        proto = (forwarded.get(b"x-forwarded-proto") or [self.server.state.scheme.encode()])[0]
        host = (forwarded.get(b"x-forwarded-host") or [authority or b""])[0]
        headers = [(b"X-Forwarded-For", client), (b"X-Forwarded-Proto", proto)]
        if host:
            headers.append((b"X-Forwarded-Host", host))
        return headers

    # flow control -----------------------------------------------------------------------------
    def _pause(self, reason: int) -> None:
        if not self._paused and self.transport is not None and not self.closed:
            self.transport.pause_reading()
        self._paused |= reason

    def _resume(self, reason: int) -> None:
        if self._paused & reason:
            self._paused &= ~reason
            if not self._paused and self.transport is not None and not self.closed:
                self.transport.resume_reading()

    def pause_for_exchange(self) -> None:
        self._pause(_PAUSE_EXCHANGE)

    def resume_for_exchange(self) -> None:
        self._resume(_PAUSE_EXCHANGE)

    def pause_for_backpressure(self) -> None:
        self._pause(_PAUSE_BACKPRESSURE)
        if self._in_body:
            self.deadline = 0.0  # the upstream is slow, not the client

    def resume_for_backpressure(self) -> None:
        self._resume(_PAUSE_BACKPRESSURE)
        if self._in_body:
            self.deadline = self.server.clock.now + self.server.state.timeouts.body

    def _stop_reading(self) -> None:
        self._pause(_PAUSE_STOPPED)

    # output -----------------------------------------------------------------------------------
    def start_tunnel(self, exchange: Exchange) -> None:
        """After a 101: bytes flow both ways untouched."""
        self.tunnel = exchange
        self._active = None
        self.deadline = 0.0
        pending = self._upgrade_buffer or []
        self._upgrade_buffer = None
        for data in pending:
            if data:
                exchange.tunnel_to_upstream(data)
        self._resume(_PAUSE_STOPPED | _PAUSE_EXCHANGE | _PAUSE_PIPELINE)

    def exchange_finished(self, exchange: Exchange, keep_alive: bool) -> None:
        server = self.server
        if server.state.access_log:
            head = exchange.head
            access_log.info(
                '%s "%s %s" %d %s',
                head.client_ip,
                head.method,
                head.path,
                exchange.status,
                head.request_id,
            )
        if exchange is not self._active:
            return
        self._active = None
        if not keep_alive or server.draining:
            self.close()
            return
        if self._upgrade_buffer is not None:
            self._resume_after_refused_upgrade()
            return
        if self._pipeline:
            server.loop.call_soon(self._start_next)
            return
        if self._eof:
            self.close()
            return
        self.deadline = server.clock.now + server.state.timeouts.keepalive
        # Whatever paused reading for that exchange (waiting for a connection or a decision,
        # backpressure, the pipeline) is over: the next request may come.
        self._resume(_PAUSE_PIPELINE | _PAUSE_EXCHANGE | _PAUSE_BACKPRESSURE)

    def _resume_after_refused_upgrade(self) -> None:
        """The upgrade was answered without 101: carry on with HTTP on a fresh parser."""
        pending = b"".join(self._upgrade_buffer or ())
        self._upgrade_buffer = None
        self._parser = httptools.HttpRequestParser(self)
        self.deadline = self.server.clock.now + self.server.state.timeouts.keepalive
        self._resume(_PAUSE_STOPPED | _PAUSE_PIPELINE | _PAUSE_EXCHANGE | _PAUSE_BACKPRESSURE)
        if pending:
            self.data_received(pending)

    def _start_next(self) -> None:
        if self.closed or self._active is not None or not self._pipeline:
            return
        exchange = self._pipeline.popleft()
        if isinstance(exchange, _FinalResponse):
            self._send_final(exchange.response)
            return
        self._active = exchange
        self._resume(_PAUSE_EXCHANGE | _PAUSE_BACKPRESSURE)
        if not self._pipeline:
            self._resume(_PAUSE_PIPELINE)
        self.deadline = 0.0
        exchange.start()

    # errors and timeouts ----------------------------------------------------------------------
    def _reject(self, status: int, message: str) -> None:
        """Refuse the request being parsed and close the connection once earlier ones are done."""
        self._stop_reading()
        self._in_head = self._in_body = False
        parsing = self._parsing
        self._parsing = None
        if parsing is not None and not parsing.finished:
            if parsing is self._active and parsing.response_started:
                parsing.client_lost()
                self.abort()
                return
            parsing.client_lost()
            self._pipeline = deque(e for e in self._pipeline if e is not parsing)
            if parsing is self._active:
                self._active = None
        response = error_response(status, message, request_id=self.server.next_request_id())
        if self._active is None and not self._pipeline:
            self._send_final(response)
        else:
            # Answer in order: after the requests already accepted.
            self._pipeline.append(_FinalResponse(response))

    def _send_final(self, response: LocalResponse) -> None:
        log.info("refused a request from %s with %d", self._client_ip, response.status)
        self.write(serialize(response, request_id="-", keep_alive=False, head_only=False))
        self.close()

    def on_deadline(self) -> None:
        """Called by the server's sweeper when ``deadline`` passed."""
        self.deadline = 0.0
        if self.closed:
            return
        active = self._active
        if self._in_head or (active is not None and not active.request_done):
            if active is not None and active.response_started:
                self.abort()
                return
            if active is not None:
                active.client_lost()
                self._active = None
            self._pipeline.clear()
            self._parsing = None
            self._stop_reading()
            self._send_final(
                error_response(
                    408,
                    "The request was not received in time.",
                    request_id=self.server.next_request_id(),
                )
            )
        elif active is None and self.tunnel is None:
            self.close()  # idle keep-alive connection

    def drain(self) -> None:
        """Shutdown began: idle connections close now, busy ones after their response."""
        if self._active is None and self.tunnel is None and not self._in_head:
            self.close()


@dataclass(slots=True)
class _FinalResponse:
    """A queued rejection: waits in the pipeline so that responses stay in order."""

    response: LocalResponse
    finished: bool = False

    def client_lost(self) -> None:
        self.finished = True


def _host_name(authority: bytes) -> str:
    """The lower-case host name of a Host header value, without port; 400 if malformed."""
    text = authority.decode("latin-1").lower()
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or (len(text) > end + 1 and not text[end + 1 :].startswith(":")):
            raise _Reject(400, "Malformed Host header.")
        return text[: end + 1]
    name, _, port = text.partition(":")
    if port and not port.isdigit():
        raise _Reject(400, "Malformed Host header.")
    name = name.rstrip(".")
    if not name or not _HOST_CHARS.issuperset(name):
        raise _Reject(400, "Malformed Host header.")
    return name


class ProxyServer:
    """The per-process server: connections, the current state, timers and shutdown."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        state: ProxyState,
        clock: CoarseClock | None = None,
        endpoints: Mapping[str, Handler] | None = None,
    ) -> None:
        self.loop = loop
        self.clock = clock or CoarseClock(loop)
        self.state = state
        self.control = ControlEndpoints(lambda: self.draining, endpoints)
        self.connections: set[ClientConnection] = set()
        self.draining = False
        self._ids = count(1)
        self._id_prefix = request_id_prefix()
        self._tasks: set[asyncio.Future[Any]] = set()
        self.host_names: dict[bytes, str] = {}
        self.audit: AuditLog | None = None  # set by the runtime when auditing is on
        self.audit_public = False  # audit public routes' requests too
        self.guardrails: Guardrails | None = None  # violations over the decision stream
        self._idle = asyncio.Event()
        self._sweeper: asyncio.TimerHandle | None = None

    def protocol(self) -> ClientConnection:
        return ClientConnection(self)

    def next_request_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids):x}"

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start_sweeper(self) -> None:
        self._sweeper = self.loop.call_later(self.clock.tick, self._sweep)

    def _sweep(self) -> None:
        now = self.clock.refresh()
        for conn in [c for c in self.connections if c.deadline and c.deadline <= now]:
            try:
                conn.on_deadline()
            except Exception:
                log.exception("error while timing out a connection")
                conn.abort()
        self.state.pools.sweep(now)
        self._sweeper = self.loop.call_later(self.clock.tick, self._sweep)

    def connection_closed(self) -> None:
        if self.draining and not self.connections:
            self._idle.set()

    async def drain(self, grace: float) -> None:
        """Finish in-flight requests within ``grace`` seconds, then cut what remains."""
        self.draining = True
        for conn in list(self.connections):
            conn.drain()
        if self.connections:
            self._idle.clear()
            try:
                await asyncio.wait_for(self._idle.wait(), timeout=grace)
            except TimeoutError:
                log.warning(
                    "shutdown deadline passed; aborting %d connections", len(self.connections)
                )
                for conn in list(self.connections):
                    conn.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.state.pools.close()
