"""The input of the guardrails: one :class:`Observation` per access decision.

The integrator builds it right after the gate decides, from the decision, the
verified identity, the route and the request (:meth:`Observation.of` does it
from those values). It is a named tuple: building one costs well under a
microsecond, and nothing in it can change afterwards.

Only requests made by a verified identity are observed; anonymous requests
(no session, no valid token) have no identity to watch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from portcullis.bearer.principal import TokenFacts
    from portcullis.decision import Decision
    from portcullis.identity import Identity
    from portcullis.routing import RouteTarget

__all__ = ["Observation"]


class Observation(NamedTuple):
    """One decision as the guardrails see it. Times are epoch seconds (the caller's clock)."""

    time: float
    identity: str  # Identity.key: "tid/oid" (Entra) or "iss#sub"
    kind: str  # user, app, agent, obo
    allowed: bool
    reason: str  # the decision's reason code
    route: int  # index in the configuration's routes
    route_path: str  # the route's path prefix
    method: str
    path: str  # the normalized path, without query
    tenant_id: str | None = None
    client_id: str | None = None  # azp / appid: the client application
    token_age: float | None = None  # bearer tokens: now - iat
    token_lifetime: float | None = None  # bearer tokens: exp - iat
    source_ip: str = ""

    @classmethod
    def of(
        cls,
        now: float,
        identity: Identity,
        decision: Decision,
        route: RouteTarget[Any],
        *,
        method: str,
        path: str,
        source_ip: str = "",
        token: TokenFacts | None = None,
    ) -> Observation:
        """From the values the gate has at hand when it decides."""
        age = lifetime = None
        if token is not None and token.issued_at is not None:
            age = now - token.issued_at
            lifetime = float(token.expires_at - token.issued_at)
        return cls(
            now,
            identity.key,
            identity.kind.value,
            decision.allow,
            decision.reason.value,
            route.index,
            route.config.path,
            method,
            path,
            identity.tenant_id,
            identity.client_id,
            age,
            lifetime,
            source_ip,
        )

    def summary(self) -> dict[str, Any]:
        """The request behind a violation, for alerts (no token, no header, no query)."""
        out: dict[str, Any] = {
            "route": self.route,
            "route_path": self.route_path,
            "method": self.method,
            "path": self.path,
            "allowed": self.allowed,
            "reason": self.reason,
        }
        optional = (
            ("tenant_id", self.tenant_id),
            ("client_id", self.client_id),
            ("token_age", self.token_age),
            ("token_lifetime", self.token_lifetime),
            ("source_ip", self.source_ip or None),
        )
        out.update((key, value) for key, value in optional if value is not None)
        return out
