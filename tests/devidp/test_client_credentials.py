"""Client credentials: app-only access tokens for APIs, v2 and v1, checked with portcullis.jose."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from portcullis.devidp import CLIENT_ID, CLIENT_SECRET, TENANT_ID, DevIdp
from portcullis.devidp.defaults import (
    BOT_CLIENT_ID,
    BOT_CLIENT_SECRET,
    BOT_SP_OID,
    CLIENT_SP_OID,
    DEMO_API_ID,
    DEMO_API_URI,
    LEGACY_API_URI,
)
from portcullis.jose import PrivateKey, TokenError, sign_jws
from tests.devidp.conftest import CERT_CLIENT_ID
from tests.devidp.helpers import check_access_token, client_credentials, fetch

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def bot_token(idp: DevIdp, scope: str = f"{DEMO_API_URI}/.default", **extra: str) -> Any:
    reply = client_credentials(idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET, scope, **extra)
    assert reply.status == 200, reply.body
    return reply.json()


def test_v2_app_only_token(idp: DevIdp) -> None:
    before = int(time.time())
    body = bot_token(idp)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "id_token" not in body and "refresh_token" not in body
    header, claims = check_access_token(idp, body["access_token"], audience=DEMO_API_ID)
    assert set(header) == {"alg", "kid", "typ"}
    assert header["typ"] == "JWT"
    assert header["alg"] == "RS256"
    assert set(claims) == {
        "aud", "iss", "iat", "nbf", "exp", "azp", "azpacr", "idtyp", "oid", "roles", "sub",
        "tid", "uti", "ver",
    }  # fmt: skip
    assert claims["aud"] == DEMO_API_ID
    assert claims["iss"] == f"{idp.url}/{TENANT_ID}/v2.0" == idp.issuer
    assert claims["ver"] == "2.0"
    assert claims["tid"] == TENANT_ID
    assert claims["oid"] == claims["sub"] == BOT_SP_OID
    assert claims["azp"] == BOT_CLIENT_ID
    assert claims["azpacr"] == "1"
    assert claims["roles"] == ["Reports.Read"]
    assert claims["idtyp"] == "app"
    assert len(claims["uti"]) == 22
    assert claims["iat"] == claims["nbf"]
    assert before - 300 - 2 <= claims["iat"] <= before - 300 + 2
    assert claims["exp"] - claims["iat"] == 3900


def test_v1_app_only_token(idp: DevIdp) -> None:
    body = bot_token(idp, f"{LEGACY_API_URI}/.default")
    header, claims = check_access_token(idp, body["access_token"], audience=LEGACY_API_URI, v1=True)
    assert set(header) == {"alg", "kid", "typ", "x5t"}
    assert claims["aud"] == LEGACY_API_URI
    assert claims["iss"] == f"{idp.url}/{TENANT_ID}/" == idp.issuer_v1
    assert claims["ver"] == "1.0"
    assert claims["appid"] == BOT_CLIENT_ID
    assert claims["appidacr"] == "1"
    assert "azp" not in claims and "azpacr" not in claims
    assert claims["idp"] == claims["iss"]
    assert claims["oid"] == claims["sub"] == BOT_SP_OID
    assert claims["roles"] == ["Legacy.Read"]
    assert claims["idtyp"] == "app"
    assert claims["exp"] - claims["iat"] == 3900


def test_v1_token_is_refused_against_v2_metadata_and_back(idp: DevIdp) -> None:
    v1 = bot_token(idp, f"{LEGACY_API_URI}/.default")["access_token"]
    v2 = bot_token(idp)["access_token"]
    with pytest.raises(TokenError):
        check_access_token(idp, v1, audience=LEGACY_API_URI, v1=False)
    with pytest.raises(TokenError):
        check_access_token(idp, v2, audience=DEMO_API_ID, v1=True)


@pytest.mark.parametrize("how", ["basic", "post"])
def test_client_secret_basic_and_post(idp: DevIdp, how: str) -> None:
    reply = client_credentials(
        idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET, f"{DEMO_API_URI}/.default", how=how
    )
    assert reply.status == 200, reply.body


def test_the_api_may_be_named_by_its_app_id(idp: DevIdp) -> None:
    body = bot_token(idp, f"{DEMO_API_ID}/.default")
    _, claims = check_access_token(idp, body["access_token"], audience=DEMO_API_ID)
    assert claims["roles"] == ["Reports.Read"]


def test_a_client_without_a_grant_gets_a_token_without_roles(idp: DevIdp) -> None:
    reply = client_credentials(idp, CLIENT_ID, CLIENT_SECRET, f"{DEMO_API_URI}/.default")
    assert reply.status == 200, reply.body
    _, claims = check_access_token(idp, reply.json()["access_token"], audience=DEMO_API_ID)
    assert "roles" not in claims
    assert "scp" not in claims
    assert claims["idtyp"] == "app"
    assert claims["oid"] == CLIENT_SP_OID
    assert claims["azp"] == CLIENT_ID


def test_a_grant_on_one_api_gives_nothing_on_another(idp: DevIdp, client_keys: Any) -> None:
    reply = private_key_jwt(idp, client_keys["rsa-1"], "rsa-1", f"{LEGACY_API_URI}/.default")
    assert reply.status == 200, reply.body
    _, claims = check_access_token(
        idp, reply.json()["access_token"], audience=LEGACY_API_URI, v1=True
    )
    assert "roles" not in claims
    assert claims["appidacr"] == "2"


def private_key_jwt(idp: DevIdp, key: PrivateKey, kid: str, scope: str) -> Any:
    now = int(time.time())
    assertion = sign_jws(
        {
            "iss": CERT_CLIENT_ID,
            "sub": CERT_CLIENT_ID,
            "aud": idp.endpoint("token"),
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": secrets.token_hex(16),
        },
        key,
        alg="RS256" if kid.startswith("rsa") else "ES256",
        kid=kid,
    )
    data = {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    return fetch(idp.endpoint("token"), data=data)


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
def test_private_key_jwt_gives_azpacr_2(
    idp: DevIdp, client_keys: dict[str, PrivateKey], kid: str
) -> None:
    reply = private_key_jwt(idp, client_keys[kid], kid, f"{DEMO_API_URI}/.default")
    assert reply.status == 200, reply.body
    _, claims = check_access_token(idp, reply.json()["access_token"], audience=DEMO_API_ID)
    assert claims["azp"] == CERT_CLIENT_ID
    assert claims["azpacr"] == "2"
    assert claims["roles"] == ["Reports.Write"]
    assert claims["oid"] == claims["sub"]  # derived service principal id, a stable GUID
    assert len(claims["oid"]) == 36


def test_each_token_has_its_own_uti(idp: DevIdp) -> None:
    utis = {
        check_access_token(idp, bot_token(idp)["access_token"], audience=DEMO_API_ID)[1]["uti"]
        for _ in range(3)
    }
    assert len(utis) == 3


@pytest.mark.parametrize("tenant", ["organizations", "common"])
def test_multi_tenant_token_endpoint(idp: DevIdp, tenant: str) -> None:
    reply = client_credentials(
        idp,
        BOT_CLIENT_ID,
        BOT_CLIENT_SECRET,
        f"{DEMO_API_URI}/.default",
        url=f"{idp.url}/{tenant}/oauth2/v2.0/token",
    )
    assert reply.status == 200, reply.body
    _, claims = check_access_token(idp, reply.json()["access_token"], audience=DEMO_API_ID)
    assert claims["iss"] == idp.issuer
