"""Bearer access tokens for one API: validation per SECURITY.md 1-7 and ENTRA.md, then a cache.

Order of checks, cheapest first and nothing parsed before the size cap:

1. size cap; strict compact-JWS parse (header size capped);
2. Microsoft Graph tokens refused ("not for this API": third parties cannot validate them);
3. ``typ``: Entra's ``JWT`` profile, or RFC 9068 ``at+jwt`` for generic providers;
4. the issuer is chosen by ``ver``: Entra v1 and v2 tokens are each checked against their own
   discovery document, issuer rule and keys, so a mix (``ver: 2.0`` from ``sts.windows.net``)
   fails; keys come only from that issuer's JWKS (one rate-limited refresh on an unknown kid);
5. signature with the provider's algorithm allowlist; ``iss``, ``aud`` (exact, configured set),
   ``exp``/``nbf`` with the provider's clock skew;
6. an ID token (``nonce``, ``at_hash``, ``c_hash``) is never accepted as an access token.

Valid tokens are remembered by their SHA-256 until ``exp`` (a bounded LRU): a repeat costs a hash
and a dict lookup, the cache never outlives the token, and key rotation cannot break it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from portcullis.bearer.introspection import IntrospectionRefused, Introspector
from portcullis.bearer.principal import Principal, principal_from_claims
from portcullis.config.auth_schema import Api
from portcullis.jose import (
    IssuerRule,
    TokenError,
    UnknownKeyId,
    is_graph_token,
    parse,
    validate_claims,
    verify,
)
from portcullis.oidc.document import CachedDocument
from portcullis.oidc.fetch import Fetcher, IdpUnavailable
from portcullis.oidc.keycache import KeyCache
from portcullis.oidc.provider import ProviderClient

__all__ = ["MAX_TOKEN_BYTES", "BearerValidator", "TokenRejected"]

MAX_TOKEN_BYTES = 16 * 1024
_ID_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash")
_AT_JWT = ("at+jwt", "application/at+jwt")


class TokenRejected(Exception):
    """The token cannot be used; ``code`` for audit, the message is safe to show (no token)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _Issuer:
    rule: IssuerRule
    keys: KeyCache


