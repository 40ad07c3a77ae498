"""A session store in this process's memory: for one process, development and tests.

Expired entries are dropped when touched and swept in full at most once per
``sweep_interval`` seconds. Pending logins are created by anonymous requests,
so their number is capped (``max_pending``): past the cap the oldest are
evicted first, which bounds memory at the cost of failing the oldest logins
under a flood.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from portcullis.session.model import PENDING_MAX_AGE, PendingLogin, Session
from portcullis.session.store import checked_ttl

__all__ = ["MemoryStore"]


class MemoryStore:
    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        max_pending: int = 100_000,
        sweep_interval: float = 60.0,
    ) -> None:
        self._clock = clock
        self._max_pending = max_pending
        self._sweep_interval = sweep_interval
        self._next_sweep = clock() + sweep_interval
        self._sessions: dict[str, tuple[float, Session]] = {}
        self._by_identity: dict[str, set[str]] = {}
        self._pending: dict[str, tuple[float, PendingLogin]] = {}

    def __repr__(self) -> str:
        return f"MemoryStore(<{len(self._sessions)} sessions, {len(self._pending)} pending>)"

    async def get(self, session_id: str) -> Session | None:
        entry = self._sessions.get(session_id)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            self._forget(session_id)
            return None
        return entry[1]

    async def put(self, session: Session, *, ttl: float) -> None:
        ttl = checked_ttl(ttl)
        now = self._clock()
        self._forget(session.id)
        if ttl <= 0:
            return
        self._sessions[session.id] = (now + ttl, session)
        self._by_identity.setdefault(session.identity.key, set()).add(session.id)
        self._maybe_sweep(now)

    async def delete(self, session_id: str) -> None:
        self._forget(session_id)

    async def delete_for_identity(self, identity_key: str) -> int:
        now = self._clock()
        removed = 0
        for session_id in self._by_identity.pop(identity_key, set()):
            entry = self._sessions.pop(session_id, None)
            if entry is not None and entry[0] > now:
                removed += 1
        return removed

    async def delete_for_idp_session(self, idp_session: str) -> int:
        now = self._clock()
        matching = [sid for sid, (_, s) in self._sessions.items() if s.idp_session == idp_session]
        live = sum(1 for sid in matching if self._sessions[sid][0] > now)
        for sid in matching:
            self._forget(sid)
        return live

    async def put_pending(self, pending: PendingLogin, *, ttl: float) -> None:
        ttl = min(checked_ttl(ttl), PENDING_MAX_AGE)
        now = self._clock()
        self._pending.pop(pending.state, None)
        if ttl <= 0:
            return
        if len(self._pending) >= self._max_pending:
            self._sweep(now)
            while len(self._pending) >= self._max_pending:
                del self._pending[next(iter(self._pending))]
        self._pending[pending.state] = (now + ttl, pending)
        self._maybe_sweep(now)

    async def take_pending(self, state: str) -> PendingLogin | None:
        entry = self._pending.pop(state, None)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    async def close(self) -> None:
        self._sessions.clear()
        self._by_identity.clear()
        self._pending.clear()

    def _forget(self, session_id: str) -> None:
        entry = self._sessions.pop(session_id, None)
        if entry is None:
            return
        key = entry[1].identity.key
        ids = self._by_identity.get(key)
        if ids is not None:
            ids.discard(session_id)
            if not ids:
                del self._by_identity[key]

    def _maybe_sweep(self, now: float) -> None:
        if now >= self._next_sweep:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self._sweep_interval
        for session_id in [s for s, (exp, _) in self._sessions.items() if exp <= now]:
            self._forget(session_id)
        for state in [s for s, (exp, _) in self._pending.items() if exp <= now]:
            del self._pending[state]
