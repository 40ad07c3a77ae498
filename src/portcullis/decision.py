"""Decisions are values: whether a request may pass, and why.

The authentication/authorization step is one call, :meth:`Gate.check`, that
returns a :class:`Decision` (or an awaitable of one when it must do I/O).
Exactly one place, :func:`portcullis.http.pages.decision_response`, maps a
denial to the response the client sees.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from portcullis.http.request import RequestHead
    from portcullis.routing import RouteTarget

__all__ = ["ALLOW_PUBLIC", "Decision", "Gate", "Reason", "RouteGate"]


class Reason(StrEnum):
    """The closed set of reason codes a decision can carry."""

    PUBLIC = "public"
    SIGNED_IN = "signed-in"
    BEARER = "bearer"  # a valid bearer token that the route's rule admits
    UNAUTHENTICATED = "unauthenticated"
    SIGN_IN_UNAVAILABLE = "sign-in-unavailable"
    FORBIDDEN = "forbidden"
    GROUPS_UNRESOLVED = "groups-unresolved"
    TOKEN_MISSING = "token-missing"  # noqa: S105 - a bearer-only route called without a token
    INVALID_TOKEN = "invalid-token"  # noqa: S105 - RFC 6750 invalid_token
    INSUFFICIENT_SCOPE = "insufficient-scope"  # RFC 6750: valid token, not enough rights
    INSUFFICIENT_CLAIMS = "insufficient-claims"  # CAE: step up to an authentication context
    TOKEN_TOO_LARGE = "token-too-large"  # noqa: S105 - refused before parsing (431)
    AUTH_UNAVAILABLE = "auth-unavailable"  # the issuer could not be reached to check a token


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of the gate for one request.

    ``upstream_headers`` is added to the forwarded request on allow: the verified
    identity as ready-made header lines (``b"Name: value\\r\\n"`` repeated), built
    once per session and upstream rather than per request.
    """

    allow: bool
    reason: Reason
    detail: str = ""
    upstream_headers: bytes = b""
    challenge: bytes = b""  # a WWW-Authenticate value for token denials


ALLOW_PUBLIC = Decision(True, Reason.PUBLIC)
_NO_SIGN_IN = Decision(
    False,
    Reason.SIGN_IN_UNAVAILABLE,
    "this route requires sign-in, and no identity provider is configured",
)


class Gate(Protocol):
    """The authentication/authorization step in the request path."""

    def check(
        self, request: RequestHead, route: RouteTarget[Any]
    ) -> Decision | Awaitable[Decision]:
        """Decide synchronously when possible; return an awaitable only to do I/O."""
        ...


class RouteGate:
    """The gate before sign-in exists: public routes pass, all others are denied (fail closed)."""

    def check(self, request: RequestHead, route: RouteTarget[Any]) -> Decision:
        return ALLOW_PUBLIC if route.public else _NO_SIGN_IN
