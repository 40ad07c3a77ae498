from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from portcullis.assertion import (
    HEADER,
    REFRESH_MARGIN,
    AssertionSigner,
    generate_key,
    load_private_key,
)
from portcullis.identity import Identity, Kind
from portcullis.jose import (
    IssuerRule,
    KeySet,
    TokenError,
    jwk_thumbprint,
    parse,
    validate_claims,
    verify,
)

ISSUER = "https://proxy.example"
AUD = "https://app.internal:8443"
NOW = 1_700_000_000.0
TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OID = "00000000-0000-0000-0000-0000000000a1"

ALICE = Identity(
    issuer=f"https://login.microsoftonline.com/{TID}/v2.0",
    subject="pairwise-sub",
    tenant_id=TID,
    object_id=OID,
    name="Alice",
    email="alice@example.com",
    username="alice@example.com",
    roles=("Reader",),
    groups=("g1", "g2"),
    client_id="c1",
)
BOB = Identity(issuer="https://idp.example", subject="bob")


@pytest.fixture(scope="module")
def key1() -> ec.EllipticCurvePrivateKey:
    return generate_key()


@pytest.fixture(scope="module")
def key2() -> ec.EllipticCurvePrivateKey:
    return generate_key()


def read(token: str, signer: AssertionSigner, *, now: float = NOW) -> dict[str, Any]:
    """What an upstream does: verify with the published JWKS, then check the claims."""
    claims = verify(parse(token), KeySet.from_jwks(signer.jwks()), algorithms=frozenset({"ES256"}))
    validate_claims(
        claims,
        now=now,
        issuer=IssuerRule.exact(ISSUER),
        audiences=frozenset({AUD}),
        require_iat=True,
        leeway=0,
    )
    return claims


def header_of(token: str) -> dict[str, Any]:
    part = token.split(".", maxsplit=1)[0]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return result


def test_header_name() -> None:
    assert HEADER == "X-Portcullis-Assertion"


def test_claims(key1: ec.EllipticCurvePrivateKey) -> None:
    signer = AssertionSigner([key1], issuer=ISSUER)
    claims = read(signer.sign(ALICE, audience=AUD, now=NOW), signer)
    jti = claims.pop("jti")
    assert isinstance(jti, str) and len(jti) >= 20
    assert claims == {
        "iss": ISSUER,
        "aud": AUD,
        "sub": f"{TID}/{OID}",
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "kind": "user",
        "tid": TID,
        "oid": OID,
        "name": "Alice",
        "email": "alice@example.com",
        "preferred_username": "alice@example.com",
        "roles": ["Reader"],
        "groups": ["g1", "g2"],
        "azp": "c1",
    }


def test_minimal_identity_and_overage(key1: ec.EllipticCurvePrivateKey) -> None:
    signer = AssertionSigner([key1], issuer=ISSUER)
    claims = read(signer.sign(BOB, audience=AUD, now=NOW), signer)
    assert claims["sub"] == "https://idp.example#bob"
    assert "groups_unknown" not in claims
    assert not {"tid", "oid", "name", "email", "preferred_username", "azp"} & set(claims)
    app = Identity(issuer="i", subject="s", kind=Kind.APP, groups_unknown=True)
    claims = read(signer.sign(app, audience=AUD, now=NOW), signer)
    assert claims["groups_unknown"] is True
    assert claims["kind"] == "app"


def test_header_kid_is_thumbprint(key1: ec.EllipticCurvePrivateKey) -> None:
    signer = AssertionSigner([key1], issuer=ISSUER)
    header = header_of(signer.sign(ALICE, audience=AUD, now=NOW))
    (jwk,) = signer.jwks()["keys"]
    assert header["alg"] == "ES256"
    assert header["kid"] == signer.kid == jwk["kid"] == jwk_thumbprint(jwk)
    assert jwk["alg"] == "ES256" and jwk["use"] == "sig" and "d" not in jwk


def test_wrong_audience_is_rejected_upstream(key1: ec.EllipticCurvePrivateKey) -> None:
    signer = AssertionSigner([key1], issuer=ISSUER)
    token = signer.sign(ALICE, audience="https://other.internal", now=NOW)
    with pytest.raises(TokenError) as caught:
        read(token, signer)
    assert caught.value.code == "bad_audience"


def test_cache_hit_returns_the_same_token(key1: ec.EllipticCurvePrivateKey) -> None:
    signer = AssertionSigner([key1], issuer=ISSUER, lifetime=300)
    first = signer.sign(ALICE, audience=AUD, now=NOW)
    assert signer.sign(ALICE, audience=AUD, now=NOW + 1) is first
    last_reuse = NOW + 300 - REFRESH_MARGIN - 1
    assert signer.sign(ALICE, audience=AUD, now=last_reuse) is first
    # Still valid for a full minute for whoever receives it.
    read(first, signer, now=last_reuse + REFRESH_MARGIN - 1)
    assert signer.sign(ALICE, audience="https://b.internal", now=NOW) != first
    assert signer.sign(BOB, audience=AUD, now=NOW) != first


