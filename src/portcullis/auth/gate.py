"""The gate for signed-in routes: session cookie → session → decision with identity headers.

Hot path (a cached session): one cookie scan, a dict lookup for the opened
cookie, a dict lookup in the session cache, the route's rule, a dict lookup
for the identity headers. Only a cache miss awaits the session store.

Portcullis' own cookies are removed from the ``Cookie`` header before the
request is forwarded, on public routes too: the upstream never sees them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from portcullis.audit.record import AuditIdentity
from portcullis.audit.requests import SESSION_EXPIRED_RULE, AuditSubject
from portcullis.auth.rules import denial
from portcullis.auth.upstream_headers import IdentityHeaderBuilder
from portcullis.bearer.principal import TokenFacts
from portcullis.bearer.validator import MAX_TOKEN_BYTES, BearerValidator, TokenRejected
from portcullis.config.auth_schema import SessionSettings
from portcullis.decision import ALLOW_PUBLIC, Decision, GuardrailDecision, Reason
from portcullis.graph import GroupResolver, GroupsResult, Resolved
from portcullis.guardrails.events import Observation
from portcullis.guardrails.monitor import Guardrails
from portcullis.guardrails.request import GuardRegistry
from portcullis.http.request import RequestHead
from portcullis.identity import Identity
from portcullis.metrics import METRICS, TOKEN_CACHE_HITS, TOKEN_CACHE_MISSES
from portcullis.oidc.fetch import IdpUnavailable
from portcullis.policy import Context, Facts, RoutePolicy, compile_route
from portcullis.routing import RouteTarget
from portcullis.session.cache import CachedStore, Miss
from portcullis.session.cookie import CookieCodec
from portcullis.session.model import Session, is_live, touch

__all__ = ["SESSION_PURPOSE", "AuthGate"]

log = logging.getLogger("portcullis.auth")

SESSION_PURPOSE = b"session"
_TOUCH_AFTER = 60.0  # write last_seen back at most once a minute per session (or a quarter of
# the idle timeout when that is shorter, so activity always keeps a session alive)
_MAX_REMEMBERED = 50_000
_NO_SESSION = Decision(False, Reason.UNAUTHENTICATED, "no session")
_EXPIRED = Decision(
    False, Reason.UNAUTHENTICATED, "session expired or revoked", rule=SESSION_EXPIRED_RULE
)
_BLOCKED = Decision(
    False, Reason.BLOCKED, "Access is blocked for a while after a security violation."
)
_TOKEN_MISSING = Decision(False, Reason.TOKEN_MISSING, "A bearer token is required.")
_TOKEN_TOO_LARGE = Decision(False, Reason.TOKEN_TOO_LARGE, "The token is too large.")
_AUTH_UNAVAILABLE = Decision(
    False, Reason.AUTH_UNAVAILABLE, "The token cannot be checked right now; try again shortly."
)
_SEVERAL_AUTHORIZATIONS = Decision(
    False, Reason.INVALID_TOKEN, "Send exactly one Authorization header."
)


class AuthGate:
    def __init__(
        self,
        *,
        codec: CookieCodec,
        store: CachedStore,
        settings: SessionSettings,
        cookie: str,
        strip_cookies: tuple[str, ...],
        headers: IdentityHeaderBuilder,
        validators: Mapping[str, BearerValidator],
        groups: GroupResolver | None = None,
        clock: Callable[[], float],
        guardrails: Callable[[], Guardrails | None] = lambda: None,
    ) -> None:
        self._codec = codec
        self._store = store
        self._settings = settings
        self._cookie = cookie
        self._markers = tuple(f"{name}=".encode() for name in strip_cookies)
        self._headers = headers
        self._validators = validators
        self._groups = groups
        self._clock = clock
        self._guardrails = guardrails  # the worker's stream guardrails, when configured
        self._touch_after = min(_TOUCH_AFTER, settings.idle_timeout / 4)
        self._guards = GuardRegistry()  # compiled request guardrails, with their rate limits
        # Cookie header value -> (session id, value to forward): skips parsing and AES per request.
        self._cookies: dict[bytes, tuple[str | None, bytes | None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._subjects: dict[str | bytes, AuditSubject] = {}  # session id / token hash -> who

    def check(
        self, request: RequestHead, route: RouteTarget[Any]
    ) -> Decision | Awaitable[Decision]:
        session_id = self._session_id(request)
        if route.public:
            return ALLOW_PUBLIC
        accept = route.config.accept
        if "bearer" in accept:
            token = _bearer_token(request)
            if token is not None:
                return self._check_token(token, request, route)
            if "session" not in accept:
                return _TOKEN_MISSING
        if session_id is None:
            return _NO_SESSION
        cached = self._store.peek(session_id)
        if cached is Miss.MISS:
            return self._check_stored(session_id, request, route)
        return self._decide(cached, request, route)

    async def _check_stored(
        self, session_id: str, request: RequestHead, route: RouteTarget[Any]
    ) -> Decision:
        decision = self._decide(await self._store.get(session_id), request, route)
        return decision if isinstance(decision, Decision) else await decision

    def _decide(
        self, session: Session | None, request: RequestHead, route: RouteTarget[Any]
    ) -> Decision | Awaitable[Decision]:
        now = self._clock()
        settings = self._settings
        if session is None or not is_live(
            session,
            now=now,
            idle_timeout=settings.idle_timeout,
            absolute_timeout=settings.absolute_timeout,
        ):
            return _EXPIRED
        if now - session.last_seen > self._touch_after:
            self._touch(session, now)
        return self._admit(
            session.id, session.identity, request, route, None, since=session.created_at
        )

    # bearer tokens --------------------------------------------------------------------------------
    def _check_token(
        self, token: str, request: RequestHead, route: RouteTarget[Any]
    ) -> Decision | Awaitable[Decision]:
        if not token:
            return _SEVERAL_AUTHORIZATIONS
        if len(token) > MAX_TOKEN_BYTES:
            return _TOKEN_TOO_LARGE  # SECURITY.md 7: refused before parsing, with 431
        validator = self._validators[route.config.api or ""]
        key, principal = validator.cached(token)
        METRICS.cells[TOKEN_CACHE_MISSES if principal is None else TOKEN_CACHE_HITS] += 1
        if principal is None:
            return self._validate_token(validator, token, key, request, route)
        return self._admit(key, principal.identity, request, route, principal.token, since=None)

    async def _validate_token(
        self,
        validator: BearerValidator,
        token: str,
        key: bytes,
        request: RequestHead,
        route: RouteTarget[Any],
    ) -> Decision:
        try:
            principal = await validator.validate(token, key)
        except TokenRejected as exc:
            log.info("bearer token rejected (%s) on %s", exc.code, route.config.path)
            return Decision(False, Reason.INVALID_TOKEN, str(exc))
        except IdpUnavailable as exc:
            log.warning("bearer token could not be checked: %s", exc)
            return _AUTH_UNAVAILABLE
        decision = self._admit(key, principal.identity, request, route, principal.token, since=None)
        return decision if isinstance(decision, Decision) else await decision

    # the policy, with groups from Microsoft Graph when the token could not carry them -----------
    def _admit(
        self,
        owner: str | bytes,
        identity: Identity,
        request: RequestHead,
        route: RouteTarget[Any],
        token: TokenFacts | None,
        *,
        since: float | None,
    ) -> Decision | Awaitable[Decision]:
        policy = route.policy or _policy_of(route)
        tenant, oid = identity.tenant_id, identity.object_id
        groups = self._groups
        if identity.groups_unknown and groups is not None and tenant and oid and policy.uses_groups:
            found = groups.peek(tenant, oid)
            if found is None:
                return self._admit_after_lookup(owner, identity, request, route, token, since=since)
            identity = _with_groups(identity, found)
        return self._finish(owner, identity, request, route, token, since=since)

    async def _admit_after_lookup(
        self,
        owner: str | bytes,
        identity: Identity,
        request: RequestHead,
        route: RouteTarget[Any],
        token: TokenFacts | None,
        *,
        since: float | None,
    ) -> Decision:
        assert self._groups is not None and identity.tenant_id and identity.object_id
        found = await self._groups.resolve(
            identity.tenant_id, identity.object_id, kind=identity.kind
        )
        return self._finish(
            owner, _with_groups(identity, found), request, route, token, since=since
        )

    def _finish(
        self,
        owner: str | bytes,
        identity: Identity,
        request: RequestHead,
        route: RouteTarget[Any],
        token: TokenFacts | None,
        *,
        since: float | None,
    ) -> Decision:
        now = self._clock()
        watch = self._guardrails()
        if watch is not None and watch.is_blocked(identity.key, now):
            subject = self._subjects.get(owner) or self._subject(owner, identity, token, since)
            return replace(_BLOCKED, subject=subject)
        decision = self._decision(owner, identity, request, route, token, now=now, since=since)
        if watch is not None:  # violations over the decision stream
            found = watch.observe(
                Observation.of(
                    now,
                    identity,
                    decision,
                    route,
                    method=request.method,
                    path=request.path,
                    source_ip=request.source_ip,
                    token=token,
                )
            )
            if found:
                watch.handle(found)
        return decision

    def _decision(
        self,
        owner: str | bytes,
        identity: Identity,
        request: RequestHead,
        route: RouteTarget[Any],
        token: TokenFacts | None,
        *,
        now: float,
        since: float | None,
    ) -> Decision:
        policy = route.policy or _policy_of(route)
        facts = Facts(identity, request.method, request.path, request.source_ip, now, token)
        verdict = policy.decide(facts)
        subject = self._subjects.get(owner)
        if subject is None:
            subject = self._subject(owner, identity, token, since)
        if not verdict.allow:
            return denial(
                verdict,
                bearer=token is not None,
                subject=subject,
                explain=partial(_reasons, policy, facts),
            )
        body_guard = None
        if route.config.guardrails is not None:  # request guardrails (machines and agents)
            guard = self._guards.guard(route.config)
            if identity.kind in guard.applies_to:
                refusal = guard.check(identity.key, request, now)
                if refusal is not None:
                    return replace(refusal, subject=subject)
                body_guard = guard.body
        headers = self._headers.for_identity(
            owner, identity, route.config.upstream, now, policy.forwarding
        )
        if body_guard is not None:  # the exchange checks the body
            return GuardrailDecision(
                True,
                verdict.reason,
                "",
                headers,
                rule=verdict.rule,
                monitored=verdict.monitored,
                subject=subject,
                body_guard=body_guard,
            )
        return Decision(
            True,
            verdict.reason,
            "",
            headers,
            rule=verdict.rule,
            monitored=verdict.monitored,
            subject=subject,
        )

    def _subject(
        self,
        owner: str | bytes,
        identity: Identity,
        token: TokenFacts | None,
        since: float | None,
    ) -> AuditSubject:
        """Who, for audit records: made once per session or token, with its times."""
        if token is not None:
            subject = AuditSubject(
                AuditIdentity.of(identity),
                token.token_id,
                token.issued_at,
                token.expires_at,
            )
        else:
            subject = AuditSubject(AuditIdentity.of(identity), session_created=since)
        if len(self._subjects) >= _MAX_REMEMBERED:
            self._subjects.clear()
        self._subjects[owner] = subject
        return subject

    def _touch(self, session: Session, now: float) -> None:
        remaining = session.expires_at - now
        task = asyncio.ensure_future(self._store.put(touch(session, now), ttl=remaining))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _session_id(self, request: RequestHead) -> str | None:
        """Find our session cookie, and remove Portcullis' cookies from what is forwarded.

        Browsers send the same ``Cookie`` header with every request: what it yields
        (the session id, and the header without our cookies) is remembered per value.
        """
        headers = request.headers
        found: str | None = None
        dropped: list[int] | None = None
        for index, (name, value) in enumerate(headers):
            if len(name) != 6 or name.lower() != b"cookie":
                continue
            known = self._cookies.get(value)
            if known is None:
                known = self._parse_cookies(value)
                if len(self._cookies) >= _MAX_REMEMBERED:
                    self._cookies.clear()
                self._cookies[value] = known
            session_id, kept = known
            if found is None:
                found = session_id  # the first occurrence decides, as read_cookie() does
            if kept is None:
                dropped = [*(dropped or ()), index]
            elif kept is not value:
                headers[index] = (name, kept)
        for index in reversed(dropped or ()):
            del headers[index]
        return found or None  # "" (present but not valid) is no session

    def _parse_cookies(self, value: bytes) -> tuple[str | None, bytes | None]:
        """(our session id, the header value without Portcullis' cookies or None).

        The session id is None when our cookie is absent and ``""`` when its first
        occurrence does not open (tampered, or sealed with a retired key): the first
        occurrence decides, as for :func:`read_cookie`, never a later one.
        """
        if not any(marker in value for marker in self._markers):
            return None, value
        session_id: str | None = None
        kept = []
        for raw in value.split(b";"):
            pair = raw.strip()
            key, _, cookie_value = pair.partition(b"=")
            if any(pair.startswith(m) for m in self._markers):
                if key.decode("latin-1") == self._cookie and session_id is None:
                    opened = self._codec.open(
                        cookie_value.decode("latin-1"), purpose=SESSION_PURPOSE
                    )
                    session_id = opened.decode("ascii") if opened is not None else ""
            elif pair:
                kept.append(pair)
        return session_id, b"; ".join(kept) if kept else None


_HAND_BUILT: dict[int, tuple[Any, RoutePolicy]] = {}


def _policy_of(route: RouteTarget[Any]) -> RoutePolicy:
    """The policy of a route target built by hand (the runtime compiles every route at load).

    Compiled once per route configuration, without the ``policy`` section's aliases: a rule
    that needs them raises, and the request is refused.
    """
    config = route.config
    known = _HAND_BUILT.get(id(config))
    if known is None or known[0] is not config:
        compiled = compile_route(config, route.index, Context())
        if compiled is None:
            raise LookupError("a public route has no policy")
        if len(_HAND_BUILT) > 256:
            _HAND_BUILT.clear()
        known = _HAND_BUILT[id(config)] = (config, compiled)
    return known[1]


def _reasons(policy: RoutePolicy, facts: Facts) -> tuple[str, ...]:
    return policy.explain(facts).reasons


def _with_groups(identity: Identity, found: GroupsResult) -> Identity:
    """The identity with its groups from Graph; still unknown when Graph could not answer."""
    if isinstance(found, Resolved):
        return replace(identity, groups=found.groups, groups_unknown=False)
    log.warning("groups of %s could not be resolved: %s", identity.key, found.reason)
    return identity


def _bearer_token(request: RequestHead) -> str | None:
    """The bearer token, None when there is none, ``""`` when Authorization is repeated."""
    found: str | None = None
    count = 0
    for name, value in request.headers:
        if len(name) == 13 and name.lower() == b"authorization":
            count += 1
            scheme, _, credentials = value.partition(b" ")
            if scheme.lower() == b"bearer" and credentials.strip():
                found = credentials.strip().decode("latin-1")
    if count > 1:
        return ""
    return found
