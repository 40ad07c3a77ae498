"""Request guardrails per route: what machines and agents may send, checked on the head.

The HTTP counterpart of hoop.dev's guardrails. A route's ``guardrails`` section
(:class:`~portcullis.guardrails.request_schema.RouteGuardrails`) is compiled once into a
:class:`RequestGuard`. Right after the gate allows a request, and only for the kinds of
caller in ``applies_to``, :meth:`RequestGuard.check` runs the head checks, in this order:

1. the rate limit: a token bucket per identity (429 with ``Retry-After``); every request
   counts, also one a later check refuses;
2. the method (405 with ``Allow``);
3. the deny patterns on the path and on the query (403 with the pattern's message),
   each searched in the text as forwarded and, when it has percent-escapes, decoded once;
4. a declared ``Content-Length`` over ``max_body_bytes`` (413).

The body checks (:mod:`portcullis.guardrails.body`) travel to the exchange in the allow
decision. Everything here is pure: the clock is the caller's ``now``; the only state is
the token buckets, bounded per route.

:class:`GuardRegistry` keeps each route's compiled guard, looked up by the route
configuration's identity; a reload that leaves a route's guardrails as they were keeps
its guard, and so its buckets.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from urllib.parse import unquote, unquote_to_bytes

from portcullis.config.schema import Route
from portcullis.decision import Decision, GuardrailDecision, Reason
from portcullis.guardrails.body import BodyGuard, JsonRule, json_rule
from portcullis.guardrails.ratelimit import DEFAULT_MAX_KEYS, RateLimiter
from portcullis.guardrails.request_schema import DenyPattern, RouteGuardrails
from portcullis.http.request import RequestHead
from portcullis.identity import Kind

__all__ = ["GuardRegistry", "RequestGuard"]

_Patterns = tuple[tuple[re.Pattern[str], Decision], ...]


def _refusal(pattern: DenyPattern, index: int) -> Decision:
    return Decision(
        False, Reason.GUARDRAIL, pattern.message, rule=pattern.name or f"guardrails.deny[{index}]"
    )


def _decoded_query(query: str) -> str:
    return unquote_to_bytes(query.replace("+", " ")).decode("utf-8", "replace")


class RequestGuard:
    """One route's guardrails, compiled; holds the route's token buckets."""

    __slots__ = (
        "_limiter",
        "_max_body",
        "_methods",
        "_paths",
        "_queries",
        "_rate_message",
        "_too_large",
        "_wrong_method",
        "applies_to",
        "body",
        "settings",
    )

    def __init__(
        self, settings: RouteGuardrails, *, max_identities: int = DEFAULT_MAX_KEYS
    ) -> None:
        self.settings = settings
        self.applies_to = frozenset(Kind(kind) for kind in settings.applies_to)
        self._methods = frozenset(settings.methods) if settings.methods is not None else None
        listed = ", ".join(settings.methods or ())
        self._wrong_method = GuardrailDecision(
            False,
            Reason.METHOD_NOT_ALLOWED,
            f"This method is not allowed here; allowed: {listed}.",
            rule="guardrails.methods",
            response_headers=((b"Allow", listed.encode("ascii")),),
        )
        limit = settings.rate_limit
        self._limiter = (
            RateLimiter(limit.requests, limit.per, limit.burst, max_keys=max_identities)
            if limit is not None
            else None
        )
        self._rate_message = (
            f"Too many requests: at most {limit.requests} every {limit.per:g} s."
            if limit is not None
            else ""
        )
        paths: list[tuple[re.Pattern[str], Decision]] = []
        queries: list[tuple[re.Pattern[str], Decision]] = []
        rules: list[JsonRule] = []
        for index, pattern in enumerate(settings.deny):
            refusal = _refusal(pattern, index)
            if pattern.path is not None:
                paths.append((re.compile(pattern.path), refusal))
            elif pattern.query is not None:
                queries.append((re.compile(pattern.query), refusal))
            elif pattern.json is not None:
                rules.append(json_rule(pattern.json.pointer, pattern.json.matches, refusal))
        self._paths: _Patterns = tuple(paths)
        self._queries: _Patterns = tuple(queries)
        self._max_body = settings.max_body_bytes
        self.body = (
            BodyGuard(settings, tuple(rules))
            if rules or settings.max_body_bytes is not None
            else None
        )
        self._too_large = Decision(
            False,
            Reason.BODY_TOO_LARGE,
            f"The request body may be at most {self._max_body} bytes here.",
            rule="guardrails.max_body_bytes",
        )

    def check(self, key: str, head: RequestHead, now: float) -> Decision | None:
        """The head checks for the identity ``key``: a refusal, or None to let it pass."""
        limiter = self._limiter
        if limiter is not None:
            wait = limiter.take(key, now)
            if wait:
                return self._rate_limited(wait)
        methods = self._methods
        if methods is not None and head.method not in methods:
            return self._wrong_method
        if self._paths:
            found = _search(self._paths, head.path, unquote)
            if found is not None:
                return found
        if self._queries and len(head.query) > 1:
            found = _search(self._queries, head.query[1:].decode("latin-1"), _decoded_query)
            if found is not None:
                return found
        length = head.content_length
        if length is not None and self._max_body is not None and length > self._max_body:
            return self._too_large
        return None

    def _rate_limited(self, wait: float) -> Decision:
        seconds = max(1, math.ceil(wait))
        return GuardrailDecision(
            False,
            Reason.RATE_LIMITED,
            f"{self._rate_message} Try again in {seconds} s.",
            rule="guardrails.rate_limit",
            response_headers=((b"Retry-After", str(seconds).encode()),),
        )


def _search(patterns: _Patterns, text: str, decode: Callable[[str], str]) -> Decision | None:
    """The refusal of the first pattern found in ``text`` or in its percent-decoded form."""
    decoded = decode(text) if "%" in text or "+" in text else None
    for pattern, refusal in patterns:
        if pattern.search(text) or (decoded is not None and pattern.search(decoded)):
            return refusal
    return None


class GuardRegistry:
    """The compiled guard of each route with guardrails, by configuration object.

    A route seen for the first time (a new configuration) takes the guard of the route
    with the same host and path if its guardrails are equal: a reload keeps the buckets.
    """

    __slots__ = ("_by_config", "_by_route", "max_identities", "max_routes")

    def __init__(self, *, max_routes: int = 4096, max_identities: int = DEFAULT_MAX_KEYS) -> None:
        self.max_routes = max_routes
        self.max_identities = max_identities
        self._by_config: dict[int, tuple[Route, RequestGuard]] = {}
        self._by_route: dict[tuple[str, str], RequestGuard] = {}

    def guard(self, route: Route) -> RequestGuard:
        """The guard of ``route``, which has guardrails."""
        known = self._by_config.get(id(route))
        if known is not None and known[0] is route:
            return known[1]
        return self._compile(route)

    def _compile(self, route: Route) -> RequestGuard:
        settings = route.guardrails
        if settings is None:
            raise ValueError("this route has no guardrails")
        where = (route.host, route.path)
        guard = self._by_route.get(where)
        if guard is None or guard.settings != settings:
            guard = RequestGuard(settings, max_identities=self.max_identities)
        if len(self._by_config) >= self.max_routes:
            self._by_config.clear()  # configurations replaced many times over: start again
        if len(self._by_route) >= self.max_routes and where not in self._by_route:
            self._by_route.clear()
        self._by_config[id(route)] = (route, guard)
        self._by_route[where] = guard
        return guard
