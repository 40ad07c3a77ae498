"""One request/response exchange between a client connection and an upstream connection.

Lifecycle::

    start() ──control path──▶ local response
       │──no route / denied──▶ local response (404 / 401 / 403)
       ▼
    gate decision (sync, or awaited when the gate must do I/O)
       ▼
    pooled connection, or connect (502 refused / 504 timeout)
       ▼
    request head + body streamed upstream ──▶ response head, body streamed to the client
       ▼                                         (or 101: both sides become a byte tunnel)
    finished: upstream back to its pool, client ready for its next request

Backpressure: when the upstream's write buffer fills, the client stops being
read; when the client's write buffer fills, the upstream stops being read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import replace
from time import monotonic
from typing import TYPE_CHECKING

from portcullis.decided import record_decision
from portcullis.decision import Decision, GuardrailDecision
from portcullis.guardrails.body import BodyGuard, Intake
from portcullis.http.headers import HOP_BY_HOP, connection_tokens
from portcullis.http.pages import (
    LocalResponse,
    decision_response,
    error_response,
    serialize,
    status_line,
)
from portcullis.http.request import RequestHead
from portcullis.http.upstream import UpstreamConnection, UpstreamPool
from portcullis.metrics import METRICS

if TYPE_CHECKING:
    from portcullis.http.server import ClientConnection
    from portcullis.routing import RouteTarget

__all__ = ["Exchange"]

log = logging.getLogger("portcullis.proxy")

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_MAX_CONTROL_BODY = 64 * 1024  # sign-in callbacks and logout forms are small
_STREAM, _LIMIT, _CONTROL, _INSPECT = 0, 1, 2, 3  # how the request body is taken (_intake)
_NO_BODY_STATUS = frozenset({204, 304})
_CONNECTION_PLAIN = frozenset({b"keep-alive", b"close"})
_R_CONTENT_LENGTH, _R_TRANSFER_ENCODING, _R_CONNECTION, _R_DROP = 1, 2, 3, 4
_RESPONSE_FIELDS: dict[bytes, int] = {name: _R_DROP for name in HOP_BY_HOP} | {
    b"content-length": _R_CONTENT_LENGTH,
    b"transfer-encoding": _R_TRANSFER_ENCODING,
    b"connection": _R_CONNECTION,
    b"x-request-id": _R_DROP,
}


class Exchange:
    __slots__ = (
        "_body_buffer",
        "_chunked_out",
        "_close_after",
        "_guard",
        "_intake",
        "_limit",
        "_out",
        "_received",
        "_request_head",
        "_retried",
        "_switch_head",
        "_until_close",
        "_upstream_keep_alive",
        "client",
        "decision",
        "finished",
        "head",
        "request_done",
        "response_started",
        "route",
        "started",
        "status",
        "upstream",
    )
    # Set when _intake is not _STREAM: the body guard, bytes received, the most allowed.
    _guard: BodyGuard
    _received: int
    _limit: int

    def __init__(self, client: ClientConnection, head: RequestHead) -> None:
        self.client = client
        self.head = head
        self.started = monotonic()
        self.decision: Decision | None = None  # the gate's, until it is audited
        self.route: RouteTarget[UpstreamPool] | None = None
        self.upstream: UpstreamConnection | None = None
        self.request_done = not head.has_body
        self.response_started = False
        self.finished = False
        self.status = 0
        self._body_buffer: list[bytes] | None = None
        self._out: list[bytes] = []
        self._request_head = b""
        self._chunked_out = False
        self._close_after = False
        self._intake = _STREAM
        self._upstream_keep_alive = False
        self._retried = False
        self._switch_head = b""
        self._until_close = False

    # starting -----------------------------------------------------------------------------------
    def start(self) -> None:
        client = self.client
        head = self.head
        state = client.server.state
        if head.path.startswith("/.portcullis/") or head.path == "/.portcullis":
            self._intake, self._received, self._limit = _CONTROL, 0, _MAX_CONTROL_BODY
            if self.request_done:
                self._dispatch_control(b"")
            else:
                self._body_buffer = []  # the endpoint answers once the body is in
            return
        route = state.router.match(head.host, head.path)
        if route is None:
            self.respond(self.error(404, "No route matches this host and path."))
            return
        self.route = route
        decision = state.gate.check(head, route)
        if isinstance(decision, Decision):
            self._decided(decision)
        else:
            client.pause_for_exchange()
            self.client.server.spawn(self._await_decision(decision))

    async def _await_decision(self, pending: Awaitable[Decision]) -> None:
        try:
            decision = await pending
        except Exception:
            log.exception("the gate failed; denying (request %s)", self.head.request_id)
            self.respond(self.error(500, "The request could not be authorized."))
            return
        if not self.client.closed:
            self._decided(decision)

    def _decided(self, decision: Decision) -> None:
        if self.decision is None:  # not again when a guarded body was let through
            METRICS.decided(decision.allow, monotonic() - self.started)
        self.decision = decision
        head = self.head
        if not decision.allow:
            self.respond(decision_response(decision, head))
            return
        route = self.route
        assert route is not None
        self._request_head = self._build_request_head(route.pool, decision.upstream_headers)
        guard = decision.body_guard
        if guard is not None and head.has_body and self._guard_body(guard):
            return  # refused, or reading a body to check before anything is forwarded
        conn = route.pool.acquire()
        if conn is not None:
            self._attach(conn)
        else:
            self.client.pause_for_exchange()
            self.client.server.spawn(self._connect(route.pool))

    async def _connect(self, pool: UpstreamPool) -> None:
        try:
            conn = await pool.connect()
        except TimeoutError:
            self.respond(self.error(504, "The upstream did not accept the connection in time."))
            return
        except OSError as exc:
            log.warning("upstream %s unreachable: %s", pool.origin, exc)
            self.respond(self.error(502, "The upstream is unreachable."))
            return
        if self.client.closed or self.finished:
            conn.close()
            return
        self._attach(conn)

    def _build_request_head(self, pool: UpstreamPool, identity: bytes) -> bytes:
        head = self.head
        route = self.route
        assert route is not None
        host = head.authority if route.config.preserve_host and head.authority else pool.authority
        parts = [
            head.method.encode(),
            b" ",
            head.target,
            b" HTTP/1.1\r\nHost: ",
            host,
            b"\r\n",
        ]
        for name, value in head.headers:
            parts += (name, b": ", value, b"\r\n")
        parts.append(identity)
        if head.chunked:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        elif head.content_length is not None:
            parts.append(b"Content-Length: %d\r\n" % head.content_length)
        if head.upgrade is not None:
            parts += (b"Connection: Upgrade\r\nUpgrade: ", head.upgrade, b"\r\n\r\n")
        else:
            parts.append(b"\r\n")
        return b"".join(parts)

    def _attach(self, conn: UpstreamConnection) -> None:
        if self.finished or self.client.closed:
            conn.pool.release(conn)
            return
        self.upstream = conn
        conn.attach(self, self.head.method == "HEAD")
        out = [self._request_head]
        chunked = self.head.chunked
        if self._body_buffer:
            for piece in self._body_buffer:
                out.append(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
            self._body_buffer = None
        if self.request_done:
            if chunked:
                out.append(_LAST_CHUNK)
            conn.arm()
        assert conn.transport is not None
        conn.transport.write(b"".join(out))
        if self.head.expect_continue and not self.request_done:
            self.client.write(_CONTINUE)
        if self.client.writing_paused:
            # An earlier response still fills the client's buffer: read this one when it drains.
            self.client_pause_writing()
        self.client.resume_for_exchange()

    # request body from the client ---------------------------------------------------------------
    def _dispatch_control(self, body: bytes) -> None:
        result = self.client.server.control(self.head, body)
        if isinstance(result, LocalResponse):
            self.respond(result)
        else:
            self.client.pause_for_exchange()
            self.client.server.spawn(self._await_control(result))

    async def _await_control(self, pending: Awaitable[LocalResponse]) -> None:
        try:
            response = await pending
        except Exception:
            log.exception("a control endpoint failed (request %s)", self.head.request_id)
            response = self.error(500, "Internal error.")
        self.respond(response)

    def request_body(self, piece: bytes) -> None:
        if self._intake and not self._take(piece):
            return
        conn = self.upstream
        if conn is not None and conn.transport is not None:
            if self.head.chunked:
                piece = b"%x\r\n%b\r\n" % (len(piece), piece)
            conn.transport.write(piece)
        elif not self.finished:
            if self._body_buffer is None:
                self._body_buffer = []
            self._body_buffer.append(piece)
            self.client.pause_for_exchange()

    def request_end(self) -> None:
        if self.request_done:
            return
        self.request_done = True
        if self._intake and self._buffered_end():
            return
        conn = self.upstream
        if conn is not None and conn.transport is not None:
            if self.head.chunked:
                conn.transport.write(_LAST_CHUNK)
            if not self.client.writing_paused:  # else armed when the client drains
                conn.arm()

    def _take(self, piece: bytes) -> bool:
        """A body not simply streamed (control, guarded): True when ``piece`` streams on."""
        if self.finished:
            return False
        self._received += len(piece)
        if self._intake == _LIMIT:
            if self._received <= self._limit:
                return True
            self._refuse_body(self._guard.too_large)
            return False
        buffered = self._body_buffer
        if buffered is None:
            return False
        buffered.append(piece)
        if self._received > self._limit:
            self._body_buffer = None
            if self._intake == _CONTROL:
                self.respond(self.error(413, "The request body is too large."))
            else:
                self._refuse_body(self._guard.cap_refusal)
        return False

    def _buffered_end(self) -> bool:
        """The body is in: True when it was read whole here (a control or guarded body)."""
        if self._intake == _LIMIT:
            return False
        buffered = self._body_buffer
        self._body_buffer = None
        if buffered is not None and not self.finished:
            body = b"".join(buffered)
            if self._intake == _CONTROL:
                self._dispatch_control(body)
            else:
                self._inspected(body)
        return True

    # request body guardrails (portcullis.guardrails.body) ---------------------------------------
    def _guard_body(self, guard: BodyGuard) -> bool:
        """Set up the body's guardrails: True when the request is not to be forwarded now."""
        plan = guard.plan(self.head)
        if plan is Intake.STREAM:
            return False
        if isinstance(plan, Decision):
            self._refuse_body(plan)
            return True
        self._guard = guard
        self._received = sum(map(len, self._body_buffer or ()))  # came in before the decision
        if plan is Intake.LIMIT:
            assert guard.max_body is not None
            self._intake, self._limit = _LIMIT, guard.max_body
            if self._received > self._limit:
                self._refuse_body(guard.too_large)
                return True
            return False
        self._intake, self._limit = _INSPECT, guard.cap
        if self._received > self._limit:
            self._body_buffer = None
            self._refuse_body(guard.cap_refusal)
        elif self.request_done:
            self._intake = _STREAM  # the whole body came with the head
            self._inspected(b"".join(self._body_buffer or ()))
        else:
            if self._body_buffer is None:
                self._body_buffer = []
            if self.head.expect_continue:
                self.client.write(_CONTINUE)
            self.client.resume_for_exchange()  # read the body now; forward it once checked
        return True

    def _inspected(self, body: bytes) -> None:
        """A whole body read for the JSON patterns: refused, or forwarded as it was read."""
        refusal = self._guard.check_json(body) if body else None  # empty: nothing to check
        if refusal is not None:
            self._refuse_body(refusal)
            return
        decision = self.decision
        assert isinstance(decision, GuardrailDecision)
        self._intake = _STREAM
        self._body_buffer = [body] if body else None
        self._decided(replace(decision, body_guard=None))  # now an ordinary allowed request

    def _refuse_body(self, refusal: Decision) -> None:
        """A body guardrail refused: answer if the response has not started, else cut."""
        decided = self.decision
        self.decision = replace(refusal, subject=decided.subject if decided else None)
        if not self.response_started:
            self.respond(decision_response(refusal, self.head))
            return
        conn = self.upstream
        self.upstream = None
        if conn is not None:
            conn.discard()
        self.finished = True
        self._record()
        self.client.abort()

    # response from the upstream -----------------------------------------------------------------
    def response_interim(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        if status == 101:
            self.status = 101
            self._switch_head = status_line(status) + _filter_response_headers(headers)
            return
        # 100 Continue is Portcullis' own business with the client; other 1xx pass to 1.1 clients.
        if status != 100 and self.head.version == "1.1":
            self._out.append(status_line(status) + _filter_response_headers(headers) + b"\r\n")

    def upstream_upgraded(self) -> bool:
        """The upstream switched protocols: tunnel bytes both ways from now on."""
        upgrade = self.head.upgrade
        if self.status != 101 or upgrade is None:
            self.upstream_failed(self.upstream, 502, "The upstream switched protocols unasked.")
            return False
        self.response_started = True
        self._out.append(
            self._switch_head + b"Connection: Upgrade\r\nUpgrade: " + upgrade + b"\r\n\r\n"
        )
        self.flush()
        self.client.start_tunnel(self)
        return True

    def response_head(
        self,
        conn: UpstreamConnection,
        status: int,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
    ) -> None:
        head = self.head
        self.status = status
        self.response_started = True
        self._upstream_keep_alive = keep_alive
        client = self.client
        parts = [status_line(status)]
        has_length = chunked = False
        connection_values: list[bytes] | None = None
        for name, value in headers:
            kind = _RESPONSE_FIELDS.get(name.lower())
            if kind is None:
                parts += (name, b": ", value, b"\r\n")
            elif kind == _R_CONTENT_LENGTH:
                has_length = True
                parts += (name, b": ", value, b"\r\n")
            elif kind == _R_TRANSFER_ENCODING:
                chunked = True
            elif kind == _R_CONNECTION and value.lower() not in _CONNECTION_PLAIN:
                connection_values = (connection_values or []) + [value]
            # _R_DROP: hop-by-hop, or an X-Request-Id that Portcullis sets itself
        if connection_values is not None:
            parts = _drop_listed(parts, connection_values)
        no_body = head.method == "HEAD" or status in _NO_BODY_STATUS
        if not no_body and not has_length:
            # Chunked or close-delimited upstream: re-chunk for 1.1 clients, close-delimit for 1.0.
            self._until_close = not chunked
            if head.version == "1.1":
                self._chunked_out = True
                parts.append(b"Transfer-Encoding: chunked\r\n")
            else:
                self._close_after = True
        parts += (b"X-Request-Id: ", head.request_id.encode(), b"\r\n")
        keep_alive_out = head.keep_alive and not self._close_after and not client.server.draining
        if not keep_alive_out:
            parts.append(b"Connection: close\r\n\r\n")
        elif head.version == "1.0":
            parts.append(b"Connection: keep-alive\r\n\r\n")
        else:
            parts.append(b"\r\n")
        self._close_after = not keep_alive_out
        self._out.append(b"".join(parts))

    def response_body(self, piece: bytes) -> None:
        if self._chunked_out:
            self._out.append(b"%x\r\n%b\r\n" % (len(piece), piece))
        else:
            self._out.append(piece)

    def response_end(self, conn: UpstreamConnection) -> None:
        if self.finished:
            return
        if self._chunked_out:
            self._out.append(_LAST_CHUNK)
        self.flush()
        self.upstream = None
        if self._upstream_keep_alive and self.request_done:
            conn.pool.release(conn)
        else:
            conn.pool.busy.discard(conn)
            conn.exchange = None
            conn.close()
        self.finished = True
        self._record()
        self.client.exchange_finished(self, not self._close_after and self.request_done)

    def flush(self) -> None:
        out = self._out
        if out:
            self.client.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    # failures -----------------------------------------------------------------------------------
    def upstream_lost(self, conn: UpstreamConnection) -> None:
        """The upstream connection closed while this exchange used it."""
        if self.finished:
            return
        self.upstream = None
        if self.status == 101 and self.client.tunnel is self:
            self.client.close()
            self.finished = True
            self._record()
            return
        if self.response_started:
            if self._until_close:
                # A close-delimited body ends with the connection.
                self.response_end(conn)
                return
            self.flush()
            log.warning(
                "upstream %s closed mid-response (request %s)",
                conn.pool.origin,
                self.head.request_id,
            )
            self.finished = True
            self._record()
            self.client.abort()
            return
        if self._can_retry(conn):
            self._retried = True
            log.info(
                "retrying on a new connection: pooled connection was stale (request %s)",
                self.head.request_id,
            )
            self.client.pause_for_exchange()
            self.client.server.spawn(self._connect(conn.pool))
            return
        log.warning(
            "upstream %s closed before responding (request %s)",
            conn.pool.origin,
            self.head.request_id,
        )
        self.respond(self.error(502, "The upstream closed the connection without responding."))

    def _can_retry(self, conn: UpstreamConnection) -> bool:
        return (
            conn.reused
            and not conn.received
            and not self._retried
            and self.head.method in _IDEMPOTENT
            and not self.head.has_body
            and self.head.upgrade is None
        )

    def upstream_failed(self, conn: UpstreamConnection | None, status: int, message: str) -> None:
        """A protocol error or a timeout upstream: answer if we still can, else cut the client."""
        if self.finished:
            return
        self.upstream = None
        if conn is not None:
            conn.discard()
        if self.response_started:
            self.finished = True
            self._record()
            self.client.abort()
        else:
            self.respond(self.error(status, message))

    def client_lost(self) -> None:
        """The client went away: the upstream connection is mid-exchange and cannot be reused."""
        self.finished = True
        self._record()
        conn = self.upstream
        self.upstream = None
        if conn is not None:
            conn.discard()

    def _record(self) -> None:
        """Count the decided request and queue its audit record, once the exchange is over."""
        decision = self.decision
        if decision is None:
            return
        self.decision = None
        server = self.client.server
        record_decision(
            server.audit,
            server.audit_public,
            self.head,
            self.route,
            decision,
            self.status,
            monotonic() - self.started,
        )

    # backpressure -------------------------------------------------------------------------------
    def upstream_pause_writing(self) -> None:
        self.client.pause_for_backpressure()

    def upstream_resume_writing(self) -> None:
        self.client.resume_for_backpressure()

    def client_pause_writing(self) -> None:
        conn = self.upstream
        if conn is not None and conn.transport is not None:
            conn.transport.pause_reading()
            conn.deadline = 0.0

    def client_resume_writing(self) -> None:
        conn = self.upstream
        if conn is not None and conn.transport is not None:
            conn.transport.resume_reading()
            if not conn.tunnel and self.request_done:
                conn.arm()

    def tunnel_to_client(self, data: bytes) -> None:
        self.client.write(data)

    def tunnel_to_upstream(self, data: bytes) -> None:
        conn = self.upstream
        if conn is not None and conn.transport is not None:
            conn.transport.write(data)

    def tunnel_eof_from_client(self) -> None:
        conn = self.upstream
        if conn is not None and conn.transport is not None and conn.transport.can_write_eof():
            conn.transport.write_eof()

    # local responses ----------------------------------------------------------------------------
    def error(self, status: int, message: str) -> LocalResponse:
        return error_response(
            status, message, request_id=self.head.request_id, accept=self.head.accept
        )

    def respond(self, response: LocalResponse) -> None:
        """Answer from Portcullis itself (control endpoint, denial, upstream failure)."""
        if self.finished or self.client.closed:
            return
        if self.upstream is not None:
            conn = self.upstream
            self.upstream = None
            conn.discard()
        head = self.head
        self.status = response.status
        self.response_started = True
        keep_alive = (
            head.keep_alive
            and self.request_done
            and not response.close
            and not self.client.server.draining
        )
        self._out.append(
            serialize(
                response,
                request_id=head.request_id,
                keep_alive=keep_alive,
                head_only=head.method == "HEAD",
            )
        )
        self.flush()
        self.finished = True
        self._record()
        self.client.exchange_finished(self, keep_alive)


def _filter_response_headers(headers: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(
        name + b": " + value + b"\r\n" for name, value in headers if name.lower() not in HOP_BY_HOP
    )


def _drop_listed(parts: list[bytes], connection_values: list[bytes]) -> list[bytes]:
    """Remove headers the upstream named in its Connection header (rare: rebuild the list)."""
    listed = connection_tokens(connection_values) - {b"close", b"keep-alive"}
    if not listed:
        return parts
    kept = [parts[0]]
    for i in range(1, len(parts), 4):
        if parts[i].lower() not in listed:
            kept += parts[i : i + 4]
    return kept
