"""The one network edge of the Graph client: a bearer-authenticated JSON POST.

:class:`portcullis.oidc.fetch.Fetcher` serves the token endpoint; Graph calls
need what it does not offer — a JSON body, a bearer header, the status *and*
``Retry-After`` of a refusal — so they go through :class:`GraphHttp`, built the
same way: short timeouts, no redirects (a redirect would carry the bearer token
elsewhere), a response size cap enforced while streaming. Transport failures
become :class:`~portcullis.oidc.fetch.IdpUnavailable` naming the URL path and
the exception type, never the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from portcullis.oidc.fetch import IdpUnavailable
from portcullis.secret import Secret

__all__ = ["GraphHttp", "Reply", "parse_retry_after"]

_MAX_BYTES = 1 << 20
_MAX_RETRY_AFTER = 86_400.0


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any] | None  # the JSON object, or None when the body is not one
    retry_after: float | None  # seconds, from a delta-seconds ``Retry-After``


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as delta-seconds; an HTTP date or garbage gives None."""
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit() or not value.isascii() or len(value) > 6:
        return None
    return min(float(int(value)), _MAX_RETRY_AFTER)


class GraphHttp:
    def __init__(
        self, *, timeout: float = 5.0, verify: bool | str = True, max_bytes: int = _MAX_BYTES
    ) -> None:
        self._max_bytes = max_bytes
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            verify=verify,
            headers={"User-Agent": "portcullis", "Accept": "application/json"},
        )

    async def post_json(
        self, url: str, payload: Mapping[str, Any], *, bearer: Secret[str]
    ) -> Reply:
        where = f"POST {urlsplit(url).path}"
        headers = {
            "Authorization": f"Bearer {bearer.reveal()}",
            "Content-Type": "application/json",
        }
        try:
            async with self._client.stream(
                "POST", url, content=orjson.dumps(dict(payload)), headers=headers
            ) as response:
                content = bytearray()
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > self._max_bytes:
                        raise IdpUnavailable(f"{where}: response larger than {self._max_bytes}")
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except httpx.HTTPError as exc:
            raise IdpUnavailable(f"{where}: {type(exc).__name__}") from None
        return Reply(status, _json_object(bytes(content)), retry_after)

    async def close(self) -> None:
        await self._client.aclose()


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
