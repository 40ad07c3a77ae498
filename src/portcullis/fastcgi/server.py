"""An asyncio FastCGI server for the Authorizer role.

Each connection reads records (:mod:`portcullis.fastcgi.protocol`), keeps the
requests that are active on it by request id, and hands a request's parameters
to the handler once its ``FCGI_PARAMS`` stream ends. The handler returns a CGI
response (``Status: ...`` header lines, a blank line, a body), at once or as an
awaitable when it must do I/O; the server sends it as ``FCGI_STDOUT`` and ends
the request with ``FCGI_END_REQUEST``.

- ``FCGI_KEEP_CONN``: without it the connection is closed after the response
  (Apache's mod_authnz_fcgi never sets it: one connection per check).
- Multiplexing: several requests may be active on one connection, each answered
  when it is ready; at most ``max_requests`` at a time (more: ``FCGI_OVERLOADED``).
  An aborted request's late answer is dropped, never sent under a reused id.
- Only the Authorizer role is served (others: ``FCGI_UNKNOWN_ROLE``). Authorizers
  get no request body: ``FCGI_STDIN``/``FCGI_DATA`` content is ignored.
- Parameters over the size limit: the request is answered with ``too_large``
  at once and the rest of its stream is ignored. A connection buffers at most
  ``max_requests * max_params`` bytes (16 * 64 KiB by default).
- Malformed input (bad version, truncated record, broken name-value pair, a
  record type a web server never sends): the connection is logged and closed.
  A handler that raises answers ``failure`` (a 500): never an allow.
- A connection silent for ``timeout`` seconds with nothing in progress is closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import cast

from portcullis.fastcgi.protocol import (
    MAX_PARAMS_BYTES,
    ParamsBuffer,
    ProtocolError,
    ProtocolStatus,
    Record,
    RecordReader,
    RecordType,
    Role,
    decode_pairs,
    encode_end_request,
    encode_pairs,
    encode_record,
    encode_stream,
    encode_unknown_type,
    parse_begin_request,
)
from portcullis.http.connection import OwnedTransport

__all__ = ["FastCgiConnection", "FastCgiServer", "Handler", "Pairs"]

log = logging.getLogger("portcullis.fastcgi")

Pairs = list[tuple[bytes, bytes]]
Handler = Callable[[Pairs], bytes | Awaitable[bytes]]

_SWEEP_INTERVAL = 1.0
_ABORTED = 1  # application status of a request the web server aborted
_IGNORED = frozenset({RecordType.STDIN, RecordType.DATA})
_KNOWN_TYPES = frozenset(int(t) for t in RecordType)


class _Request:
    __slots__ = ("id", "keep_conn", "params", "task")

    def __init__(self, request_id: int, keep_conn: bool, max_params: int) -> None:
        self.id = request_id
        self.keep_conn = keep_conn
        self.params: ParamsBuffer | None = ParamsBuffer(max_params)
        self.task: asyncio.Future[None] | None = None


class FastCgiConnection(OwnedTransport):
    """One connection from the web server."""

    def __init__(self, server: FastCgiServer) -> None:
        super().__init__()
        self.server = server
        self.deadline = 0.0
        self.peer = "-"
        self._reader = RecordReader()
        self._requests: dict[int, _Request] = {}
        self._eof = False

    @property
    def busy(self) -> bool:
        return any(request.task is not None for request in self._requests.values())

    # asyncio protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "unix"
        server = self.server
        if server.draining or len(server.connections) >= server.max_connections:
            log.warning(
                "refusing FastCGI connection from %s: %d open", self.peer, len(server.connections)
            )
            self.close()
            return
        server.connections.add(self)
        self.deadline = server.loop.time() + server.timeout

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.deadline = self.server.loop.time() + self.server.timeout
        try:
            for record in self._reader.feed(data):
                self._dispatch(record)
                if self.closed:
                    return
        except ProtocolError as exc:
            self.fail(str(exc))
        except Exception:
            log.exception("internal error on the FastCGI connection from %s", self.peer)
            self.abort()

    def eof_received(self) -> bool | None:
        if self._reader.pending:
            self.fail(f"connection ended inside a record ({self._reader.pending} bytes)")
            return None
        if self.busy:
            self._eof = True  # answer what is in progress, then close
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for request in self._requests.values():
            if request.task is not None:
                request.task.cancel()
        self._requests.clear()
        self.server.connections.discard(self)
        self.server.connection_closed()

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    # records ----------------------------------------------------------------------------------
    def _dispatch(self, record: Record) -> None:
        kind = record.type
        request_id = record.request_id
        if request_id == 0:
            self._management(record)
            return
        request = self._requests.get(request_id)
        if kind == RecordType.PARAMS:
            if request is None:
                return  # an inactive request (finished or refused early): ignored, as specified
            params = request.params
            if params is None:
                raise ProtocolError(f"FCGI_PARAMS after the end of request {request_id}'s stream")
            if record.content:
                params.append(record.content)
                if params.oversized:
                    log.warning(
                        "FastCGI request from %s: parameters over %d bytes; refused",
                        self.peer,
                        params.limit,
                    )
                    self._respond(request, self.server.too_large)
            else:
                self._start(request, params)
        elif kind == RecordType.BEGIN_REQUEST:
            if request is not None:
                raise ProtocolError(f"FCGI_BEGIN_REQUEST for request {request_id}, already active")
            begin = parse_begin_request(record.content)
            if begin.role != Role.AUTHORIZER:
                self._end(request_id, begin.keep_conn, ProtocolStatus.UNKNOWN_ROLE)
            elif len(self._requests) >= self.server.max_requests:
                self._end(request_id, begin.keep_conn, ProtocolStatus.OVERLOADED)
            else:
                self._requests[request_id] = _Request(
                    request_id, begin.keep_conn, self.server.max_params
                )
        elif kind in _IGNORED:
            return
        elif kind == RecordType.ABORT_REQUEST:
            if request is not None:
                if request.task is not None:
                    request.task.cancel()
                del self._requests[request_id]
                self._end(request_id, request.keep_conn, app_status=_ABORTED)
        else:
            raise ProtocolError(f"unexpected record type {kind} for request {request_id}")

    def _management(self, record: Record) -> None:
        if record.type == RecordType.GET_VALUES:
            values = self.server.values
            found = [
                (name, values[name]) for name, _ in decode_pairs(record.content) if name in values
            ]
            self.write(encode_record(RecordType.GET_VALUES_RESULT, 0, encode_pairs(found)))
        elif record.type in _KNOWN_TYPES:
            raise ProtocolError(f"record type {record.type} needs a request id")
        else:
            self.write(encode_unknown_type(record.type))

    # answering --------------------------------------------------------------------------------
    def _start(self, request: _Request, params: ParamsBuffer) -> None:
        pairs = params.pairs()  # ProtocolError: the connection is closed
        request.params = None
        try:
            result = self.server.handler(pairs)
        except Exception:
            log.exception("the FastCGI handler failed")
            result = self.server.failure
        if isinstance(result, bytes):
            self._respond(request, result)
        else:
            request.task = asyncio.ensure_future(self._await(request, result))

    async def _await(self, request: _Request, pending: Awaitable[bytes]) -> None:
        try:
            response = await pending
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the FastCGI handler failed")
            response = self.server.failure
        self._respond(request, response)

    def _respond(self, request: _Request, response: bytes) -> None:
        if self.closed or self._requests.get(request.id) is not request:
            return  # aborted, or the connection went away: the answer has nobody to go to
        del self._requests[request.id]
        self.write(
            encode_stream(RecordType.STDOUT, request.id, response) + encode_end_request(request.id)
        )
        self._after(request.keep_conn)

    def _end(
        self,
        request_id: int,
        keep_conn: bool,
        status: ProtocolStatus = ProtocolStatus.REQUEST_COMPLETE,
        app_status: int = 0,
    ) -> None:
        self.write(encode_end_request(request_id, app_status, status))
        self._after(keep_conn)

    def _after(self, keep_conn: bool) -> None:
        if not keep_conn or (self._eof and not self.busy):
            self.close()

    # output -----------------------------------------------------------------------------------
    def fail(self, reason: str) -> None:
        log.warning("closing the FastCGI connection from %s: %s", self.peer, reason)
        self.abort()


class FastCgiServer:
    """The connections of one listener, their deadlines, and a graceful shutdown.

    ``too_large`` and ``failure`` are the CGI responses the server sends by itself:
    for parameters over ``max_params`` bytes, and when the handler raises.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        handler: Handler,
        *,
        too_large: bytes,
        failure: bytes,
        timeout: float = 30.0,
        max_connections: int = 10000,
        max_requests: int = 16,
        max_params: int = MAX_PARAMS_BYTES,
    ) -> None:
        self.loop = loop
        self.handler = handler
        self.too_large = too_large
        self.failure = failure
        self.timeout = timeout
        self.max_connections = max_connections
        self.max_requests = max_requests
        self.max_params = max_params
        self.connections: set[FastCgiConnection] = set()
        self.draining = False
        self.values = {
            b"FCGI_MAX_CONNS": str(max_connections).encode(),
            b"FCGI_MAX_REQS": str(max_connections * max_requests).encode(),
            b"FCGI_MPXS_CONNS": b"1",
        }
        self._idle = asyncio.Event()
        self._sweeper: asyncio.TimerHandle | None = None

    def protocol(self) -> FastCgiConnection:
        return FastCgiConnection(self)

    def start_sweeper(self) -> None:
        self._sweeper = self.loop.call_later(_SWEEP_INTERVAL, self._sweep)

    def _sweep(self) -> None:
        now = self.loop.time()
        for conn in [c for c in self.connections if c.deadline <= now and not c.busy]:
            conn.close()
        self._sweeper = self.loop.call_later(_SWEEP_INTERVAL, self._sweep)

    def connection_closed(self) -> None:
        if self.draining and not self.connections:
            self._idle.set()

    async def drain(self, grace: float) -> None:
        """Close idle connections, let busy ones answer within ``grace`` seconds, cut the rest."""
        self.draining = True
        for conn in list(self.connections):
            if not conn.busy:
                conn.close()
        if self.connections:
            self._idle.clear()
            try:
                await asyncio.wait_for(self._idle.wait(), timeout=grace)
            except TimeoutError:
                for conn in list(self.connections):
                    conn.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()
