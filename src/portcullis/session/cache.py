"""An in-process LRU in front of a shared session store, for the hot path.

:meth:`CachedStore.peek` is synchronous: a request whose session was looked up
in the last ``ttl`` seconds is answered without an ``await``. It returns
:data:`MISS` when the id is not cached or its entry is older than ``ttl``;
then the caller awaits :meth:`CachedStore.get`, which asks the inner store and
caches the answer (``None`` included).

Writes through this instance update its cache; ``delete`` and
``delete_for_identity`` evict. **Revocation in another process** (a logout or
``delete_for_identity`` handled by a sibling worker) is seen here within
``ttl`` seconds (default 2), when the cached entry goes stale. A session
written through this instance is never served past the store ttl it was
written with; one written elsewhere may be served up to ``ttl`` seconds past
its store expiry — callers check :func:`~portcullis.session.model.is_live`
anyway. The cache clock (default ``time.monotonic``) is only compared with
itself.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum
from typing import Final, Literal

from portcullis.session.model import PendingLogin, Session
from portcullis.session.store import SessionStore, checked_ttl

__all__ = ["MISS", "CachedStore", "Miss"]


class Miss(Enum):
    MISS = "MISS"

    def __repr__(self) -> str:
        return "MISS"


MISS: Final = Miss.MISS


class CachedStore:
    def __init__(
        self,
        inner: SessionStore,
        *,
        ttl: float = 2.0,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or max_entries < 1:
            raise ValueError("CachedStore needs ttl >= 0 and max_entries >= 1")
        self.inner = inner
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        # session id -> (fresh until, store expiry if this instance wrote it, value);
        # a value of None caches "not in the store"
        self._entries: OrderedDict[str, tuple[float, float | None, Session | None]] = OrderedDict()
        # bumped by every delete, so a read that raced a delete is not cached
        self._generation = 0

    def __repr__(self) -> str:
        return f"CachedStore({self.inner!r}, ttl={self._ttl!r}, entries={len(self._entries)})"

    def peek(self, session_id: str) -> Session | Literal[Miss.MISS] | None:
        """The cached answer for ``session_id`` if fresh, else :data:`MISS`. Never awaits."""
        entry = self._entries.get(session_id)
        if entry is None or entry[0] <= self._clock():
            return MISS
        self._entries.move_to_end(session_id)
        return entry[2]

    def _remember(self, session_id: str, value: Session | None, deadline: float | None) -> None:
        fresh_until = self._clock() + self._ttl
        if deadline is not None:
            fresh_until = min(fresh_until, deadline)
        self._entries[session_id] = (fresh_until, deadline, value)
        self._entries.move_to_end(session_id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def get(self, session_id: str) -> Session | None:
        cached = self.peek(session_id)
        if cached is not MISS:
            return cached
        entry = self._entries.get(session_id)
        deadline = None if entry is None else entry[1]
        generation = self._generation
        value = await self.inner.get(session_id)
        if generation == self._generation:
            if value is None or (deadline is not None and deadline <= self._clock()):
                deadline = None  # gone, or extended by a write elsewhere: deadline unknown
            self._remember(session_id, value, deadline)
        return value

    async def put(self, session: Session, *, ttl: float) -> None:
        ttl = checked_ttl(ttl)
        self._entries.pop(session.id, None)
        generation = self._generation
        await self.inner.put(session, ttl=ttl)
        if ttl > 0 and generation == self._generation:
            self._remember(session.id, session, self._clock() + ttl)

    async def delete(self, session_id: str) -> None:
        self._generation += 1
        self._entries.pop(session_id, None)
        await self.inner.delete(session_id)
        self._entries.pop(session_id, None)

    async def delete_for_identity(self, identity_key: str) -> int:
        def match(session: Session) -> bool:
            return session.identity.key == identity_key

        self._generation += 1
        self._evict(match)
        removed = await self.inner.delete_for_identity(identity_key)
        self._evict(match)
        return removed

    async def delete_for_idp_session(self, idp_session: str) -> int:
        def match(session: Session) -> bool:
            return session.idp_session == idp_session

        self._generation += 1
        self._evict(match)  # not served while the store deletes (a back-channel logout)
        removed = await self.inner.delete_for_idp_session(idp_session)
        self._evict(match)
        return removed

    async def put_pending(self, pending: PendingLogin, *, ttl: float) -> None:
        await self.inner.put_pending(pending, ttl=ttl)

    async def take_pending(self, state: str) -> PendingLogin | None:
        return await self.inner.take_pending(state)

    async def close(self) -> None:
        self._entries.clear()
        await self.inner.close()

    def _evict(self, match: Callable[[Session], bool]) -> None:
        stale = [
            sid
            for sid, (_, _, value) in self._entries.items()
            if value is not None and match(value)
        ]
        for sid in stale:
            del self._entries[sid]

    def clear(self) -> None:
        """Forget every cached entry (the inner store is untouched)."""
        self._entries.clear()
