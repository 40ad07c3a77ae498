"""Whether an ID token proves a recent enough sign-in: ``auth_time`` against ``max_age``.

A login that asked for ``max_age`` (step-up) trusts only the signed ``auth_time``
claim, never that the provider saw ``max_age`` or ``prompt=login``: both travel
through the browser and can be stripped on the way. OpenID Connect Core 3.1.2.1
makes ``auth_time`` required in that case, and 3.1.3.7 (item 13) has the client
check it. ``auth_time`` must be an integer (a NumericDate of whole seconds, as
Entra and other providers send it), as :func:`portcullis.identity.identity_from_claims`
reads it: a session whose identity lacks it could never satisfy ``max_auth_age``.

Pure: the caller passes ``now`` and the leeway (the provider's ``clock_skew``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["auth_time_problem"]


def auth_time_problem(
    claims: Mapping[str, Any], *, max_age: int, now: float, leeway: float
) -> str | None:
    """``None`` when ``auth_time`` is at most ``max_age`` (+ leeway) old, else an error code.

    Codes: ``auth_time_missing``, ``auth_time_invalid`` (not a non-negative
    integer), ``auth_time_future`` (later than ``now`` + leeway), ``auth_time_stale``.
    """
    auth_time = claims.get("auth_time")
    if auth_time is None:
        return "auth_time_missing"
    if isinstance(auth_time, bool) or not isinstance(auth_time, int) or auth_time < 0:
        return "auth_time_invalid"
    if auth_time > now + leeway:
        return "auth_time_future"
    if now - auth_time > max_age + leeway:
        return "auth_time_stale"
    return None
