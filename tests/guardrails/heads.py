"""Request heads for the guardrail tests, as the server builds them."""

from __future__ import annotations

from portcullis.http.request import RequestHead
from tests.support.heads import request_head

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
    return request_head(
        method,
        path,
        query,
        host="api.example",
        headers=headers,
        scheme="https",
        request_id=RID,
        chunked=chunked,
        content_length=content_length,
        accept=accept,
    )


JSON = ((b"Content-Type", b"application/json"),)
