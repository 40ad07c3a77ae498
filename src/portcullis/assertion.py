"""The signed identity assertion Portcullis sends upstream (``X-Portcullis-Assertion``).

An ES256 JWT that tells an upstream application who is behind a request, so it
need not trust a plain header. Upstreams verify it with the JWKS published by
:meth:`AssertionSigner.jwks` and check ``iss`` and ``aud`` (their own origin).

Keys rotate like ``MultiFernet``: the **first** key signs, **all** keys are
published, so assertions signed by the previous key keep verifying while they
are in flight. ``kid`` is each key's RFC 7638 thumbprint.

Signing is on the request hot path, so a signed assertion is cached per
(identity key, audience) and reused until :data:`REFRESH_MARGIN` seconds
before it expires; a cached entry is used only if the identity is *equal* to
the one it was signed for (roles or groups that changed get a fresh token).
A consequence: requests in the same window share one ``jti``, so ``jti`` names
an assertion, not a request.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from portcullis.identity import Identity
from portcullis.jose.sign import jwk_thumbprint, public_jwk, sign_jws

__all__ = [
    "ALG",
    "HEADER",
    "REFRESH_MARGIN",
    "TYP",
    "AssertionSigner",
    "generate_key",
    "load_private_key",
]

HEADER = "X-Portcullis-Assertion"
ALG = "ES256"
TYP = "JWT"
REFRESH_MARGIN = 60  # seconds before exp at which a cached assertion is replaced
DEFAULT_CACHE_SIZE = 10_000


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A new P-256 signing key."""
    return ec.generate_private_key(ec.SECP256R1())


def load_private_key(pem: bytes, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """Load a PEM private key; it must be an EC P-256 key."""
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the assertion signing key must be an EC P-256 private key")
    return key


@dataclass(frozen=True, slots=True)
class _Cached:
    identity: Identity
    token: str
    refresh_at: float


class AssertionSigner:
    """Signs identity assertions with the first key; publishes all keys."""

    def __init__(
        self,
        keys: Sequence[ec.EllipticCurvePrivateKey],
        *,
        issuer: str,
        lifetime: int = 300,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if not keys:
            raise ValueError("AssertionSigner needs at least one key")
        for key in keys:
            if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
                key.curve, ec.SECP256R1
            ):
                raise ValueError("assertion keys must be EC P-256 private keys")
        if not issuer:
            raise ValueError("issuer is empty")
        if not REFRESH_MARGIN < lifetime <= 3600:
            raise ValueError(f"lifetime must be in ({REFRESH_MARGIN}, 3600] seconds")
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        published = [public_jwk(k, kid=None, alg=ALG) for k in keys]
        for jwk in published:
            jwk["kid"] = jwk_thumbprint(jwk)
        self._key = keys[0]
        self._kid: str = published[0]["kid"]
        self._jwks: list[dict[str, Any]] = published
        self.issuer = issuer
        self.lifetime = lifetime
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], _Cached] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def kid(self) -> str:
        """The kid of the signing key."""
        return self._kid

    def jwks(self) -> dict[str, Any]:
        """The public JWKS with every configured key (signing key first)."""
        return {"keys": [dict(jwk) for jwk in self._jwks]}

    def sign(self, identity: Identity, *, audience: str, now: float) -> str:
        """An assertion for ``identity`` addressed to ``audience`` (the upstream origin)."""
        cache_key = (identity.key, audience)
        with self._lock:
            hit = self._cache.get(cache_key)
            if hit is not None and now < hit.refresh_at and hit.identity == identity:
                self._cache.move_to_end(cache_key)
                return hit.token
        iat = int(now)
        exp = iat + self.lifetime
        token = sign_jws(
            self._claims(identity, audience, iat, exp), self._key, alg=ALG, kid=self._kid, typ=TYP
        )
        with self._lock:
            self._cache[cache_key] = _Cached(identity, token, exp - REFRESH_MARGIN)
            self._cache.move_to_end(cache_key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return token

    def _claims(self, identity: Identity, audience: str, iat: int, exp: int) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience,
            "sub": identity.key,
            "iat": iat,
            "exp": exp,
            "jti": secrets.token_urlsafe(16),
            "kind": identity.kind.value,
            "roles": list(identity.roles),
            "groups": list(identity.groups),
        }
        optional = {
            "tid": identity.tenant_id,
            "oid": identity.object_id,
            "name": identity.name,
            "email": identity.email,
            "preferred_username": identity.username,
            "azp": identity.client_id,
        }
        claims.update({k: v for k, v in optional.items() if v is not None})
        if identity.groups_unknown:
            claims["groups_unknown"] = True
        return claims

    def __repr__(self) -> str:
        return f"AssertionSigner(issuer={self.issuer!r}, kid={self._kid!r}, keys={len(self._jwks)})"
