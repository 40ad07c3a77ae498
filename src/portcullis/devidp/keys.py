"""The IdP's signing keys: generated at start (RSA 2048) or loaded from PEM; published as a JWKS.

The first key signs; every key is published, so :meth:`SigningKeys.rotate`
(a new key in front, the old ones kept) lets tests exercise key rollover the
way Entra does it — without notice.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from portcullis.jose import jwk_thumbprint, public_jwk, sign_jws
from portcullis.secret import Secret

__all__ = ["ALG", "SigningKeys"]

ALG = "RS256"
_KEY_BITS = 2048
_MAX_KEYS = 3


class SigningKeys:
    """RSA keys with RFC 7638 thumbprints as ``kid``; the first one signs."""

    def __init__(self, pem: Secret[bytes] | None = None) -> None:
        self._lock = threading.Lock()
        self._keys: list[tuple[str, rsa.RSAPrivateKey]] = []
        self._add(_load(pem) if pem is not None else _generate())

    def _add(self, key: rsa.RSAPrivateKey) -> None:
        kid = jwk_thumbprint(public_jwk(key, kid=None, alg=ALG))
        with self._lock:
            self._keys = [(kid, key), *self._keys][:_MAX_KEYS]

    def rotate(self) -> str:
        """Generate a new signing key, keep publishing the previous ones; return the new kid."""
        self._add(_generate())
        return self.kids[0]

    @property
    def kids(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(kid for kid, _ in self._keys)

    def sign(self, claims: Mapping[str, Any]) -> str:
        with self._lock:
            kid, key = self._keys[0]
        return sign_jws(claims, key, alg=ALG, kid=kid, typ="JWT")

    def jwks(self, issuer: str) -> dict[str, Any]:
        """The JWKS document, each key carrying Entra's ``issuer`` property."""
        with self._lock:
            keys = list(self._keys)
        return {
            "keys": [
                {**public_jwk(key, kid=kid, use="sig", alg=ALG), "issuer": issuer}
                for kid, key in keys
            ]
        }

    def __repr__(self) -> str:
        return f"SigningKeys(kids={list(self.kids)!r})"


def _generate() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)


def _load(pem: Secret[bytes]) -> rsa.RSAPrivateKey:
    """Raises ``ValueError`` (without key material in the message) for anything but RSA ≥ 2048."""
    try:
        key = serialization.load_pem_private_key(pem.reveal(), password=None)
    except (ValueError, TypeError):
        raise ValueError("not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < _KEY_BITS:
        raise ValueError(f"expected an RSA private key of at least {_KEY_BITS} bits")
    return key
