"""A document from an identity provider, loaded once and then kept.

One load at a time (concurrent first requests share it), and a failed load is
remembered for ``retry_after`` seconds, so an outage is not turned into an IdP
request per incoming token. Used for discovery documents; the signing keys, which
must be refreshed, live in :mod:`portcullis.oidc.keycache`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from portcullis.oidc.fetch import IdpUnavailable

__all__ = ["CachedDocument"]

T = TypeVar("T")


class CachedDocument(Generic[T]):
    def __init__(
        self,
        load: Callable[[], Awaitable[T]],
        *,
        clock: Callable[[], float],
        what: str,
        retry_after: float = 10.0,
    ) -> None:
        self._load = load
        self._clock = clock
        self._what = what
        self._retry_after = retry_after
        self._value: T | None = None
        self._failed_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def value(self) -> T | None:
        """The document when it has been loaded, else None (never loads)."""
        return self._value

    async def get(self) -> T:
        """The document; raises IdpUnavailable when it cannot be loaded."""
        if self._value is not None:
            return self._value
        async with self._lock:
            if self._value is not None:
                return self._value
            if self._clock() - self._failed_at < self._retry_after:
                raise IdpUnavailable(f"{self._what} failed moments ago")
            try:
                value = await self._load()
            except IdpUnavailable:
                self._failed_at = self._clock()
                raise
            self._value = value
        return value
