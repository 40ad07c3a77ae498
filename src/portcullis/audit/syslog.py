"""Syslog for SIEMs: RFC 5424 messages over UDP (RFC 5426) or a local unix datagram socket.

One datagram per record::

    <PRI>1 2026-11-26T10:00:00.123456Z web1 portcullis 4242 deny
    [origin software="portcullis" swVersion="0.1.0"][meta sequenceId="8"] BOM{"time":...}

APP-NAME is ``portcullis``, PROCID the worker's pid, MSGID the event, and MSG
the sealed JSON line (UTF-8, with the BOM RFC 5424 asks for). Severity
follows the event: ``violation`` warning (4); ``deny``, ``monitor-deny`` and
``token-rejected`` notice (5); everything else informational (6).
``meta sequenceId`` is the chain's ``seq`` + 1 (RFC 5424 counts from 1), so a
receiver can see gaps per process.

Addresses: ``udp://host:port`` (IPv6 in brackets) or a unix socket path
(``/dev/log``, or ``unix:///dev/log``). A receiver that falls behind (a unix
socket queues only ``net.unix.max_dgram_qlen`` messages, often 10) gets at most
50 ms per batch to catch up; messages it still cannot take, or that the kernel
refuses, are dropped and reported once per batch (the writer counts an error).
UDP gives no such signal: a receiver that is down or full loses messages
silently, which is why the SQLite store stays the record of truth.
"""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

from portcullis import __version__
from portcullis.audit.record import Event
from portcullis.audit.sink import Sealed

__all__ = ["FACILITIES", "SyslogSink", "parse_address"]

FACILITIES: Final = {
    "kern": 0,
    "user": 1,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "authpriv": 10,
    **{f"local{n}": 16 + n for n in range(8)},
}
_SEVERITY: Final = {
    Event.VIOLATION.value: 4,
    Event.DENY.value: 5,
    Event.MONITOR_DENY.value: 5,
    Event.TOKEN_REJECTED.value: 5,
}
_INFO: Final = 6
_BOM: Final = b"\xef\xbb\xbf"
_SEQ_MAX: Final = 2147483647
_WAIT: Final = 0.05  # seconds a batch may wait for a receiver that is behind


def parse_address(address: str) -> tuple[socket.AddressFamily, str | tuple[str, int]]:
    """``udp://host:port`` → (family, (host, port)); a path → (AF_UNIX, path).

    The family is AF_UNSPEC for a host name (resolved when the sink starts)."""
    if address.startswith("/"):
        return socket.AF_UNIX, address
    parts = urlsplit(address)
    if parts.scheme == "unix" and parts.path.startswith("/") and not parts.netloc:
        return socket.AF_UNIX, parts.path
    if parts.scheme == "udp" and parts.hostname:
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is None or port == 0 or parts.path not in ("", "/") or parts.username:
            raise ValueError("expected udp://host:port with a port from 1 to 65535")
        host = parts.hostname
        if ":" in host:
            return socket.AF_INET6, (host, port)
        literal = host.replace(".", "").isdigit()
        return (socket.AF_INET if literal else socket.AF_UNSPEC), (host, port)
    raise ValueError("expected udp://host:port, unix:///path or an absolute socket path")


class SyslogSink:
    name = "syslog"

    def __init__(
        self,
        address: str,
        facility: str = "authpriv",
        *,
        hostname: str | None = None,
        pid: int | None = None,
    ) -> None:
        self.address = address
        self._family, self._target = parse_address(address)
        self._facility = FACILITIES[facility]
        host = _printable(hostname or socket.gethostname(), 255) or "-"
        self._origin = f'[origin software="portcullis" swVersion="{__version__}"][meta sequenceId="'
        self._head = f" {host} portcullis {pid or os.getpid()} "
        self._sock: socket.socket | None = None
        self._second = -1
        self._when = ""
        if isinstance(self._target, tuple):  # resolve a host name once, at start
            info = socket.getaddrinfo(*self._target, self._family, socket.SOCK_DGRAM)[0]
            self._family = info[0]
            self._target = (str(info[4][0]), int(info[4][1]))

    def __repr__(self) -> str:
        return f"SyslogSink({self.address!r})"

    def message(self, entry: Sealed) -> bytes:
        """The RFC 5424 datagram for one record."""
        body = entry.body
        event = str(body["event"])
        pri = self._facility * 8 + _SEVERITY.get(event, _INFO)
        stamp = body["time"]
        seconds = int(stamp)
        micros = min(round((stamp - seconds) * 1e6), 999999)
        if seconds != self._second:  # records come in time order: format each second once
            self._second = seconds
            self._when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        when = self._when
        sequence = body["seq"] % _SEQ_MAX + 1
        head = f'<{pri}>1 {when}.{micros:06d}Z{self._head}{event} {self._origin}{sequence}"] '
        return head.encode() + _BOM + entry.line

    def write(self, batch: Sequence[Sealed]) -> None:
        failed = 0
        error: OSError | None = None
        deadline: float | None = None
        for entry in batch:
            message = self.message(entry)
            while True:
                try:
                    self._send(message)
                    break
                except BlockingIOError as exc:  # the receiver is behind: wait a little
                    now = time.monotonic()
                    deadline = deadline or now + _WAIT
                    if now < deadline and self._writable(deadline - now):
                        continue
                    failed, error = failed + 1, exc
                    break
                except OSError as exc:
                    failed, error = failed + 1, exc
                    self._drop_socket()  # a restarted syslog daemon: connect afresh
                    break
        if error is not None:
            raise OSError(f"{failed} of {len(batch)} messages not sent: {error.strerror or error}")

    def sync(self) -> None:
        """Datagrams are sent as written."""

    def close(self) -> None:
        self._drop_socket()

    def _send(self, message: bytes) -> None:
        if self._sock is None:
            sock = socket.socket(self._family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            if self._family == socket.AF_UNIX:
                try:  # connected, so that waiting for "writable" waits for the receiver
                    sock.connect(self._target)
                except OSError:
                    sock.close()
                    raise
            self._sock = sock
        if self._family == socket.AF_UNIX:
            self._sock.send(message)
        else:
            self._sock.sendto(message, self._target)

    def _writable(self, timeout: float) -> bool:
        if self._sock is None:
            return False
        return bool(select.select([], [self._sock], [], timeout)[1])

    def _drop_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _printable(text: str, limit: int) -> str:
    """RFC 5424 header fields are printable US-ASCII without spaces."""
    return "".join(c for c in text if "!" <= c <= "~")[:limit]
