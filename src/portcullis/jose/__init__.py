"""JOSE for Portcullis: sign and verify compact JWS / JWTs with ``cryptography``.

Pure code — no network, disk or clock. The caller supplies keys and ``now``.
Verification is two explicit steps::

    jws = parse(token)                                   # size caps, strict syntax
    claims = verify(jws, keys, algorithms={"RS256"})     # signature only
    validate_claims(claims, now=now, issuer=..., audiences=..., require_iat=True)

Modules: ``sign`` (signing, JWKs, thumbprints), ``keys`` (JWKS → ``KeySet``),
``jws`` (parse + signature check), ``claims`` (registered-claim rules),
``errors`` (``TokenError`` with a closed set of codes).
"""

from __future__ import annotations

from portcullis.jose.claims import (
    ENTRA_V1_TEMPLATE,
    ENTRA_V2_TEMPLATE,
    GRAPH_AUDIENCES,
    MAX_LEEWAY,
    IssuerRule,
    is_graph_token,
    validate_claims,
)
from portcullis.jose.errors import ERROR_CODES, ErrorCode, TokenError, UnknownKeyId
from portcullis.jose.jws import MAX_HEADER_BYTES, MAX_TOKEN_BYTES, UnverifiedJws, parse, verify
from portcullis.jose.keys import Key, KeySet
from portcullis.jose.sign import (
    PrivateKey,
    PublicKey,
    jwk_thumbprint,
    public_jwk,
    sign_jws,
    x5t_s256,
)

__all__ = [
    "ENTRA_V1_TEMPLATE",
    "ENTRA_V2_TEMPLATE",
    "ERROR_CODES",
    "GRAPH_AUDIENCES",
    "MAX_HEADER_BYTES",
    "MAX_LEEWAY",
    "MAX_TOKEN_BYTES",
    "ErrorCode",
    "IssuerRule",
    "Key",
    "KeySet",
    "PrivateKey",
    "PublicKey",
    "TokenError",
    "UnknownKeyId",
    "UnverifiedJws",
    "is_graph_token",
    "jwk_thumbprint",
    "parse",
    "public_jwk",
    "sign_jws",
    "validate_claims",
    "verify",
    "x5t_s256",
]
