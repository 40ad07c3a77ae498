from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portcullis.jose import KeySet, public_jwk
from portcullis.jose._algorithms import ALGORITHMS
from tests.jose.forge import b64


@pytest.fixture(scope="module")
def weak_rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def test_usable_keys_are_kept_and_others_skipped(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey, weak_rsa: rsa.RSAPrivateKey
) -> None:
    good_rsa = public_jwk(rsa_key, kid="rsa", alg=None)
    good_ec = public_jwk(ec_key, kid="ec", alg="ES256")
    off_curve = dict(
        good_ec, kid="off", y=b64((int.from_bytes(b"\x01" * 32, "big")).to_bytes(32, "big"))
    )
    short_x = dict(good_ec, kid="short", x=good_ec["x"][:-2])
    jwks: dict[str, Any] = {
        "keys": [
            good_rsa,
            good_ec,
            {"kty": "oct", "k": b64(b"secret" * 6), "kid": "hmac", "alg": "HS256"},
            {"kty": "OKP", "crv": "Ed25519", "x": b64(b"\x00" * 32), "kid": "okp"},
            dict(good_rsa, kid="enc", use="enc"),
            dict(good_rsa, kid="ops", key_ops=["encrypt"]),
            dict(good_rsa, kid="mismatch", alg="ES256"),
            dict(good_rsa, kid="hs", alg="HS256"),
            public_jwk(weak_rsa, kid="weak", alg=None),
            dict(good_rsa, kid="even-e", e=b64(b"\x02")),
            dict(good_rsa, kid="bad-b64", n="not base64!"),
            dict(good_rsa, kid="padded", n=good_rsa["n"] + "=="),
            off_curve,
            short_x,
            dict(good_ec, kid="p-999", crv="P-999"),
            {"kid": "no-kty"},
            dict(good_rsa, kid=42),
            "not an object",
            None,
        ]
    }
    keys = KeySet.from_jwks(jwks)
    assert keys.kids == {"rsa", "ec"}
    assert len(keys) == 2
    assert [k.kty for k in keys] == ["RSA", "EC"]


@pytest.mark.parametrize("jwks", [{}, {"keys": {}}, {"keys": "x"}, [], {"keys": [{}] * 101}])
def test_not_a_jwks(jwks: Any) -> None:
    with pytest.raises(ValueError):
        KeySet.from_jwks(jwks)


def test_empty_jwks_is_an_empty_set() -> None:
    assert len(KeySet.from_jwks({"keys": []})) == 0


@pytest.mark.parametrize("kid", ["../../etc/passwd", "a' OR 1=1 --", "", " rsa", "RSA", "é"])
def test_kid_is_opaque(kid: str, rsa_key: rsa.RSAPrivateKey) -> None:
    keys = KeySet.from_jwks({"keys": [public_jwk(rsa_key, kid=kid, alg=None)]})
    assert len(keys.by_kid(kid)) == 1
    for other in ("rsa", kid.upper() + "x", kid.strip() + "0"):
        if other != kid:
            assert keys.by_kid(other) == ()


def test_alg_pins_the_key(rsa_key: rsa.RSAPrivateKey) -> None:
    keys = KeySet.from_jwks({"keys": [public_jwk(rsa_key, kid="r", alg="PS256")]})
    (key,) = keys.by_kid("r")
    assert key.fits(ALGORITHMS["PS256"])
    assert not key.fits(ALGORITHMS["RS256"])
    assert not key.fits(ALGORITHMS["ES256"])


def test_key_type_decides_which_algorithms_fit(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    keys = KeySet.from_jwks(
        {"keys": [public_jwk(rsa_key, kid="r", alg=None), public_jwk(ec_key, kid="e", alg=None)]}
    )
    assert [k.kid for k in keys.for_algorithm(ALGORITHMS["RS256"])] == ["r"]
    assert [k.kid for k in keys.for_algorithm(ALGORITHMS["PS256"])] == ["r"]
    assert [k.kid for k in keys.for_algorithm(ALGORITHMS["ES256"])] == ["e"]
    assert keys.for_algorithm(ALGORITHMS["ES384"]) == ()


def test_entra_style_jwks(rsa_key: rsa.RSAPrivateKey) -> None:
    jwk = public_jwk(rsa_key, kid="abc", alg=None)
    jwk.update(
        x5t="abc",
        x5c=["MIIC..."],
        issuer="https://login.microsoftonline.com/{tenantid}/v2.0",
    )
    (key,) = KeySet.from_jwks({"keys": [jwk]})
    assert key.issuer == "https://login.microsoftonline.com/{tenantid}/v2.0"


def test_duplicate_kids_are_all_kept(
    rsa_key: rsa.RSAPrivateKey, rsa_key2: rsa.RSAPrivateKey
) -> None:
    keys = KeySet.from_jwks(
        {
            "keys": [
                public_jwk(rsa_key, kid="same", alg=None),
                public_jwk(rsa_key2, kid="same", alg=None),
            ]
        }
    )
    assert len(keys.by_kid("same")) == 2


def test_from_public_keys(ec_key: ec.EllipticCurvePrivateKey) -> None:
    keys = KeySet.from_public_keys({"k": ec_key.public_key()})
    assert keys.kids == {"k"}


def test_repr_has_no_key_material(rsa_key: rsa.RSAPrivateKey) -> None:
    jwk = public_jwk(rsa_key, kid="r", alg=None)
    text = repr(KeySet.from_jwks({"keys": [jwk]}))
    assert "r" in text and jwk["n"][:20] not in text
