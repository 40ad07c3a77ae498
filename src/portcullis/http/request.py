"""The parsed, validated head of one client request, as the gate and the proxy see it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RequestHead"]


@dataclass(slots=True)
class RequestHead:
    """One request's head after parsing, normalization and header hygiene.

    ``headers`` holds the fields that will be forwarded (hop-by-hop and spoofable
    forwarding fields already removed), with original name casing. ``path`` is
    the normalized path; routing, the gate and the upstream all see that one.
    """

    method: str
    path: str
    query: bytes  # b"" or b"?..." exactly as received
    version: str  # "1.0" or "1.1"
    host: str  # lower-case host name without port
    authority: bytes  # the Host header value as received (forwarded when preserved)
    headers: list[tuple[bytes, bytes]]
    client_ip: str
    scheme: str
    request_id: str
    keep_alive: bool
    chunked: bool
    content_length: int | None
    expect_continue: bool
    upgrade: bytes | None  # the Upgrade token when a WebSocket upgrade is requested
    accept: bytes  # the Accept header, for choosing an error page's format
    # The client named by trusted proxies' X-Forwarded-For ("" when the peer is the client).
    forwarded_for: str = ""

    @property
    def source_ip(self) -> str:
        """The original client: the peer, or the address trusted proxies forwarded for."""
        return self.forwarded_for or self.client_ip

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)

    @property
    def target(self) -> bytes:
        """The request-target forwarded upstream: normalized path plus the raw query."""
        return self.path.encode("latin-1") + self.query
