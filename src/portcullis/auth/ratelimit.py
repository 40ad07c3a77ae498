"""Token buckets for starting sign-ins: each start stores a pending login server-side.

Without a bound, anyone could fill the session store by asking for login pages. One
bucket per client address keeps a single source in check (generous: offices sign in from
behind one NAT address); a global bucket bounds what all sources together may write
(at most ~120,000 pending logins alive, each expiring after 10 minutes). The clock is
injected.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

__all__ = ["LoginLimiter"]


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.updated = now

    def take(self, now: float, rate: float, burst: float) -> bool:
        self.tokens = min(burst, self.tokens + (now - self.updated) * rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class LoginLimiter:
    def __init__(
        self,
        clock: Callable[[], float],
        *,
        per_client_rate: float = 10.0,
        per_client_burst: float = 60.0,
        global_rate: float = 200.0,
        global_burst: float = 2000.0,
        max_clients: int = 10_000,
    ) -> None:
        self._clock = clock
        self._client = (per_client_rate, per_client_burst)
        self._global_limits = (global_rate, global_burst)
        self._global = _Bucket(global_burst, clock())
        self._clients: OrderedDict[str, _Bucket] = OrderedDict()
        self._max_clients = max_clients

    def allow(self, client: str) -> bool:
        """Whether ``client`` may start one more sign-in now."""
        now = self._clock()
        bucket = self._clients.get(client)
        if bucket is None:
            bucket = self._clients[client] = _Bucket(self._client[1], now)
            if len(self._clients) > self._max_clients:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(client)
        if not bucket.take(now, *self._client):
            return False
        return self._global.take(now, *self._global_limits)
