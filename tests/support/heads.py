"""Request heads as the server builds them, for tests: every field defaulted, any overridden."""

from __future__ import annotations

from collections.abc import Iterable

from portcullis.http.request import RequestHead

__all__ = ["request_head"]


def request_head(
    method: str = "GET",
    path: str = "/",
    query: bytes = b"",
    *,
    host: str = "app.test",
    authority: bytes | None = None,
    headers: Iterable[tuple[bytes, bytes]] = (),
    client_ip: str = "127.0.0.1",
    scheme: str = "http",
    request_id: str = "rid-1",
    keep_alive: bool = True,
    chunked: bool = False,
    content_length: int | None = None,
    accept: bytes = b"",
    forwarded_for: str = "",
) -> RequestHead:
    """A parsed request head; ``authority`` defaults to ``host``."""
    return RequestHead(
        method=method,
        path=path,
        query=query,
        version="1.1",
        host=host,
        authority=host.encode() if authority is None else authority,
        headers=list(headers),
        client_ip=client_ip,
        scheme=scheme,
        request_id=request_id,
        keep_alive=keep_alive,
        chunked=chunked,
        content_length=content_length,
        expect_continue=False,
        upgrade=None,
        accept=accept,
        forwarded_for=forwarded_for,
    )
