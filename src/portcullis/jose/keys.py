"""Verification keys from a JWKS document (RFC 7517), looked up by ``kid``.

``KeySet.from_jwks`` keeps only keys that can verify an asymmetric JWS and
silently skips the rest, so one odd key in an IdP's document never breaks the
others:

* ``kty`` must be ``RSA`` (modulus ≥ 2048 bits, odd exponent ≥ 3) or ``EC``
  (P-256 / P-384 / P-521, point on the curve). ``oct`` (symmetric) keys are
  never accepted: a JWKS is public, so an HMAC key in it is no secret.
* ``use``, when present, must be ``sig``; ``key_ops``, when present, must
  contain ``verify``.
* ``alg``, when present, pins the key to that algorithm.

``kid`` is an opaque string: it is only ever compared for equality.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portcullis.jose._algorithms import ALGORITHMS, MIN_RSA_BITS, Algorithm
from portcullis.jose._codec import b64url_decode
from portcullis.jose.errors import TokenError
from portcullis.jose.sign import PublicKey

__all__ = ["Key", "KeySet"]

_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
    "P-521": (ec.SECP521R1(), 66),
}
MAX_KEYS = 100  # an IdP publishes a handful; more is a mistake or an attack


@dataclass(frozen=True, slots=True)
class Key:
    """One public verification key."""

    kid: str | None
    public_key: PublicKey
    alg: str | None = None  # the JWK's own ``alg``: the only algorithm it may verify
    issuer: str | None = None  # Entra publishes an ``issuer`` per key; informational

    @property
    def kty(self) -> str:
        return "RSA" if isinstance(self.public_key, rsa.RSAPublicKey) else "EC"

    def fits(self, algorithm: Algorithm) -> bool:
        """Whether this key may verify a signature made with ``algorithm``."""
        if self.alg is not None and self.alg != algorithm.name:
            return False
        return algorithm.fits(self.public_key)

    def __repr__(self) -> str:
        return f"Key(kid={self.kid!r}, kty={self.kty!r}, alg={self.alg!r})"


def _uint(jwk: Mapping[str, Any], name: str, size: int | None = None) -> int:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise ValueError(name)
    try:
        data = b64url_decode(value, part=name)
    except TokenError:
        raise ValueError(name) from None
    if not data or (size is not None and len(data) != size):
        raise ValueError(name)
    return int.from_bytes(data, "big")


def _public_key(jwk: Mapping[str, Any]) -> PublicKey:
    kty = jwk.get("kty")
    if kty == "RSA":
        n = _uint(jwk, "n")
        e = _uint(jwk, "e")
        if n.bit_length() < MIN_RSA_BITS or e < 3 or e % 2 == 0:
            raise ValueError("weak RSA key")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if kty == "EC":
        crv = jwk.get("crv")
        if not isinstance(crv, str) or crv not in _CURVES:
            raise ValueError("crv")
        curve, size = _CURVES[crv]
        x = _uint(jwk, "x", size)
        y = _uint(jwk, "y", size)
        # cryptography rejects points that are not on the curve.
        return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
    raise ValueError("kty")  # includes "oct": symmetric keys are never accepted


def _usable(jwk: Mapping[str, Any]) -> Key | None:
    use = jwk.get("use")
    if use is not None and use != "sig":
        return None
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    kid = jwk.get("kid")
    alg = jwk.get("alg")
    issuer = jwk.get("issuer")
    if kid is not None and not isinstance(kid, str):
        return None
    if alg is not None and (not isinstance(alg, str) or alg not in ALGORITHMS):
        return None
    try:
        public = _public_key(jwk)
    except (ValueError, TypeError, OverflowError):
        return None
    if alg is not None and not ALGORITHMS[alg].fits(public):
        return None
    return Key(
        kid=kid, public_key=public, alg=alg, issuer=issuer if isinstance(issuer, str) else None
    )


class KeySet:
    """An immutable set of verification keys, indexed by ``kid``."""

    __slots__ = ("_by_kid", "_keys")

    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._keys: tuple[Key, ...] = tuple(keys)
        by_kid: dict[str, list[Key]] = {}
        for key in self._keys:
            if key.kid is not None:
                by_kid.setdefault(key.kid, []).append(key)
        self._by_kid: dict[str, tuple[Key, ...]] = {k: tuple(v) for k, v in by_kid.items()}

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> KeySet:
        """Build from a parsed JWKS document; keys that cannot be used are skipped.

        Raises ``ValueError`` only when the document itself is not a JWKS
        (no ``keys`` list) or is absurdly large.
        """
        entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(entries, list):
            raise ValueError("a JWKS document needs a 'keys' list")
        if len(entries) > MAX_KEYS:
            raise ValueError(f"a JWKS document with more than {MAX_KEYS} keys")
        keys = [k for k in (_usable(e) for e in entries if isinstance(e, Mapping)) if k]
        return cls(keys)

    @classmethod
    def from_public_keys(cls, keys: Mapping[str, PublicKey]) -> KeySet:
        """Build from ``{kid: public_key}`` (keys configured locally, not from a JWKS)."""
        return cls(Key(kid=kid, public_key=key) for kid, key in keys.items())

    def by_kid(self, kid: str) -> tuple[Key, ...]:
        """Every key with exactly this ``kid`` (normally one; empty if unknown)."""
        return self._by_kid.get(kid, ())

    def for_algorithm(self, algorithm: Algorithm) -> tuple[Key, ...]:
        """Every key that could verify ``algorithm``, whatever its kid."""
        return tuple(k for k in self._keys if k.fits(algorithm))

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._by_kid)

    def __iter__(self) -> Iterator[Key]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeySet({list(self._keys)!r})"
