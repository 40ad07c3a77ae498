"""``portcullis policy explain``: one request, decided as the gate would, with every reason.

Pure: a validated :class:`~portcullis.config.Config`, a request (method and URL), a
:class:`Caller` (token claims, or anonymous) and the clock in; an :class:`Outcome` out.
The steps are the proxy's: the path is normalized (the decision is on the path the
upstream receives), the route is matched by host and path, public routes pass, a caller
without the credential the route accepts is refused before any rule runs, and the
route's compiled policy decides (:meth:`RoutePolicy.explain`).

The identity is built from the claims as the proxy builds it: a browser session from
the ID token's claims (kind ``user``), a bearer token with
:func:`~portcullis.bearer.principal.principal_from_claims` (kinds ``user``, ``obo``,
``app``, ``agent``; the route's API's ``user_clients`` and the sign-in clients count as
direct user clients). Nothing is fetched: a groups overage stays unknown (as when
Microsoft Graph cannot answer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from portcullis.bearer.principal import TokenFacts, principal_from_claims
from portcullis.config import Config
from portcullis.decision import Reason
from portcullis.http.paths import InvalidPath, normalize_request_path
from portcullis.identity import Identity, Kind, claim_text, identity_from_claims
from portcullis.policy.compile import Policy, compile_policy
from portcullis.policy.facts import Facts
from portcullis.routing import Router, RouteTarget

__all__ = [
    "ANONYMOUS",
    "BAD_REQUEST",
    "NO_ROUTE",
    "REASON_CODES",
    "VIAS",
    "Caller",
    "Located",
    "Outcome",
    "PolicySetup",
    "claims_problems",
    "evaluate",
    "identity_for",
    "locate",
    "outcome_json",
    "parse_time",
    "render_outcome",
]

NO_ROUTE = "no-route"  # the proxy answers 404
BAD_REQUEST = "bad-request"  # the path cannot be normalized: the proxy answers 400
REASON_CODES = frozenset({*(r.value for r in Reason), NO_ROUTE, BAD_REQUEST})
"""Every reason an outcome can carry: the gate's :class:`Reason` values and the two above."""

VIAS = ("session", "bearer")
_INTEGER_CLAIMS = ("exp", "iat", "nbf", "auth_time")
_TOKEN_LIFETIME = 3600


@dataclass(frozen=True, slots=True)
class PolicySetup:
    """A configuration with its compiled policy and route index, built once."""

    config: Config
    policy: Policy
    router: Router[None]

    @classmethod
    def of(cls, config: Config) -> PolicySetup:
        return cls(config, compile_policy(config), Router(config.routes, lambda route: None))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: token ``claims`` (None: anonymous) presented ``via`` a session or a bearer
    token; ``acrs``/``xms_cc`` override the token's authentication contexts and client
    capabilities (bearer only)."""

    claims: Mapping[str, Any] | None = None
    via: str = "session"
    acrs: tuple[str, ...] | None = None
    xms_cc: tuple[str, ...] | None = None


ANONYMOUS = Caller()


@dataclass(frozen=True, slots=True)
class Located:
    """Where a request goes: its host, its normalized path (None: invalid) and its route."""

    method: str
    url: str
    host: str
    path: str | None
    route: RouteTarget[None] | None
    problem: str = ""  # why the path is invalid


@dataclass(frozen=True, slots=True)
class Outcome:
    """The decision for one request, as the gate would make it."""

    request: Located
    caller: Caller
    identity: Identity | None
    allow: bool
    reason: str  # a Reason value, NO_ROUTE or BAD_REQUEST
    rule: str = ""
    message: str = ""
    reasons: tuple[str, ...] = ()
    monitored: tuple[str, ...] = ()


def locate(setup: PolicySetup, method: str, url: str) -> Located:
    """Normalize ``url``'s path and find its route (``url`` absolute, or a path)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"  # the proxy keeps an IPv6 literal's brackets
    try:
        path = normalize_request_path(parts.path or "/")
    except InvalidPath as exc:
        return Located(method, url, host, None, None, str(exc))
    return Located(method, url, host, path, setup.router.match(host, path))


def evaluate(
    setup: PolicySetup,
    method: str,
    url: str,
    caller: Caller,
    *,
    now: float,
    source_ip: str = "",
) -> Outcome:
    """Decide ``method url`` for ``caller`` at ``now`` (epoch seconds), with every reason."""
    where = locate(setup, method, url)
    route = where.route
    if where.path is None:
        return Outcome(where, caller, None, False, BAD_REQUEST, message=where.problem)
    if route is None:
        return Outcome(where, caller, None, False, NO_ROUTE, message="No route matches.")
    if route.public:
        return Outcome(where, caller, None, True, Reason.PUBLIC.value, message="Public route.")
    if setup.config.auth is None:
        return Outcome(
            where,
            caller,
            None,
            False,
            Reason.SIGN_IN_UNAVAILABLE.value,
            message="No identity provider is configured: only public routes pass.",
        )
    accept = route.config.accept
    refused = _unaccepted(caller, accept)
    if refused is not None:
        reason, message = refused
        return Outcome(where, caller, None, False, reason.value, message=message)
    identity, token = identity_for(setup, route, caller, now)
    compiled = setup.policy.routes[route.index]
    assert compiled is not None  # every route that is not public has a policy
    verdict = compiled.explain(Facts(identity, method, where.path, source_ip, now, token))
    return Outcome(
        where,
        caller,
        identity,
        verdict.allow,
        verdict.reason.value,
        verdict.rule,
        verdict.message,
        verdict.reasons,
        verdict.monitored,
    )


