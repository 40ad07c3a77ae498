"""Signing compact JWS / JWTs, and publishing the public half as a JWK.

Used by Portcullis itself (identity assertions, ``private_key_jwt`` client
assertions) and by the development IdP. Verification lives in
:mod:`portcullis.jose.jws`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portcullis.jose._algorithms import ALGORITHMS
from portcullis.jose._codec import b64url_encode, json_dumps

__all__ = ["PrivateKey", "PublicKey", "jwk_thumbprint", "public_jwk", "sign_jws", "x5t_s256"]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# RFC 7638 §3.2: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS: dict[str, tuple[str, ...]] = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "oct": ("k", "kty"),
}
_CRV_NAMES: dict[str, tuple[str, int]] = {
    "secp256r1": ("P-256", 32),
    "secp384r1": ("P-384", 48),
    "secp521r1": ("P-521", 66),
}


def sign_jws(
    payload: Mapping[str, Any],
    key: PrivateKey,
    *,
    alg: str,
    kid: str | None = None,
    typ: str | None = "JWT",
    extra_header: Mapping[str, Any] | None = None,
) -> str:
    """Sign ``payload`` as a compact JWS (``header.payload.signature``).

    ``alg`` is one of RS256/384/512, PS256/384/512, ES256/384/512 and must fit
    ``key`` (an RSA key of at least 2048 bits, or an EC key on the alg's curve).
    ECDSA signatures are the raw ``r || s`` form of RFC 7518 §3.4 (64 bytes for
    ES256), not DER. ``extra_header`` adds members such as ``x5t#S256``; it may
    not set ``alg``, ``kid``, ``typ`` or ``crit``.
    """
    algorithm = ALGORITHMS.get(alg)
    if algorithm is None:
        raise ValueError(f"unsupported JWS algorithm {alg!r}")
    if not algorithm.fits(key.public_key()):
        raise ValueError(f"key does not fit algorithm {alg}")
    header: dict[str, Any] = {"alg": alg}
    if kid is not None:
        header["kid"] = kid
    if typ is not None:
        header["typ"] = typ
    if extra_header:
        reserved = {"alg", "kid", "typ", "crit"} & set(extra_header)
        if reserved:
            raise ValueError(f"extra_header may not set {sorted(reserved)}")
        header.update(extra_header)
    signing_input = (
        b64url_encode(json_dumps(header)) + "." + b64url_encode(json_dumps(payload))
    ).encode("ascii")
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input, algorithm.rsa_padding(), algorithm.hash())
    else:
        der = key.sign(signing_input, ec.ECDSA(algorithm.hash()))
        signature = algorithm.der_to_raw(der)
    return signing_input.decode("ascii") + "." + b64url_encode(signature)


def _int_b64(value: int, size: int | None = None) -> str:
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url_encode(value.to_bytes(length, "big"))


def public_jwk(
    key: PrivateKey | PublicKey,
    *,
    kid: str | None,
    use: str = "sig",
    alg: str | None,
) -> dict[str, Any]:
    """The public JWK (RFC 7517) of an RSA or EC key; never includes private members."""
    public = (
        key.public_key() if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) else key
    )
    jwk: dict[str, Any]
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        jwk = {"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}
    elif isinstance(public, ec.EllipticCurvePublicKey):
        if public.curve.name not in _CRV_NAMES:
            raise ValueError(f"unsupported EC curve {public.curve.name}")
        crv, size = _CRV_NAMES[public.curve.name]
        point = public.public_numbers()
        jwk = {"kty": "EC", "crv": crv, "x": _int_b64(point.x, size), "y": _int_b64(point.y, size)}
    else:
        raise TypeError(f"unsupported key type {type(public).__name__}")
    if alg is not None:
        algorithm = ALGORITHMS.get(alg)
        if algorithm is None or not algorithm.fits(public):
            raise ValueError(f"key does not fit algorithm {alg!r}")
        jwk["alg"] = alg
    if use:
        jwk["use"] = use
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of a public JWK."""
    kty = jwk.get("kty")
    members = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise ValueError("unsupported or missing kty")
    missing = [m for m in members if not isinstance(jwk.get(m), str)]
    if missing:
        raise ValueError(f"JWK lacks required members {missing}")
    canonical = json_dumps({m: jwk[m] for m in members})
    return b64url_encode(hashlib.sha256(canonical).digest())


def x5t_s256(cert_der: bytes) -> str:
    """``x5t#S256``: base64url SHA-256 of a DER certificate (RFC 7515 §4.1.8)."""
    return b64url_encode(hashlib.sha256(cert_der).digest())
