"""Short-lived single-use records: authorization codes, pending sign-ins, used ``jti`` values.

One small thread-safe map with expiry. The clock is injected, so tests move
time instead of sleeping. ``take`` removes the record whether or not the caller
then accepts it: a code presented once is gone, even with a wrong verifier.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["OneTimeStore", "new_handle"]

V = TypeVar("V")

_DEFAULT_CAPACITY = 10_000


def new_handle() -> str:
    """An unguessable identifier (256 bits, base64url)."""
    return secrets.token_urlsafe(32)


class OneTimeStore(Generic[V]):
    """``key → value`` entries that expire after ``ttl`` seconds and can be taken once."""

    def __init__(
        self, *, ttl: float, clock: Callable[[], float], capacity: int = _DEFAULT_CAPACITY
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._capacity = capacity
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, V]] = {}

    def put(self, key: str, value: V, *, expires_at: float | None = None) -> None:
        now = self._clock()
        with self._lock:
            self._insert(now, key, value, expires_at)

    def add(self, key: str, value: V, *, expires_at: float | None = None) -> bool:
        """Insert only if ``key`` is not live already (replay detection); ``False`` if it is."""
        now = self._clock()
        with self._lock:
            entry = self._items.get(key)
            if entry is not None and entry[0] > now:
                return False
            self._insert(now, key, value, expires_at)
        return True

    def take(self, key: str) -> V | None:
        """Remove and return the live value for ``key``; ``None`` if absent or expired."""
        with self._lock:
            entry = self._items.pop(key, None)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def __len__(self) -> int:
        with self._lock:
            self._purge(self._clock())
            return len(self._items)

    def _insert(self, now: float, key: str, value: V, expires_at: float | None) -> None:
        deadline = now + self._ttl if expires_at is None else min(expires_at, now + self._ttl)
        self._purge(now)
        while len(self._items) >= self._capacity:  # oldest first (dicts keep order)
            del self._items[next(iter(self._items))]
        self._items[key] = (deadline, value)

    def _purge(self, now: float) -> None:
        expired = [k for k, (deadline, _) in self._items.items() if deadline <= now]
        for key in expired:
            del self._items[key]
