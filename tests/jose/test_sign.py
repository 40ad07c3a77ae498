from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import portcullis.jose
from portcullis.jose import (
    KeySet,
    jwk_thumbprint,
    parse,
    public_jwk,
    sign_jws,
    verify,
    x5t_s256,
)


def _segment(token: str, index: int) -> bytes:
    part = token.split(".")[index]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_public_api_is_pinned() -> None:
    assert set(portcullis.jose.__all__) == {
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
    }
    for name in portcullis.jose.__all__:
        assert hasattr(portcullis.jose, name)


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
def test_round_trip_rsa(alg: str, rsa_key: rsa.RSAPrivateKey) -> None:
    token = sign_jws({"sub": "a", "n": 1}, rsa_key, alg=alg, kid="k1")
    keys = KeySet.from_jwks({"keys": [public_jwk(rsa_key, kid="k1", alg=None)]})
    assert verify(parse(token), keys, algorithms=frozenset({alg})) == {"sub": "a", "n": 1}
    assert len(_segment(token, 2)) == 256


@pytest.mark.parametrize(
    ("alg", "curve", "size"),
    [("ES256", ec.SECP256R1(), 64), ("ES384", ec.SECP384R1(), 96), ("ES512", ec.SECP521R1(), 132)],
)
def test_round_trip_ec(alg: str, curve: ec.EllipticCurve, size: int) -> None:
    key = ec.generate_private_key(curve)
    token = sign_jws({"sub": "a"}, key, alg=alg, kid="e1")
    keys = KeySet.from_jwks({"keys": [public_jwk(key, kid="e1", alg=alg)]})
    assert verify(parse(token), keys, algorithms=frozenset({alg})) == {"sub": "a"}
    # RFC 7518 §3.4: raw r || s, not DER.
    assert len(_segment(token, 2)) == size


def test_es256_signature_is_64_raw_bytes(ec_key: ec.EllipticCurvePrivateKey) -> None:
    for _ in range(20):  # DER length varies with leading zeros; raw never does
        assert len(_segment(sign_jws({"i": 1}, ec_key, alg="ES256"), 2)) == 64


def test_header_members(ec_key: ec.EllipticCurvePrivateKey) -> None:
    token = sign_jws({"a": 1}, ec_key, alg="ES256", kid="k", extra_header={"x5t#S256": "abc"})
    assert json.loads(_segment(token, 0)) == {
        "alg": "ES256",
        "kid": "k",
        "typ": "JWT",
        "x5t#S256": "abc",
    }
    bare = sign_jws({"a": 1}, ec_key, alg="ES256", typ=None)
    assert json.loads(_segment(bare, 0)) == {"alg": "ES256"}


def test_rs256_is_deterministic(rsa_key: rsa.RSAPrivateKey) -> None:
    assert sign_jws({"a": 1}, rsa_key, alg="RS256") == sign_jws({"a": 1}, rsa_key, alg="RS256")


@pytest.mark.parametrize("reserved", ["alg", "kid", "typ", "crit"])
def test_extra_header_cannot_override(reserved: str, ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError, match=reserved):
        sign_jws({}, ec_key, alg="ES256", extra_header={reserved: "none"})


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "PS256", "ES384", "es256", ""])
def test_sign_refuses_unsupported_or_mismatched_alg(
    alg: str, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(ValueError):
        sign_jws({}, ec_key, alg=alg)


def test_sign_refuses_ec_alg_with_rsa_key(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError):
        sign_jws({}, rsa_key, alg="ES256")


def test_sign_refuses_short_rsa_key() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError):
        sign_jws({}, weak, alg="RS256")


def test_public_jwk_rsa(rsa_key: rsa.RSAPrivateKey) -> None:
    jwk = public_jwk(rsa_key, kid="r", alg="RS256")
    assert jwk == {
        "kty": "RSA",
        "n": jwk["n"],
        "e": "AQAB",
        "alg": "RS256",
        "use": "sig",
        "kid": "r",
    }
    assert "=" not in jwk["n"]
    n = int.from_bytes(base64.urlsafe_b64decode(jwk["n"] + "=" * (-len(jwk["n"]) % 4)), "big")
    assert n == rsa_key.public_key().public_numbers().n
    assert public_jwk(rsa_key.public_key(), kid="r", alg="RS256") == jwk


def test_public_jwk_ec(ec_key: ec.EllipticCurvePrivateKey) -> None:
    jwk = public_jwk(ec_key, kid=None, use="sig", alg=None)
    assert set(jwk) == {"kty", "crv", "x", "y", "use"}
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    # Coordinates are always 32 bytes (43 base64url chars), never shortened.
    assert len(jwk["x"]) == len(jwk["y"]) == 43
    assert "d" not in jwk


def test_public_jwk_alg_must_fit(ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError):
        public_jwk(ec_key, kid=None, alg="RS256")
    with pytest.raises(ValueError):
        public_jwk(ec_key, kid=None, alg="HS256")


# RFC 7638 §3.1
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
        "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
        "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_jwk_thumbprint_rfc7638_vector() -> None:
    assert jwk_thumbprint(RFC7638_JWK) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    # Members outside the required set, and member order, do not matter.
    reordered = dict(reversed(list(RFC7638_JWK.items())), use="sig")
    assert jwk_thumbprint(reordered) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_jwk_thumbprint_ec_uses_crv_kty_x_y(ec_key: ec.EllipticCurvePrivateKey) -> None:
    jwk = public_jwk(ec_key, kid="ignored", alg="ES256")
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}, separators=(",", ":")
    ).encode()
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    assert jwk_thumbprint(jwk) == expected


@pytest.mark.parametrize(
    "jwk", [{}, {"kty": "RSA", "n": "x"}, {"kty": "EC", "crv": "P-256", "x": "a"}, {"kty": 1}]
)
def test_jwk_thumbprint_needs_required_members(jwk: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        jwk_thumbprint(jwk)


def test_x5t_s256() -> None:
    digest = hashlib.sha256(b"certificate").digest()
    assert x5t_s256(b"certificate") == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert len(x5t_s256(b"")) == 43