class BearerValidator:
    def __init__(
        self,
        api: Api,
        provider: ProviderClient,
        *,
        fetcher: Fetcher,
        clock: Callable[[], float],
        user_clients: Collection[str],
        introspector: Introspector | None = None,
        max_entries: int = 10_000,
    ) -> None:
        self.api = api
        self._provider = provider
        self._fetcher = fetcher
        self._clock = clock
        self._user_clients = frozenset(user_clients)
        self._audiences = frozenset(api.audiences)
        self._algorithms = frozenset(provider.config.algorithms)
        self._skew = provider.config.clock_skew
        self._entra = provider.config.type == "entra"
        self._v1 = CachedDocument(self._load_v1_issuer, clock=clock, what="v1 discovery")
        self._cache: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()
        self._introspector = introspector
        self._max = max_entries

    # the hot path ---------------------------------------------------------------------------------
    def cached(self, token: str) -> tuple[bytes, Principal | None]:
        """The token's cache key, and its principal when it was validated and is not expired."""
        key = hashlib.sha256(token.encode("latin-1")).digest()
        entry = self._cache.get(key)
        if entry is None:
            return key, None
        if entry[0] <= self._clock():
            del self._cache[key]
            return key, None
        self._cache.move_to_end(key)  # least recently used goes first when full
        return key, entry[1]

    # the first time -------------------------------------------------------------------------------
    async def validate(self, token: str, key: bytes) -> Principal:
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenRejected("too_large", "The token is too large.")
        if token.count(".") != 2 and self._introspector is not None:
            return await self._introspect(token, key)
        try:
            jws = parse(token, max_bytes=MAX_TOKEN_BYTES)
            unverified = jws.unverified_claims()
        except TokenError:
            raise TokenRejected("malformed", "The token is not a valid JWT.") from None
        if jws.alg not in self._algorithms:
            # Before any key is fetched: `none`, HMAC and the rest never cost an IdP request.
            raise TokenRejected("alg_not_allowed", _MESSAGES["alg_not_allowed"])
        if is_graph_token(jws.header, unverified):
            raise TokenRejected("graph_token", "The token is for Microsoft Graph, not this API.")
        typ = jws.header.get("typ")
        if self._entra:
            if typ is not None and str(typ).lower() != "jwt":
                raise TokenRejected("bad_typ", "The token type is not an access token.")
        elif not isinstance(typ, str) or typ.lower() not in _AT_JWT:
            raise TokenRejected("bad_typ", "The token is not an RFC 9068 access token (at+jwt).")
        issuer = await self._issuer_for(unverified)
        try:
            keys = await issuer.keys.current()
            try:
                claims = verify(jws, keys, algorithms=self._algorithms)
            except UnknownKeyId:
                if not await issuer.keys.refresh_for_unknown_kid():
                    raise
                claims = verify(jws, await issuer.keys.current(), algorithms=self._algorithms)
            validate_claims(
                claims,
                now=self._clock(),
                issuer=issuer.rule,
                audiences=self._audiences,
                leeway=self._skew,
                require_iat=False,
            )
        except TokenError as exc:
            raise TokenRejected(
                exc.code, _MESSAGES.get(exc.code, "The token is not valid.")
            ) from None
        except LookupError:
            raise IdpUnavailable("the issuer's signing keys are unavailable") from None
        if any(name in claims for name in _ID_TOKEN_CLAIMS):
            raise TokenRejected("id_token", "An ID token is not an access token.")
        principal = principal_from_claims(claims, user_clients=self._user_clients)
        self._remember(key, principal, principal.token.expires_at)
        return principal

    async def _introspect(self, token: str, key: bytes) -> Principal:
        assert self._introspector is not None
        try:
            principal, until = await self._introspector.introspect(token)
        except IntrospectionRefused as exc:
            raise TokenRejected(exc.code, str(exc)) from None
        self._remember(key, principal, until)
        return principal

    def _remember(self, key: bytes, principal: Principal, until: float) -> None:
        cache = self._cache
        cache[key] = (until, principal)
        if len(cache) > self._max:
            cache.popitem(last=False)

    async def _issuer_for(self, unverified: dict[str, Any]) -> _Issuer:
        versions = self.api.token_versions
        if not self._entra:
            rule, keys = await self._provider.token_issuer()
            return _Issuer(rule, keys)
        ver = unverified.get("ver")
        if ver == "2.0" and 2 in versions:
            rule, keys = await self._provider.token_issuer()
            return _Issuer(rule, keys)
        if ver == "1.0" and 1 in versions:
            return await self._v1_issuer()
        raise TokenRejected("bad_version", "This API does not accept this token version.")

    async def _v1_issuer(self) -> _Issuer:
        """Entra v1 tokens: their own discovery document (sts.windows.net/{tid}/) and keys."""
        return await self._v1.get()

    async def _load_v1_issuer(self) -> _Issuer:
        config = self._provider.config
        url = f"{config.authority_host}/{config.tenant}/.well-known/openid-configuration"
        document = await self._fetcher.get_json(url)
        issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
        if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
            raise IdpUnavailable(f"{url}: no issuer or jwks_uri")
        if "{tenantid}" in issuer:
            rule = IssuerRule.entra_template(issuer, tenants=frozenset(config.allowed_tenants))
        else:
            rule = IssuerRule.exact(issuer, ver="1.0")

        async def fetch_keys() -> dict[str, Any]:
            return await self._fetcher.get_json(jwks_uri)

        return _Issuer(rule, KeyCache(fetch_keys, clock=self._clock))


_MESSAGES = {
    "expired": "The token has expired.",
    "not_yet_valid": "The token is not valid yet.",
    "bad_audience": "The token is not for this API.",
    "graph_token": "The token is for Microsoft Graph, not this API.",
    "bad_issuer": "The token comes from an issuer this API does not trust.",
    "tenant_not_allowed": "The token's tenant is not allowed.",
    "unknown_kid": "The token is signed with an unknown key.",
    "alg_not_allowed": "The token's signature algorithm is not allowed.",
}
