"""Compact JWS (RFC 7515): strict parsing, then signature verification.

Two steps, both pure::

    jws = parse(token)                        # syntax and size only, no trust
    claims = verify(jws, keys, algorithms=frozenset({"RS256"}))

``verify`` checks the signature and nothing else; the claims are checked by
:func:`portcullis.jose.claims.validate_claims`.

What ``verify`` refuses (RFC 8725):

* ``none``, every ``HS*``, and any algorithm not in the caller's allowlist;
* a key whose type does not fit the algorithm (RSA for RS*/PS*, the alg's EC
  curve for ES*) — a public key is never an HMAC secret;
* a ``kid`` not in the key set (:class:`UnknownKeyId`: refresh once, retry);
  no ``kid`` while several keys could verify; duplicate kids;
* any ``crit`` header (no extension is understood, RFC 7515 §4.1.11).

``jku``, ``x5u``, ``jwk`` and ``x5c`` are ignored: keys come only from the
caller's :class:`KeySet`, and nothing a token names is ever fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portcullis.jose._algorithms import ALGORITHMS, Algorithm
from portcullis.jose._codec import b64url_decode, json_object
from portcullis.jose.errors import TokenError, UnknownKeyId
from portcullis.jose.keys import Key, KeySet

__all__ = ["MAX_HEADER_BYTES", "MAX_TOKEN_BYTES", "UnverifiedJws", "parse", "verify"]

MAX_TOKEN_BYTES = 16384
MAX_HEADER_BYTES = 4096  # encoded; an Entra header is ~130 bytes, one x5c certificate ~2 KB


@dataclass(frozen=True, slots=True, repr=False)
class UnverifiedJws:
    """A syntactically valid compact JWS whose signature has not been checked."""

    header: dict[str, Any]
    signing_input: bytes  # ASCII ``header.payload`` as received
    payload: bytes  # decoded, not yet parsed
    signature: bytes

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None

    def unverified_claims(self) -> dict[str, Any]:
        """The payload, UNVERIFIED. Only for choosing which issuer's keys to use.

        Anything read here must be checked again on the output of :func:`verify`.
        """
        return json_object(self.payload, part="payload")

    def __repr__(self) -> str:
        return f"UnverifiedJws(alg={self.alg!r}, kid={self.kid!r})"


def parse(
    token: str, *, max_bytes: int = MAX_TOKEN_BYTES, max_header_bytes: int = MAX_HEADER_BYTES
) -> UnverifiedJws:
    """Parse a compact JWS. The size caps are checked before anything is decoded."""
    if not isinstance(token, str):
        raise TokenError("malformed", message="token is not a string")
    if len(token) > max_bytes:
        raise TokenError("too_large")
    if not token.isascii():
        raise TokenError("malformed", message="token is not ASCII")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed", message="not a compact JWS (three parts)")
    header_b64, payload_b64, signature_b64 = parts
    if len(header_b64) > max_header_bytes:
        raise TokenError("too_large", claim="header")
    if not header_b64 or not payload_b64:
        raise TokenError("malformed", message="empty header or payload")
    header = json_object(b64url_decode(header_b64, part="header"), part="header")
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise TokenError("malformed", claim="alg", message="header needs an alg string")
    if "kid" in header and not isinstance(header["kid"], str):
        raise TokenError("malformed", claim="kid", message="kid must be a string")
    payload = b64url_decode(payload_b64, part="payload")
    signature = b64url_decode(signature_b64, part="signature")
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    return UnverifiedJws(header, signing_input, payload, signature)


def _check_allowlist(algorithms: frozenset[str]) -> None:
    if not algorithms:
        raise ValueError("the algorithm allowlist is empty")
    unsupported = sorted(a for a in algorithms if a not in ALGORITHMS)
    if unsupported:
        raise ValueError(f"unsupported algorithms in allowlist: {unsupported}")


def _select_key(jws: UnverifiedJws, keys: KeySet, algorithm: Algorithm) -> Key:
    kid = jws.kid
    if kid is not None:
        named = keys.by_kid(kid)
        if not named:
            raise UnknownKeyId()
        fitting = [k for k in named if k.fits(algorithm)]
        if not fitting:
            raise TokenError("key_mismatch", claim="kid")
        if len(fitting) > 1:
            raise TokenError("ambiguous_key", claim="kid", message="duplicate kid in key set")
        return fitting[0]
    candidates = keys.for_algorithm(algorithm)
    if not candidates:
        raise UnknownKeyId(message="no kid and no key fits the algorithm")
    if len(candidates) > 1:
        raise TokenError("ambiguous_key", claim="kid", message="no kid and several keys")
    return candidates[0]


def _signature_ok(jws: UnverifiedJws, key: Key, algorithm: Algorithm) -> bool:
    public = key.public_key
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(
                jws.signature, jws.signing_input, algorithm.rsa_padding(), algorithm.hash()
            )
        else:
            der = algorithm.raw_to_der(jws.signature)
            if der is None:
                return False
            public.verify(der, jws.signing_input, ec.ECDSA(algorithm.hash()))
    except (InvalidSignature, ValueError):
        return False
    return True


def verify(jws: UnverifiedJws, keys: KeySet, *, algorithms: frozenset[str]) -> dict[str, Any]:
    """Check the signature of ``jws`` with a key from ``keys``; return the payload claims.

    ``algorithms`` is the issuer's allowlist (Entra: ``{"RS256"}``); listing an
    algorithm Portcullis does not implement (``none``, ``HS256``) is a
    ``ValueError``. The claims are NOT validated here.
    """
    _check_allowlist(algorithms)
    alg = jws.alg
    if alg not in algorithms:
        raise TokenError("alg_not_allowed", claim="alg")
    algorithm = ALGORITHMS[alg]
    if "crit" in jws.header:
        raise TokenError("crit_unsupported", claim="crit")
    key = _select_key(jws, keys, algorithm)
    if not _signature_ok(jws, key, algorithm):
        raise TokenError("bad_signature")
    return json_object(jws.payload, part="payload")
