"""HTTP calls to identity providers (off the request hot path).

One :class:`Fetcher` per worker wraps an ``httpx.AsyncClient`` with short
timeouts, no redirects (an IdP endpoint that redirects is misconfigured) and a
response size cap. Every failure becomes :class:`IdpUnavailable`, whose message
names the URL and the cause but never a secret or a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson

__all__ = ["Fetcher", "IdpUnavailable"]

_MAX_BYTES = 1 << 20


class IdpUnavailable(Exception):
    """The identity provider could not be reached or answered nonsense."""


class Fetcher:
    def __init__(self, *, timeout: float = 5.0, verify: bool | str = True) -> None:
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            verify=verify,
            headers={"User-Agent": "portcullis", "Accept": "application/json"},
        )

    async def get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as exc:
            raise IdpUnavailable(f"GET {url}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise IdpUnavailable(f"GET {url}: HTTP {response.status_code}")
        return _json_object(response, url)

    async def post_form(
        self, url: str, form: Mapping[str, str], *, headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """POST ``form``; returns the status and the JSON object (OAuth errors are JSON too)."""
        try:
            response = await self._client.post(url, data=dict(form), headers=dict(headers or {}))
        except httpx.HTTPError as exc:
            raise IdpUnavailable(f"POST {url}: {type(exc).__name__}") from None
        return response.status_code, _json_object(response, url)

    async def close(self) -> None:
        await self._client.aclose()


def _json_object(response: httpx.Response, url: str) -> dict[str, Any]:
    if len(response.content) > _MAX_BYTES:
        raise IdpUnavailable(f"{url}: response larger than {_MAX_BYTES} bytes")
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise IdpUnavailable(f"{url}: not JSON (HTTP {response.status_code})") from None
    if not isinstance(data, dict):
        raise IdpUnavailable(f"{url}: not a JSON object")
    return data
