"""App-only access tokens for Microsoft Graph (OAuth 2.0 client credentials).

Portcullis asks ``{authority_host}/{tenant}/oauth2/v2.0/token`` with
``grant_type=client_credentials`` and ``scope={Graph origin}/.default``,
authenticating with its own :class:`~portcullis.oidc.client_auth.ClientAuth`
(client secret or ``private_key_jwt``; the configured credentials in order, the
next one tried on ``invalid_client``, as for the code exchange).

One token per tenant, cached until ``refresh_margin`` (5 min) before it
expires — for tokens shorter than twice the margin, until half their lifetime.
Per tenant one refresh is in flight at a time (an :class:`asyncio.Lock`);
callers that queued behind it use its result. After a failed request no other
is made for ``failure_backoff`` seconds (an outage of the token endpoint costs
one request per interval, not one per principal). :meth:`GraphTokens.invalidate`
drops a token Graph refused (401) unless it was already replaced.

The clock is injected and must be wall-clock time (``time.time``): it also
dates ``private_key_jwt`` assertions.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from portcullis.graph.urls import check_graph_base, graph_scope, token_endpoint
from portcullis.oidc.client_auth import ClientAuth
from portcullis.oidc.fetch import Fetcher, IdpUnavailable
from portcullis.secret import Secret

__all__ = ["GraphTokens"]

log = logging.getLogger("portcullis.graph")

_MAX_TOKEN_CHARS = 16_384
_MAX_LIFETIME = 86_400
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")  # visible ASCII: safe in an Authorization header


@dataclass(frozen=True, slots=True)
class _Cached:
    token: Secret[str]
    refresh_at: float


class GraphTokens:
    """Client-credentials tokens for one Graph deployment, cached per tenant."""

    def __init__(
        self,
        *,
        authority_host: str,
        graph_base: str,
        client_auth: Sequence[ClientAuth],
        fetcher: Fetcher,
        clock: Callable[[], float],
        refresh_margin: float = 300.0,
        failure_backoff: float = 10.0,
        scope: str | None = None,
    ) -> None:
        if not client_auth:
            raise ValueError("Graph tokens need at least one client credential")
        self._authority = check_graph_base(authority_host, what="authority host")
        self.scope = scope or graph_scope(graph_base)
        self._auth = tuple(client_auth)
        self._fetcher = fetcher
        self._clock = clock
        self._margin = refresh_margin
        self._backoff = failure_backoff
        self._failed_at: dict[str, float] = {}
        self._tokens: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0  # token requests made, for tests and metrics

    def __repr__(self) -> str:
        return f"GraphTokens(authority={self._authority!r}, scope={self.scope!r})"

    def endpoint(self, tenant: str) -> str:
        return token_endpoint(self._authority, tenant)

    async def get(self, tenant: str) -> Secret[str]:
        """A valid token for ``tenant``; raises IdpUnavailable when none can be had."""
        tenant = tenant.lower()
        cached = self._fresh(tenant)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            cached = self._fresh(tenant)  # refreshed while we waited
            if cached is not None:
                return cached
            if self._clock() - self._failed_at.get(tenant, float("-inf")) < self._backoff:
                raise IdpUnavailable("token endpoint failed moments ago; not asking again yet")
            try:
                token, lifetime = await self._request(tenant)
            except IdpUnavailable:
                self._failed_at[tenant] = self._clock()
                raise
            self._failed_at.pop(tenant, None)
            now = self._clock()
            margin = min(self._margin, lifetime / 2)
            self._tokens[tenant] = _Cached(token, now + lifetime - margin)
            return token

    def invalidate(self, tenant: str, token: Secret[str]) -> None:
        """Forget ``token`` (Graph refused it); a newer token for the tenant is kept."""
        tenant = tenant.lower()
        cached = self._tokens.get(tenant)
        if cached is not None and cached.token == token:
            del self._tokens[tenant]

    def _fresh(self, tenant: str) -> Secret[str] | None:
        cached = self._tokens.get(tenant)
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.token
        return None

    async def _request(self, tenant: str) -> tuple[Secret[str], float]:
        endpoint = self.endpoint(tenant)
        status, body = 0, dict[str, Any]()
        for attempt, credentials in enumerate(self._auth):
            form, headers = credentials.form_and_headers(endpoint, now=self._clock())
            form.update(grant_type="client_credentials", scope=self.scope)
            self.fetches += 1
            status, body = await self._fetcher.post_form(endpoint, form, headers=headers)
            if status != 200 and body.get("error") == "invalid_client":
                log.warning("client credential %d refused by the token endpoint", attempt)
                continue
            break
        if status != 200:
            error = body.get("error")
            code = error if isinstance(error, str) and error.isascii() else f"HTTP {status}"
            raise IdpUnavailable(f"token endpoint refused a Graph token ({code[:64]})")
        return _check_token_response(body)


def _check_token_response(body: dict[str, Any]) -> tuple[Secret[str], float]:
    token = body.get("access_token")
    if (
        not isinstance(token, str)
        or len(token) > _MAX_TOKEN_CHARS
        or _TOKEN_RE.match(token) is None
    ):
        raise IdpUnavailable("token response: access_token missing or malformed")
    token_type = body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise IdpUnavailable("token response: token_type is not Bearer")
    lifetime = body.get("expires_in")
    if (
        isinstance(lifetime, str)
        and lifetime.isascii()
        and lifetime.isdigit()
        and len(lifetime) < 10
    ):
        lifetime = int(lifetime)  # Entra v1 endpoints send a string
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime <= 0:
        raise IdpUnavailable("token response: expires_in missing or not a positive integer")
    return Secret(token), float(min(lifetime, _MAX_LIFETIME))
