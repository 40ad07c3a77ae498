"""The one interface every session store implements.

Implementations: :class:`~portcullis.session.memory.MemoryStore` (one
process), :class:`~portcullis.session.sqlite.SqliteStore` (worker processes
sharing one file on one machine), and :class:`~portcullis.session.cache.CachedStore`
(an in-process LRU in front of either). Every implementation passes the same
contract suite, ``tests/session/contract.py``.

Contract:

* ``put(session, ttl=...)`` keeps the session for ``ttl`` seconds of the
  store's clock (a later ``put`` of the same id replaces it and its ttl);
  ``ttl <= 0`` removes it. After the ttl, ``get`` returns ``None`` and the row
  is eventually purged. The ttl is storage lifetime only: callers still check
  :func:`~portcullis.session.model.is_live` for idle/absolute timeouts.
* ``get`` of an unknown, expired or unreadable (corrupted) session is ``None``.
  Infrastructure failures (a locked or missing database) raise — the caller
  must deny, never treat them as "signed out" loops or as success.
* ``delete_for_identity(identity.key)`` removes every session of that
  identity (server-side revocation) and returns how many live ones it removed.
* ``put_pending`` keeps a pending login for ``min(ttl, PENDING_MAX_AGE)``;
  ``take_pending(state)`` returns it **and removes it atomically** — of two
  concurrent takes, even from two processes, exactly one gets it.
* ``close()`` releases connections; the store is not used afterwards.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from portcullis.session.model import PendingLogin, Session

__all__ = ["SessionStore", "checked_ttl"]


@runtime_checkable
class SessionStore(Protocol):
    async def get(self, session_id: str) -> Session | None: ...

    async def put(self, session: Session, *, ttl: float) -> None: ...

    async def delete(self, session_id: str) -> None: ...

    async def delete_for_identity(self, identity_key: str) -> int: ...

    async def delete_for_idp_session(self, idp_session: str) -> int:
        """End every session signed in through this IdP session (front-channel logout)."""
        ...

    async def put_pending(self, pending: PendingLogin, *, ttl: float) -> None: ...

    async def take_pending(self, state: str) -> PendingLogin | None: ...

    async def close(self) -> None: ...


def checked_ttl(ttl: float) -> float:
    """``ttl`` if it is a finite number of seconds; raises ``ValueError`` otherwise."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl):
        raise ValueError(f"a store ttl must be a finite number of seconds, not {ttl!r}")
    return float(ttl)
