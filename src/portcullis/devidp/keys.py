"""The IdP's signing keys: generated at start (RSA 2048) or loaded from PEM; published as a JWKS.

The first key signs; every key is published, so :meth:`SigningKeys.rotate`
(a new key in front, the old ones kept) lets tests exercise key rollover the
way Entra does it — without notice.

Like Entra's, each key comes with a self-signed X.509 certificate: the JWKS
carries it as ``x5c`` and its SHA-1 thumbprint as ``x5t``, and v1 access
tokens name the key by both ``kid`` and ``x5t``. The certificate is built
deterministically (fixed names, serial and validity; PKCS#1 v1.5 signatures
are deterministic), so a configured key keeps its ``x5t`` across restarts.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from portcullis.jose import jwk_thumbprint, public_jwk, sign_jws
from portcullis.secret import Secret

__all__ = ["ALG", "SigningKeys"]

ALG = "RS256"
_KEY_BITS = 2048
_MAX_KEYS = 3
_CERT_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portcullis-dev-idp")])
_NOT_BEFORE = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(2049, 12, 31, tzinfo=datetime.UTC)


@dataclass(frozen=True, slots=True)
class _Entry:
    kid: str
    key: rsa.RSAPrivateKey
    cert_der: bytes

    @property
    def x5t(self) -> str:
        """base64url SHA-1 of the DER certificate (RFC 7515 §4.1.7)."""
        return _b64url(hashlib.sha1(self.cert_der, usedforsecurity=False).digest())


class SigningKeys:
    """RSA keys with RFC 7638 thumbprints as ``kid``; the first one signs."""

    def __init__(self, pem: Secret[bytes] | None = None) -> None:
        self._lock = threading.Lock()
        self._keys: list[_Entry] = []
        self._add(_load(pem) if pem is not None else _generate())

    def _add(self, key: rsa.RSAPrivateKey) -> None:
        kid = jwk_thumbprint(public_jwk(key, kid=None, alg=ALG))
        entry = _Entry(kid, key, _self_signed(key, kid))
        with self._lock:
            self._keys = [entry, *self._keys][:_MAX_KEYS]

    def rotate(self) -> str:
        """Generate a new signing key, keep publishing the previous ones; return the new kid."""
        self._add(_generate())
        return self.kids[0]

    @property
    def kids(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(entry.kid for entry in self._keys)

    def sign(self, claims: Mapping[str, Any], *, x5t: bool = False, nonce: bool = False) -> str:
        """A JWT with ``typ``/``kid``; ``x5t`` adds the v1 thumbprint, ``nonce`` Graph's nonce."""
        with self._lock:
            entry = self._keys[0]
        extra: dict[str, str] = {}
        if x5t:
            extra["x5t"] = entry.x5t
        if nonce:
            extra["nonce"] = _b64url(secrets.token_bytes(32))
        return sign_jws(claims, entry.key, alg=ALG, kid=entry.kid, typ="JWT", extra_header=extra)

    def jwks(self, issuer: str) -> dict[str, Any]:
        """The JWKS document, each key with ``x5t``/``x5c`` and Entra's ``issuer`` property."""
        with self._lock:
            keys = list(self._keys)
        return {
            "keys": [
                {
                    **public_jwk(entry.key, kid=entry.kid, use="sig", alg=ALG),
                    "x5t": entry.x5t,
                    "x5c": [base64.b64encode(entry.cert_der).decode("ascii")],
                    "issuer": issuer,
                }
                for entry in keys
            ]
        }

    def __repr__(self) -> str:
        return f"SigningKeys(kids={list(self.kids)!r})"


def _self_signed(key: rsa.RSAPrivateKey, kid: str) -> bytes:
    """A self-signed certificate for ``key``, the same bytes every time for the same key."""
    serial = int.from_bytes(hashlib.sha256(kid.encode()).digest()[:16], "big") >> 1
    cert = (
        x509.CertificateBuilder()
        .subject_name(_CERT_NAME)
        .issuer_name(_CERT_NAME)
        .public_key(key.public_key())
        .serial_number(serial or 1)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


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
