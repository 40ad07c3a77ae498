"""Decisions are values: whether a request may pass, and why.

The authentication/authorization step is one call, :meth:`Gate.check`, that
returns a :class:`Decision` (or an awaitable of one when it must do I/O).
Exactly one place, :func:`portcullis.http.pages.decision_response`, maps a
denial to the response the client sees.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from portcullis.guardrails.body import BodyGuard
    from portcullis.http.request import RequestHead
    from portcullis.routing import RouteTarget

__all__ = ["ALLOW_PUBLIC", "Decision", "Gate", "GuardrailDecision", "Reason", "RouteGate"]


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
    STEP_UP = "step-up"  # the rule wants a more recent sign-in (max_age, RFC 9470)
    BLOCKED = "blocked"  # a guardrail blocked this identity for a while (portcullis blocks)
    # request guardrails (portcullis.guardrails.request): the caller's own message in detail
    GUARDRAIL = "guardrail"  # a deny pattern on the path, query or JSON body matched (403)
    METHOD_NOT_ALLOWED = "method-not-allowed"  # not among the guardrail's methods (405)
    RATE_LIMITED = "rate-limited"  # the identity's token bucket is empty (429)
    BODY_TOO_LARGE = "body-too-large"  # over max_body_bytes or json_max_bytes (413)
    MALFORMED_BODY = "malformed-body"  # a JSON body that guardrails must read does not parse
    UNSUPPORTED_BODY = "unsupported-body"  # a body guardrails cannot read (415)


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
    rule: str = ""  # the policy rule that decided ("default": nothing allowed it)
    reasons: tuple[str, ...] = ()  # each rule and criterion with pass/fail (denials)
    monitored: tuple[str, ...] = ()  # monitor-mode rules that would have denied
    max_age: int | None = None  # STEP_UP: the sign-in must be at most this old (seconds)
    subject: Any = None  # who, for the audit record (portcullis.audit.requests.AuditSubject)
    explain: Callable[[], tuple[str, ...]] | None = None  # denials: the full trace, on demand
    # Fields of GuardrailDecision only (each field costs every decision ~90 ns to build).
    response_headers: ClassVar[tuple[tuple[bytes, bytes], ...]] = ()
    body_guard: ClassVar[BodyGuard | None] = None


@dataclass(frozen=True, slots=True)
class GuardrailDecision(Decision):
    """A decision request guardrails took part in (:mod:`portcullis.guardrails.request`).

    A denial may carry ``response_headers`` (``Allow``, ``Retry-After``); an allow carries
    the route's ``body_guard``, the body checks the exchange applies.
    """

    response_headers: tuple[tuple[bytes, bytes], ...] = ()  # type: ignore[misc]
    body_guard: BodyGuard | None = None  # type: ignore[misc]


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
