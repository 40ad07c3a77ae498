"""The signing keys of one issuer, refreshed the way Entra's key rollover needs.

- Keys are looked up by ``kid``; the set is refreshed periodically (hourly).
- An unknown ``kid`` triggers at most one synchronous refresh per
  ``min_refresh_interval`` (5 minutes) per issuer: a flood of forged kids costs
  one fetch, not one each.
- When a fetch fails the last-known-good keys stay in use; with none yet, a new attempt
  waits ``failure_backoff`` seconds. Concurrent first requests share one fetch.

The clock and the fetch are injected, so the policy is tested without sleeps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from portcullis.jose import KeySet
from portcullis.metrics import JWKS_REFRESHES_ERROR, JWKS_REFRESHES_OK, METRICS

__all__ = ["KeyCache"]

log = logging.getLogger("portcullis.oidc")


class KeyCache:
    def __init__(
        self,
        fetch: Callable[[], Awaitable[dict[str, Any]]],
        *,
        clock: Callable[[], float],
        max_age: float = 3600.0,
        min_refresh_interval: float = 300.0,
        failure_backoff: float = 10.0,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._max_age = max_age
        self._min_interval = min_refresh_interval
        self._failure_backoff = failure_backoff
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0

    @property
    def keys(self) -> KeySet | None:
        return self._keys

    async def current(self) -> KeySet:
        """The key set, refreshed when older than ``max_age`` (kept if the refresh fails)."""
        if self._keys is None or self._clock() - self._fetched_at > self._max_age:
            await self._refresh(force=self._keys is None)
        if self._keys is None:
            raise LookupError("the issuer's signing keys are not available")
        return self._keys

    async def refresh_for_unknown_kid(self) -> bool:
        """Refresh because a token named a kid we lack; False when rate-limited or failed."""
        return await self._refresh(force=False)

    async def _refresh(self, *, force: bool) -> bool:
        async with self._lock:
            now = self._clock()
            if force and self._keys is not None:
                return True  # another request loaded them while this one waited
            if not force and now - self._attempted_at < self._min_interval:
                return False
            if force and now - self._attempted_at < self._failure_backoff:
                return False  # the last attempt failed moments ago: do not hammer the IdP
            self._attempted_at = now
            self.fetches += 1
            try:
                keys = KeySet.from_jwks(await self._fetch())
            except Exception as exc:  # keep the last-known-good keys
                METRICS.cells[JWKS_REFRESHES_ERROR] += 1
                log.warning("cannot refresh signing keys: %s", exc)
                return False
            METRICS.cells[JWKS_REFRESHES_OK] += 1
            self._keys = keys
            self._fetched_at = now
            return True
