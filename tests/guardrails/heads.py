"""Request heads for the guardrail tests, as the server builds them."""

from __future__ import annotations

from portcullis.http.request import RequestHead

RID = "rid-guard-1"


def head(
    method: str = "GET",
    path: str = "/api/items",
    query: bytes = b"",
    *,
    headers: tuple[tuple[bytes, bytes], ...] = (),
    content_length: int | None = None,
    chunked: bool = False,
    accept: bytes = b"",
) -> RequestHead:
    return RequestHead(
        method,
        path,
        query,
        "1.1",
        "api.example",
        b"api.example",
        list(headers),
        "127.0.0.1",
        "https",
        RID,
        True,
        chunked,
        content_length,
        False,
        None,
        accept,
    )


JSON = ((b"Content-Type", b"application/json"),)
