"""A tiny raw-socket HTTP/1.1 client: exact bytes out, strictly parsed bytes in.

The tests need to send malformed and pipelined requests and to see exactly how
a response is framed and whether the connection was closed, which a real client
library hides. Every read has a timeout, so a misbehaving proxy fails a test
instead of hanging the suite.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Closed", "Conn", "Response", "ResponseHead", "fetch", "request_bytes"]

DEFAULT_HOST = "app.test"


def request_bytes(
    method: str = "GET",
    target: str = "/echo",
    *,
    host: str | None = DEFAULT_HOST,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    version: str = "HTTP/1.1",
    content_length: bool | None = None,
) -> bytes:
    """Serialize a request; ``Content-Length`` is added when there is a body."""
    lines = [f"{method} {target} {version}"]
    headers = list(headers)
    if host is not None:
        lines.append(f"Host: {host}")
    lines.extend(f"{n}: {v}" for n, v in headers)
    has_length = any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers)
    if content_length or (content_length is None and body and not has_length):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class ResponseHead:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    raw: bytes

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def has_token(self, name: str, token: str) -> bool:
        """Whether a comma-separated header (Connection, Transfer-Encoding) holds ``token``."""
        return any(
            t.strip().lower() == token.lower() for v in self.header_all(name) for t in v.split(",")
        )


@dataclass
class Response(ResponseHead):
    body: bytes = b""
    framing: str = "none"  # "length", "chunked", "close" or "none"
    interim: list[ResponseHead] = field(default_factory=list)
    trailers: list[tuple[str, str]] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)

    def echo_header(self, name: str) -> str | None:
        """A request header as the upstream ``/echo`` saw it."""
        values = self.echo_header_all(name)
        return values[0] if values else None

    def echo_header_all(self, name: str) -> list[str]:
        return [v for n, v in self.json()["headers"] if n.lower() == name.lower()]


class Closed(Exception):
    """The peer closed the connection before a complete message arrived."""


class Conn:
    """One client connection to the proxy."""

    def __init__(
        self,
        port: int,
        *,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname=server_hostname)
        self.sock = sock
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with suppress(OSError):
            self.sock.close()

    # -- sending --------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str = "GET", target: str = "/echo", **kw: Any) -> None:
        self.send(request_bytes(method, target, **kw))

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    # -- receiving -------------------------------------------------------------------------

    def _fill(self, timeout: float | None = None) -> bool:
        """Read more bytes into the buffer; False at EOF (or reset)."""
        if self.eof:
            return False
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            data = self.sock.recv(1 << 18)
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            data = b""
        except ssl.SSLError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf.extend(data)
        return True

    def _read_until(self, delim: bytes, limit: int = 1 << 20) -> bytes:
        while True:
            i = self.buf.find(delim)
            if i >= 0:
                out = bytes(self.buf[: i + len(delim)])
                del self.buf[: i + len(delim)]
                return out
            if len(self.buf) > limit:
                raise AssertionError(f"no {delim!r} within {limit} bytes")
            if not self._fill():
                raise Closed(f"connection closed while waiting for {delim!r}: {bytes(self.buf)!r}")

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise Closed(f"connection closed after {len(self.buf)} of {n} bytes")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_head(self) -> ResponseHead:
        """The next response head, interim (1xx) ones included."""
        raw = self._read_until(b"\r\n\r\n")
        lines = raw[:-4].decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise AssertionError(f"not an HTTP response: {raw[:200]!r}")
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            assert sep, f"malformed response header line {line!r}"
            headers.append((name, value.strip(" \t")))
        return ResponseHead(version, int(code), reason, headers, raw)

    def read_response(
        self, method: str = "GET", *, on_body: Callable[[bytes], None] | None = None
    ) -> Response:
        """Read one final response (1xx before it are kept in ``interim``).

        With ``on_body`` the body is handed over piece by piece and not kept.
        """
        interim = []
        while True:
            head = self.read_head()
            if 100 <= head.status < 200 and head.status != 101:
                interim.append(head)
                continue
            break
        resp = Response(
            head.version, head.status, head.reason, head.headers, head.raw, interim=interim
        )
        sink = bytearray()
        put = on_body or sink.extend
        if method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200:
            resp.framing = "none"
        elif head.header("transfer-encoding") is not None:
            assert head.has_token("transfer-encoding", "chunked"), head.headers
            resp.framing = "chunked"
            while True:
                line = self._read_until(b"\r\n")
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while (t := self._read_until(b"\r\n")) != b"\r\n":
                        n, _, v = t.decode("latin-1").partition(":")
                        resp.trailers.append((n, v.strip()))
                    break
                self._stream(size, put)
                assert self._read_exact(2) == b"\r\n", "chunk data not followed by CRLF"
        elif head.header("content-length") is not None:
            resp.framing = "length"
            self._stream(int(head.header("content-length") or 0), put)
        else:
            resp.framing = "close"
            put(bytes(self.buf))
            self.buf.clear()
            while self._fill():
                put(bytes(self.buf))
                self.buf.clear()
        resp.body = bytes(sink)
        return resp

    def read_body(self, n: int, put: Callable[[bytes], None]) -> None:
        """Hand ``n`` body bytes (buffered ones first) to ``put``."""
        self._stream(n, put)

    def _stream(self, n: int, put: Callable[[bytes], None]) -> None:
        while n:
            if not self.buf and not self._fill():
                raise Closed(f"connection closed with {n} body bytes missing")
            piece = bytes(self.buf[:n])
            del self.buf[: len(piece)]
            n -= len(piece)
            put(piece)

    def read_available(self, timeout: float) -> bytes:
        """Whatever arrives within ``timeout`` (stops early at EOF)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                if not self._fill(left):
                    break
            except TimeoutError:
                break
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def read_to_close(self, timeout: float = 10.0) -> bytes:
        """Everything until the peer closes; AssertionError if it stays open."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"connection still open after {timeout}s")
            try:
                self._fill(left)
            except TimeoutError:
                raise AssertionError(f"connection still open after {timeout}s") from None
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def is_closed(self, timeout: float = 5.0) -> bool:
        """True when the peer closes within ``timeout`` (and sent nothing more)."""
        try:
            rest = self.read_to_close(timeout)
        except AssertionError:
            return False
        assert rest == b"", f"unexpected bytes before close: {rest[:200]!r}"
        return True

    def exchange(self, method: str = "GET", target: str = "/echo", **kw: Any) -> Response:
        self.request(method, target, **kw)
        return self.read_response(method)


def fetch(port: int, method: str = "GET", target: str = "/echo", **kw: Any) -> Response:
    """One request on a fresh connection."""
    with Conn(port) as conn:
        return conn.exchange(method, target, **kw)
