"""``private_key_jwt``: client assertions signed with the client's registered keys."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from portcullis.devidp import DevIdp
from portcullis.jose import PrivateKey, sign_jws
from tests.devidp.conftest import CERT_CLIENT_ID
from tests.devidp.helpers import REDIRECT_URI, Login, authorize, fetch, jwks_of, verify_rs256

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def assertion(idp: DevIdp, key: PrivateKey, kid: str | None, **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": CERT_CLIENT_ID,
        "sub": CERT_CLIENT_ID,
        "aud": idp.endpoint("token"),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": secrets.token_hex(16),
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
    return sign_jws(payload, key, alg=alg, kid=kid)


def exchange(idp: DevIdp, login: Login, client_assertion: str, **extra: str) -> Any:
    data = {
        "grant_type": "authorization_code",
        "code": login.code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": login.verifier,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion,
        **extra,
    }
    return fetch(idp.endpoint("token"), data=data)


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
def test_assertion_accepted(idp: DevIdp, client_keys: dict[str, PrivateKey], kid: str) -> None:
    login = authorize(idp, client_id=CERT_CLIENT_ID)
    reply = exchange(idp, login, assertion(idp, client_keys[kid], kid))
    assert reply.status == 200, reply.body
    _, claims = verify_rs256(reply.json()["id_token"], jwks_of(idp))
    assert claims["aud"] == CERT_CLIENT_ID
    _, access = verify_rs256(reply.json()["access_token"], jwks_of(idp))
    assert access["azpacr"] == "2"


def test_replayed_jti_is_rejected(idp: DevIdp, client_keys: dict[str, PrivateKey]) -> None:
    signed = assertion(idp, client_keys["rsa-1"], "rsa-1")
    first = authorize(idp, client_id=CERT_CLIENT_ID)
    assert exchange(idp, first, signed).status == 200
    second = authorize(idp, client_id=CERT_CLIENT_ID)
    replay = exchange(idp, second, signed)
    assert replay.status == 401
    assert replay.json()["error"] == "invalid_client"


def test_same_jti_in_a_new_assertion_is_rejected(
    idp: DevIdp, client_keys: dict[str, PrivateKey]
) -> None:
    jti = secrets.token_hex(8)
    first = authorize(idp, client_id=CERT_CLIENT_ID)
    assert exchange(idp, first, assertion(idp, client_keys["ec-1"], "ec-1", jti=jti)).status == 200
    second = authorize(idp, client_id=CERT_CLIENT_ID)
    again = assertion(idp, client_keys["ec-1"], "ec-1", jti=jti, iat=int(time.time()) + 1)
    assert exchange(idp, second, again).status == 401


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "http://127.0.0.1:1/elsewhere/oauth2/v2.0/token"},
        {"aud": None},
        {"sub": "someone-else"},
        {"exp": int(time.time()) + 3600, "iat": int(time.time())},
        {"exp": int(time.time()) - 10},
        {"exp": None},
        {"jti": None},
        {"nbf": int(time.time()) + 600},
    ],
)
def test_bad_assertion_claims(
    idp: DevIdp, client_keys: dict[str, PrivateKey], claims: dict[str, Any]
) -> None:
    login = authorize(idp, client_id=CERT_CLIENT_ID)
    reply = exchange(idp, login, assertion(idp, client_keys["rsa-1"], "rsa-1", **claims))
    assert reply.status == 401
    assert reply.json()["error"] == "invalid_client"


def test_assertion_signed_with_an_unregistered_key(idp: DevIdp) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    login = authorize(idp, client_id=CERT_CLIENT_ID)
    for kid in ("rsa-1", None):
        reply = exchange(idp, login, assertion(idp, stranger, kid))
        assert reply.json()["error"] == "invalid_client"


def test_assertion_with_alg_none_or_hs256_is_rejected(
    idp: DevIdp, client_keys: dict[str, PrivateKey]
) -> None:
    good = assertion(idp, client_keys["rsa-1"], "rsa-1")
    _, payload, _ = good.split(".")
    login = authorize(idp, client_id=CERT_CLIENT_ID)
    for header in ("eyJhbGciOiJub25lIn0", "eyJhbGciOiJIUzI1NiIsImtpZCI6InJzYS0xIn0"):
        reply = exchange(idp, login, f"{header}.{payload}.")
        assert reply.json()["error"] == "invalid_client"


def test_assertion_audience_may_name_the_tenant_token_endpoint_via_organizations(
    idp: DevIdp, client_keys: dict[str, PrivateKey]
) -> None:
    login = authorize(idp, client_id=CERT_CLIENT_ID)
    data = {
        "grant_type": "authorization_code",
        "code": login.code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": login.verifier,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(
            idp, client_keys["rsa-1"], "rsa-1", aud=f"{idp.url}/organizations/oauth2/v2.0/token"
        ),
    }
    reply = fetch(f"{idp.url}/organizations/oauth2/v2.0/token", data=data)
    assert reply.status == 200, reply.body


def test_secret_auth_for_a_certificate_only_client_fails(idp: DevIdp) -> None:
    login = authorize(idp, client_id=CERT_CLIENT_ID)
    data = {
        "grant_type": "authorization_code",
        "code": login.code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": login.verifier,
        "client_id": CERT_CLIENT_ID,
        "client_secret": "",
    }
    assert fetch(idp.endpoint("token"), data=data).json()["error"] == "invalid_client"
