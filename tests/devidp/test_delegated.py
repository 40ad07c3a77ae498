"""Delegated access tokens: the code flow with an API scope returns a user token for that API."""

from __future__ import annotations

import pytest

from portcullis.devidp import ALICE_OID, BOB_OID, CAROL_OID, CLIENT_ID, TENANT_ID, DevIdp
from portcullis.devidp.defaults import (
    DEMO_API_ID,
    DEMO_API_URI,
    GROUP_ADMINS,
    GROUP_STAFF,
    LEGACY_API_URI,
)
from portcullis.jose import PrivateKey
from tests.devidp.conftest import CERT_CLIENT_ID
from tests.devidp.helpers import (
    authorize,
    check_access_token,
    jwks_of,
    tokens,
    verify_rs256,
)
from tests.devidp.test_private_key_jwt import assertion, exchange

API_SCOPE = f"{DEMO_API_URI}/Reports.Read.All openid"


def test_alice_gets_a_v2_delegated_token_for_the_api(idp: DevIdp) -> None:
    login, body = tokens(idp, "alice", scope=API_SCOPE)
    assert body["scope"] == API_SCOPE
    header, claims = check_access_token(idp, body["access_token"], audience=DEMO_API_ID)
    assert set(header) == {"alg", "kid", "typ"}
    assert claims["aud"] == DEMO_API_ID
    assert claims["iss"] == idp.issuer
    assert claims["ver"] == "2.0"
    assert claims["scp"] == "Reports.Read.All"
    assert claims["oid"] == ALICE_OID
    assert claims["tid"] == TENANT_ID
    assert claims["roles"] == ["Reports.Read", "Reports.Write"]
    assert claims["idtyp"] == "user"
    assert claims["azp"] == CLIENT_ID
    assert claims["azpacr"] == "1"
    assert claims["acrs"] == ["c1"]
    assert claims["groups"] == [GROUP_STAFF, GROUP_ADMINS]
    assert claims["preferred_username"] == "alice@contoso.example"
    assert claims["sub"] not in (ALICE_OID, "")
    assert claims["exp"] - claims["iat"] == 3900
    assert "xms_cc" not in claims
    assert "nonce" not in claims
    # The ID token is unchanged: for the client, with the nonce.
    _, id_claims = verify_rs256(body["id_token"], jwks_of(idp))
    assert id_claims["aud"] == CLIENT_ID
    assert id_claims["nonce"] == login.nonce


def test_bob_has_no_api_roles_and_no_auth_context(idp: DevIdp) -> None:
    _, body = tokens(idp, "bob", scope=API_SCOPE)
    _, claims = check_access_token(idp, body["access_token"], audience=DEMO_API_ID)
    assert claims["oid"] == BOB_OID
    assert "roles" not in claims
    assert "acrs" not in claims


def test_carol_gets_the_overage_form_in_api_tokens_too(idp: DevIdp) -> None:
    _, body = tokens(idp, "carol", scope=API_SCOPE)
    _, claims = check_access_token(idp, body["access_token"], audience=DEMO_API_ID)
    assert claims["oid"] == CAROL_OID
    assert "groups" not in claims
    assert claims["_claim_names"] == {"groups": "src1"}


def test_dot_default_grants_all_delegated_scopes(idp: DevIdp) -> None:
    _, body = tokens(idp, "alice", scope=f"openid profile {DEMO_API_ID}/.default")
    _, claims = check_access_token(idp, body["access_token"], audience=DEMO_API_ID)
    assert claims["scp"] == "Reports.Read.All"


def test_v1_delegated_token(idp: DevIdp) -> None:
    _, body = tokens(idp, "alice", scope=f"openid {LEGACY_API_URI}/Legacy.Access")
    header, claims = check_access_token(idp, body["access_token"], audience=LEGACY_API_URI, v1=True)
    assert "x5t" in header
    assert claims["ver"] == "1.0"
    assert claims["iss"] == idp.issuer_v1
    assert claims["appid"] == CLIENT_ID
    assert claims["appidacr"] == "1"
    assert claims["scp"] == "Legacy.Access"
    assert claims["oid"] == ALICE_OID
    assert claims["upn"] == claims["unique_name"] == "alice@contoso.example"
    assert claims["amr"] == ["pwd"]
    assert claims["idtyp"] == "user"
    assert "roles" not in claims  # alice has no app role on the legacy API


def test_without_an_api_scope_the_access_token_is_for_the_client(idp: DevIdp) -> None:
    _, body = tokens(idp, "alice")
    _, claims = verify_rs256(body["access_token"], jwks_of(idp))
    assert claims["aud"] == CLIENT_ID
    assert claims["acrs"] == ["c1"]


def test_certificate_client_gets_azpacr_2_on_delegated_tokens(
    idp: DevIdp, client_keys: dict[str, PrivateKey]
) -> None:
    login = authorize(idp, client_id=CERT_CLIENT_ID, scope=API_SCOPE)
    reply = exchange(idp, login, assertion(idp, client_keys["rsa-1"], "rsa-1"))
    assert reply.status == 200, reply.body
    _, claims = check_access_token(idp, reply.json()["access_token"], audience=DEMO_API_ID)
    assert claims["azp"] == CERT_CLIENT_ID
    assert claims["azpacr"] == "2"


@pytest.mark.parametrize(
    ("scope", "error"),
    [
        (f"openid {DEMO_API_URI}/Reports.Delete", "invalid_scope"),
        (f"openid api://nobody-registered-this/{'Read'}", "invalid_resource"),
        (f"openid {DEMO_API_URI}/Reports.Read.All {LEGACY_API_URI}/Legacy.Access", "invalid_scope"),
        (f"openid {DEMO_API_URI}/.default {DEMO_API_URI}/Reports.Read.All", "invalid_scope"),
        (f"openid User.Read {DEMO_API_URI}/Reports.Read.All", "invalid_scope"),
    ],
)
def test_bad_api_scopes_are_redirected_errors(idp: DevIdp, scope: str, error: str) -> None:
    login = authorize(idp, "alice", scope=scope)
    assert login.reply is not None and login.reply.status == 302
    params = login.reply.redirect_params()
    assert params["error"] == error
    assert params["state"] == login.state
    assert "code" not in params
