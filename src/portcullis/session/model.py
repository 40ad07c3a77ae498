"""What a session and a pending login hold, and the pure rules about their lifetime.

A :class:`Session` lives server-side; the browser holds only its random id,
sealed in a cookie (:mod:`portcullis.session.cookie`). A :class:`PendingLogin`
is the state of one authorization-code flow between the redirect to the
identity provider and the callback: single-use, bound to the browser, and
expired after at most :data:`PENDING_MAX_AGE` seconds (SECURITY.md item 9).

Nothing here reads a clock: ``now`` is always passed in. The reprs never show
credentials (SECURITY.md item 23): the session id, CSRF token, ID token, PKCE
verifier and nonce are redacted; the session id appears only as a short
fingerprint (:func:`fingerprint`) that is safe to log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from typing import Final

from portcullis.identity import Identity

__all__ = [
    "MAX_LOGIN_AGE",
    "PENDING_MAX_AGE",
    "PendingLogin",
    "Session",
    "binding_matches",
    "fingerprint",
    "is_live",
    "is_login_max_age",
    "new_binding_value",
    "new_pending_login",
    "new_session",
    "new_session_id",
    "pending_is_fresh",
    "touch",
]

PENDING_MAX_AGE: Final = 600.0
MAX_LOGIN_AGE: Final = 2_592_000  # the largest step-up ``max_age`` a login accepts (30 days)
_REDACTED: Final = "'**********'"


def new_session_id() -> str:
    """32 random bytes, url-safe base64 without padding (43 characters)."""
    return secrets.token_urlsafe(32)


def fingerprint(value: str) -> str:
    """A short, non-reversible tag of a session id or state, for logs and reprs."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True, slots=True, repr=False)
class Session:
    id: str
    identity: Identity
    created_at: float
    last_seen: float
    expires_at: float  # absolute: never extended by activity
    csrf: str
    id_token: str | None  # kept for logout's id_token_hint only; never logged
    provider: str
    idp_session: str | None = None  # "<provider>|<sid>": front-channel logout finds it by this

    def __repr__(self) -> str:
        id_token = None if self.id_token is None else _REDACTED
        return (
            f"Session(id=<{fingerprint(self.id)}>, identity={self.identity.key!r}, "
            f"provider={self.provider!r}, created_at={self.created_at!r}, "
            f"last_seen={self.last_seen!r}, expires_at={self.expires_at!r}, "
            f"csrf={_REDACTED}, id_token={id_token})"
        )


def new_session(
    identity: Identity,
    *,
    provider: str,
    now: float,
    absolute_timeout: float,
    id_token: str | None = None,
    idp_session: str | None = None,
) -> Session:
    """A fresh session with a new random id and CSRF token (a new id at every login)."""
    return Session(
        id=new_session_id(),
        identity=identity,
        created_at=now,
        last_seen=now,
        expires_at=now + absolute_timeout,
        csrf=secrets.token_urlsafe(32),
        id_token=id_token,
        provider=provider,
        idp_session=idp_session,
    )


def is_live(session: Session, *, now: float, idle_timeout: float, absolute_timeout: float) -> bool:
    """True while ``now`` is before the absolute expiry and within the idle timeout."""
    return (
        now < session.expires_at
        and now < session.created_at + absolute_timeout
        and now < session.last_seen + idle_timeout
    )


def touch(session: Session, now: float) -> Session:
    """The session with ``last_seen`` moved to ``now`` (never backwards)."""
    if now <= session.last_seen:
        return session
    return replace(session, last_seen=now)


@dataclass(frozen=True, slots=True, repr=False)
class PendingLogin:
    state: str
    nonce: str
    code_verifier: str
    provider: str
    return_to: str
    browser_binding: str  # sha256 hex of the random value kept in the login cookie
    created_at: float
    max_age: int | None = None  # step-up: the ID token's auth_time must be at most this old

    def __repr__(self) -> str:
        return (
            f"PendingLogin(state=<{fingerprint(self.state)}>, provider={self.provider!r}, "
            f"return_to={self.return_to!r}, created_at={self.created_at!r}, "
            f"max_age={self.max_age!r}, "
            f"nonce={_REDACTED}, code_verifier={_REDACTED}, browser_binding={_REDACTED})"
        )


def new_binding_value() -> str:
    """The random value for the short-lived login cookie that binds logins to a browser."""
    return secrets.token_urlsafe(32)


def _binding_hash(binding_value: str) -> str:
    return hashlib.sha256(binding_value.encode("utf-8")).hexdigest()


def new_pending_login(
    *,
    provider: str,
    return_to: str,
    binding_value: str,
    now: float,
    max_age: int | None = None,
) -> PendingLogin:
    """A pending login with fresh ``state``, ``nonce`` and a 64-character PKCE verifier.

    ``binding_value`` is the browser's login-cookie value: reuse the one the
    browser already sends, so logins started in parallel tabs all stay valid.
    ``max_age`` (seconds, 0..:data:`MAX_LOGIN_AGE`) makes it a step-up login.
    """
    if not binding_value:
        raise ValueError("a pending login needs a browser binding value")
    if max_age is not None and not is_login_max_age(max_age):
        raise ValueError(f"max_age must be an integer from 0 to {MAX_LOGIN_AGE}")
    return PendingLogin(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(48),
        provider=provider,
        return_to=return_to,
        browser_binding=_binding_hash(binding_value),
        created_at=now,
        max_age=max_age,
    )


def is_login_max_age(value: object) -> bool:
    """Whether ``value`` is a step-up ``max_age`` a login accepts: an int in 0..30 days."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_LOGIN_AGE


def binding_matches(pending: PendingLogin, binding_value: str | None) -> bool:
    """Whether the login cookie's value is the one this login was started with."""
    if not binding_value:
        return False
    return hmac.compare_digest(_binding_hash(binding_value), pending.browser_binding)


def pending_is_fresh(
    pending: PendingLogin, *, now: float, max_age: float = PENDING_MAX_AGE
) -> bool:
    """True while the pending login is younger than ``max_age`` (capped at 10 minutes)."""
    age = now - pending.created_at
    return -60.0 <= age < min(max_age, PENDING_MAX_AGE)
