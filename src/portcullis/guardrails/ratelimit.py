"""Token buckets per identity, bounded: ``requests`` every ``per`` seconds, ``burst`` at once.

Each identity has a bucket of ``burst`` tokens that refills at ``requests / per`` tokens a
second; a request takes one token, or is refused with the seconds until one is there.
The buckets of at most ``max_keys`` identities are kept, least recently used forgotten
first (a forgotten identity starts again with a full bucket). The clock is passed in:
nothing here reads the time. A clock that steps back refills nothing.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["DEFAULT_MAX_KEYS", "RateLimiter", "TokenBucket"]

DEFAULT_MAX_KEYS = 10_000


class TokenBucket:
    """``tokens`` left at ``updated`` (seconds, the caller's clock)."""

    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.updated = now

    def take(self, now: float, rate: float, capacity: float) -> float:
        """Take one token: 0.0 when taken, else the seconds until one will be there."""
        elapsed = now - self.updated
        if elapsed > 0:
            self.tokens = min(capacity, self.tokens + elapsed * rate)
            self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / rate


class RateLimiter:
    """One :class:`TokenBucket` per key (an identity), at most ``max_keys`` of them."""

    __slots__ = ("_buckets", "capacity", "max_keys", "rate")

    def __init__(
        self,
        requests: int,
        per: float,
        burst: int | None = None,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if requests < 1 or per <= 0 or (burst is not None and burst < 1) or max_keys < 1:
            raise ValueError("requests, burst and max_keys must be positive, per above 0")
        self.rate = requests / per
        self.capacity = float(burst if burst is not None else requests)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float) -> float:
        """One request by ``key`` at ``now``: 0.0 when it may pass, else seconds to wait."""
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = TokenBucket(self.capacity, now)
            if len(buckets) > self.max_keys:
                buckets.popitem(last=False)
        else:
            buckets.move_to_end(key)
        return bucket.take(now, self.rate, self.capacity)
