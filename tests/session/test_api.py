"""The public names of ``portcullis.session``, pinned."""

from __future__ import annotations

import portcullis.session as session


def test_public_api() -> None:
    assert set(session.__all__) == {
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
    }
    assert len(session.__all__) == len(set(session.__all__))
    for name in session.__all__:
        assert getattr(session, name) is not None