def _unaccepted(caller: Caller, accept: Sequence[str]) -> tuple[Reason, str] | None:
    """The gate's refusal before any rule runs: no credential the route accepts."""
    bearer = caller.claims is not None and caller.via == "bearer"
    session = caller.claims is not None and caller.via == "session"
    if "bearer" in accept and bearer:
        return None
    if "session" not in accept:
        return Reason.TOKEN_MISSING, "A bearer token is required."
    if session:
        return None
    if bearer:
        return Reason.UNAUTHENTICATED, "Sign-in required: this route does not take bearer tokens."
    return Reason.UNAUTHENTICATED, "Sign-in required."


def identity_for(
    setup: PolicySetup, route: RouteTarget[None], caller: Caller, now: float
) -> tuple[Identity, TokenFacts | None]:
    """The identity (and, for bearer tokens, the token's facts) the proxy would build."""
    claims = dict(caller.claims or {})
    auth = setup.config.auth
    sign_in_clients = {p.client_id for p in auth.providers} if auth is not None else set()
    if caller.via != "bearer":
        client = claim_text(claims.get("azp")) or (
            auth.providers[0].client_id if auth is not None else None
        )
        return identity_from_claims(claims, kind=Kind.USER, client_id=client), None
    claims.setdefault("exp", int(now) + _TOKEN_LIFETIME)
    user_clients = set(sign_in_clients)
    if auth is not None:
        user_clients.update(
            client
            for api in auth.apis
            if api.name == route.config.api
            for client in api.user_clients
        )
    principal = principal_from_claims(claims, user_clients=user_clients)
    token = principal.token
    if caller.acrs is not None:
        token = replace(token, auth_contexts=caller.acrs)
    if caller.xms_cc is not None:
        token = replace(token, capabilities=caller.xms_cc)
    return principal.identity, token


def claims_problems(claims: object) -> list[tuple[str, str]]:
    """What keeps ``claims`` from being a token's claims: (sub-key, message) pairs."""
    if not isinstance(claims, Mapping):
        return [("", "expected a mapping of claim names to values")]
    problems = [
        (str(name), "claim names must be strings") for name in claims if not isinstance(name, str)
    ]
    for name in _INTEGER_CLAIMS:
        value = claims.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            problems.append((name, "expected a whole number of seconds since the epoch"))
    return problems


def parse_time(value: object) -> float:
    """Epoch seconds from ISO 8601 text (no zone: UTC), a YAML timestamp, or a number."""
    if isinstance(value, bool):
        raise ValueError("expected an ISO 8601 time such as 2027-01-15T08:00:00Z")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("expected a finite number of seconds")
        return float(value)
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None:
        raise ValueError("expected an ISO 8601 time such as 2027-01-15T08:00:00Z")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# output ---------------------------------------------------------------------------------------
def render_outcome(outcome: Outcome) -> list[str]:
    """The outcome for people, one fact per line, then every reason."""
    where = outcome.request
    lines = [f"request   {where.method} {where.url}"]
    lines.append(f"path      {where.path}" if where.path is not None else "path      (invalid)")
    route = where.route
    lines.append(f"route     {_route_text(route)}" if route else "route     (none)")
    lines.append(f"identity  {_identity_text(outcome)}")
    decision = "allow" if outcome.allow else "deny"
    rule = f", rule {outcome.rule}" if outcome.rule else ""
    lines.append(f"decision  {decision} ({outcome.reason}{rule})")
    if outcome.message:
        lines.append(f"message   {outcome.message}")
    if outcome.monitored:
        lines.append("monitored " + "; ".join(outcome.monitored))
    if outcome.reasons:
        lines.append("reasons")
        lines += [f"  {line}" for line in outcome.reasons]
    return lines


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """The same as :func:`render_outcome`, as JSON-ready data."""
    where = outcome.request
    route = where.route
    identity = outcome.identity
    return {
        "request": {"method": where.method, "url": where.url, "host": where.host},
        "path": where.path,
        "route": _route_json(route) if route is not None else None,
        "identity": (
            {"kind": identity.kind.value, "key": identity.key, "via": outcome.caller.via}
            if identity is not None
            else None
        ),
        "decision": {
            "allow": outcome.allow,
            "reason": outcome.reason,
            "rule": outcome.rule or None,
            "message": outcome.message,
            "monitored": list(outcome.monitored),
        },
        "reasons": list(outcome.reasons),
    }


def _route_text(route: RouteTarget[None]) -> str:
    config = route.config
    public = ", public" if config.public else ""
    return f"routes[{route.index}]: host {config.host}, path {config.path}{public}"


def _route_json(route: RouteTarget[None]) -> dict[str, Any]:
    config = route.config
    return {"index": route.index, "host": config.host, "path": config.path, "public": config.public}


def _identity_text(outcome: Outcome) -> str:
    identity = outcome.identity
    if identity is not None:
        return f"{identity.kind.value} {identity.key} (via {outcome.caller.via})"
    if outcome.caller.claims is None:
        return "anonymous"
    return f"not built (via {outcome.caller.via})"