def test_new_token_near_expiry(key1: ec.EllipticCurvePrivateKey) -> None:
    signer = AssertionSigner([key1], issuer=ISSUER, lifetime=300)
    first = signer.sign(ALICE, audience=AUD, now=NOW)
    later = NOW + 300 - REFRESH_MARGIN
    second = signer.sign(ALICE, audience=AUD, now=later)
    assert second != first
    assert read(second, signer, now=later)["exp"] == int(later) + 300
    assert signer.sign(ALICE, audience=AUD, now=later + 1) is second


def test_changed_identity_is_not_served_from_cache(key1: ec.EllipticCurvePrivateKey) -> None:
    signer = AssertionSigner([key1], issuer=ISSUER)
    first = signer.sign(ALICE, audience=AUD, now=NOW)
    demoted = Identity(**{**ALICE.to_dict(), "roles": (), "kind": Kind.USER})
    assert demoted.key == ALICE.key
    token = signer.sign(demoted, audience=AUD, now=NOW + 1)
    assert token != first
    assert read(token, signer, now=NOW + 1)["roles"] == []


def test_cache_is_bounded_lru(key1: ec.EllipticCurvePrivateKey) -> None:
    signer = AssertionSigner([key1], issuer=ISSUER, cache_size=2)
    users = [Identity(issuer="i", subject=str(n)) for n in range(3)]
    tokens = [signer.sign(u, audience=AUD, now=NOW) for u in users[:2]]
    assert signer.sign(users[0], audience=AUD, now=NOW) is tokens[0]  # 0 is now most recent
    signer.sign(users[2], audience=AUD, now=NOW)  # evicts 1
    assert signer.sign(users[0], audience=AUD, now=NOW) is tokens[0]
    assert signer.sign(users[1], audience=AUD, now=NOW) != tokens[1]


def test_jti_differs_between_assertions(key1: ec.EllipticCurvePrivateKey) -> None:
    signer = AssertionSigner([key1], issuer=ISSUER)
    a = read(signer.sign(ALICE, audience=AUD, now=NOW), signer)
    b = read(signer.sign(BOB, audience=AUD, now=NOW), signer)
    assert a["jti"] != b["jti"]


def test_rotation(key1: ec.EllipticCurvePrivateKey, key2: ec.EllipticCurvePrivateKey) -> None:
    old = AssertionSigner([key1], issuer=ISSUER)
    in_flight = old.sign(ALICE, audience=AUD, now=NOW)
    rotated = AssertionSigner([key2, key1], issuer=ISSUER)
    assert [k["kid"] for k in rotated.jwks()["keys"]] == [rotated.kid, old.kid]
    # The old key's assertion still verifies with the rotated signer's JWKS...
    assert read(in_flight, rotated)["sub"] == ALICE.key
    # ...and new assertions are signed by the new key.
    fresh = rotated.sign(ALICE, audience=AUD, now=NOW)
    assert header_of(fresh)["kid"] == rotated.kid != old.kid
    read(fresh, rotated)
    # Once the old key is removed, its assertions stop verifying.
    retired = AssertionSigner([key2], issuer=ISSUER)
    with pytest.raises(TokenError) as caught:
        read(in_flight, retired)
    assert caught.value.code == "unknown_kid"


def test_load_private_key_round_trip(key1: ec.EllipticCurvePrivateKey) -> None:
    pem = key1.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    loaded = load_private_key(pem)
    assert loaded.private_numbers() == key1.private_numbers()


def test_load_private_key_needs_p256() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    pem = p384.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError):
        load_private_key(pem)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"keys": []},
        {"keys": None, "lifetime": 60},
        {"keys": None, "lifetime": 7200},
        {"keys": None, "issuer": ""},
        {"keys": None, "cache_size": 0},
        {"keys": "p384"},
    ],
)
def test_bad_configuration(kwargs: dict[str, Any], key1: ec.EllipticCurvePrivateKey) -> None:
    keys = kwargs.pop("keys")
    if keys is None:
        keys = [key1]
    elif keys == "p384":
        keys = [ec.generate_private_key(ec.SECP384R1())]
    options: dict[str, Any] = {"issuer": ISSUER, **kwargs}
    with pytest.raises(ValueError):
        AssertionSigner(keys, **options)


def test_repr_has_no_key_material(key1: ec.EllipticCurvePrivateKey) -> None:
    signer = AssertionSigner([key1], issuer=ISSUER)
    text = repr(signer)
    assert signer.kid in text
    assert str(key1.private_numbers().private_value) not in text
    assert "PRIVATE" not in text
