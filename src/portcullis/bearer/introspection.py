"""Opaque access tokens of generic providers: RFC 7662 token introspection.

Portcullis authenticates to the introspection endpoint with its own credentials and
accepts the answer only when ``active`` is true, ``exp`` is in the future, ``aud`` names
one of the API's audiences, and the issuer (when given) is the provider's. The
result is cached by the token's hash for ``cache_seconds``, never past ``exp``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import quote

from portcullis.bearer.principal import Principal, principal_from_claims
from portcullis.config.auth_schema import Introspection
from portcullis.oidc.fetch import Fetcher
from portcullis.secret import Secret

__all__ = ["Introspector"]


class IntrospectionRefused(Exception):
    """The endpoint says the token is not active, or its answer does not fit this API."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Introspector:
    def __init__(
        self,
        config: Introspection,
        secret: Secret[str],
        *,
        issuer: str,
        audiences: Collection[str],
        user_clients: Collection[str],
        fetcher: Fetcher,
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        pair = f"{quote(config.client_id, safe='')}:{quote(secret.reveal(), safe='')}"
        self._authorization = "Basic " + base64.b64encode(pair.encode()).decode()
        self._issuer = issuer
        self._audiences = frozenset(audiences)
        self._user_clients = frozenset(user_clients)
        self._fetcher = fetcher
        self._clock = clock

    async def introspect(self, token: str) -> tuple[Principal, float]:
        """The principal and until when it may be cached; raises IntrospectionRefused."""
        status, body = await self._fetcher.post_form(
            self._config.endpoint,
            {"token": token, "token_type_hint": "access_token"},
            headers={"Authorization": self._authorization},
        )
        if status != 200:
            raise IntrospectionRefused("introspection_error", "The token could not be checked.")
        now = self._clock()
        if body.get("active") is not True:
            raise IntrospectionRefused("inactive", "The token is not active.")
        exp = body.get("exp")
        if not isinstance(exp, int) or exp <= now:
            raise IntrospectionRefused("expired", "The token has expired.")
        if "iss" in body and body["iss"] != self._issuer:
            raise IntrospectionRefused("bad_issuer", "The token comes from another issuer.")
        if not self._audience_fits(body.get("aud")):
            raise IntrospectionRefused("bad_audience", "The token is not for this API.")
        claims: dict[str, Any] = {**body, "iss": self._issuer}
        principal = principal_from_claims(claims, user_clients=self._user_clients)
        return principal, min(float(exp), now + self._config.cache_seconds)

    def _audience_fits(self, aud: object) -> bool:
        # RFC 7662 makes `aud` optional, but an authorization server may call a token for
        # another resource "active": without an audience naming this API, fail closed.
        if isinstance(aud, str):
            return aud in self._audiences
        return isinstance(aud, list) and any(a in self._audiences for a in aud)
