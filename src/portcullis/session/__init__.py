"""Server-side sessions: sealed cookie, session model, and the stores behind one protocol.

The browser holds only a random 32-byte session id, sealed with AES-256-GCM
(:mod:`.cookie`); everything else lives server-side in a
:class:`~portcullis.session.store.SessionStore`.
"""

from __future__ import annotations

from portcullis.session.cache import MISS, CachedStore, Miss
from portcullis.session.cookie import (
    PURPOSE_LOGIN,
    PURPOSE_SESSION,
    CookieCodec,
    clear_cookie_header,
    cookie_header,
    cookie_name,
    read_cookie,
)
from portcullis.session.memory import MemoryStore
from portcullis.session.model import (
    PENDING_MAX_AGE,
    PendingLogin,
    Session,
    binding_matches,
    fingerprint,
    is_live,
    new_binding_value,
    new_pending_login,
    new_session,
    new_session_id,
    pending_is_fresh,
    touch,
)
from portcullis.session.sqlite import SqliteStore
from portcullis.session.store import SessionStore

__all__ = [
    "MISS",
    "PENDING_MAX_AGE",
    "PURPOSE_LOGIN",
    "PURPOSE_SESSION",
    "CachedStore",
    "CookieCodec",
    "MemoryStore",
    "Miss",
    "PendingLogin",
    "Session",
    "SessionStore",
    "SqliteStore",
    "binding_matches",
    "clear_cookie_header",
    "cookie_header",
    "cookie_name",
    "fingerprint",
    "is_live",
    "new_binding_value",
    "new_pending_login",
    "new_session",
    "new_session_id",
    "pending_is_fresh",
    "read_cookie",
    "touch",
]
