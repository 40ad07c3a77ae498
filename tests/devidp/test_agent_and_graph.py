"""Entra Agent ID app-only tokens, and Microsoft Graph tokens (resource servers refuse them)."""

from __future__ import annotations

import json

import pytest

from portcullis.devidp import ALICE_OID, DevIdp
from portcullis.devidp.defaults import (
    AGENT_CLIENT_ID,
    AGENT_CLIENT_SECRET,
    AGENT_SP_OID,
    BOT_CLIENT_ID,
    BOT_CLIENT_SECRET,
    DEMO_API_ID,
    DEMO_API_URI,
    LEGACY_API_URI,
)
from portcullis.jose import (
    IssuerRule,
    KeySet,
    TokenError,
    is_graph_token,
    parse,
    validate_claims,
    verify,
)
from tests.devidp.helpers import (
    b64url_decode,
    check_access_token,
    client_credentials,
    discovered,
    tokens,
)

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def test_agent_token_carries_the_facets_and_an_empty_scope(idp: DevIdp) -> None:
    reply = client_credentials(
        idp, AGENT_CLIENT_ID, AGENT_CLIENT_SECRET, f"{DEMO_API_URI}/.default"
    )
    assert reply.status == 200, reply.body
    _, claims = check_access_token(idp, reply.json()["access_token"], audience=DEMO_API_ID)
    assert claims["idtyp"] == "app"
    assert claims["scp"] == "/"
    assert claims["xms_act_fct"] == "11"
    assert claims["xms_sub_fct"] == "11"
    assert claims["azp"] == AGENT_CLIENT_ID
    assert claims["oid"] == claims["sub"] == AGENT_SP_OID
    assert claims["roles"] == ["Reports.Read"]


def test_agent_v1_token(idp: DevIdp) -> None:
    reply = client_credentials(
        idp, AGENT_CLIENT_ID, AGENT_CLIENT_SECRET, f"{LEGACY_API_URI}/.default"
    )
    _, claims = check_access_token(
        idp, reply.json()["access_token"], audience=LEGACY_API_URI, v1=True
    )
    assert claims["appid"] == AGENT_CLIENT_ID
    assert claims["xms_act_fct"] == claims["xms_sub_fct"] == "11"
    assert claims["scp"] == "/"
    assert "roles" not in claims  # no grant on the legacy API


def test_an_ordinary_machine_token_has_no_agent_claims(idp: DevIdp) -> None:
    reply = client_credentials(idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET, f"{DEMO_API_URI}/.default")
    _, claims = check_access_token(idp, reply.json()["access_token"], audience=DEMO_API_ID)
    assert not {"scp", "xms_act_fct", "xms_sub_fct"} & set(claims)


@pytest.mark.parametrize(
    "scope", ["https://graph.microsoft.com/.default", f"{GRAPH_APP_ID}/.default"]
)
def test_graph_token_shape(idp: DevIdp, scope: str) -> None:
    reply = client_credentials(idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET, scope)
    assert reply.status == 200, reply.body
    token = reply.json()["access_token"]
    jws = parse(token)
    assert isinstance(jws.header["nonce"], str) and len(jws.header["nonce"]) >= 43
    assert "x5t" in jws.header
    issuer, jwks = discovered(idp, v1=True)
    # Unlike Entra's (signed over a hashed nonce), the dev IdP's Graph tokens verify, so a
    # resource server's refusal is tested on the claim, not on a bad signature.
    claims = verify(jws, KeySet.from_jwks(jwks), algorithms=frozenset({"RS256"}))
    assert claims["aud"] == GRAPH_APP_ID
    assert claims["iss"] == issuer
    assert claims["ver"] == "1.0"
    assert claims["idtyp"] == "app"
    assert "roles" not in claims
    assert is_graph_token(jws.header, claims)
    with pytest.raises(TokenError) as info:
        validate_claims(
            claims,
            now=claims["iat"] + 300,
            issuer=IssuerRule.exact(issuer, ver="1.0"),
            audiences=frozenset({GRAPH_APP_ID}),
            require_iat=True,
        )
    assert info.value.code == "graph_token"


def test_each_graph_token_has_a_fresh_nonce(idp: DevIdp) -> None:
    def nonce() -> str:
        reply = client_credentials(
            idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET, "https://graph.microsoft.com/.default"
        )
        header = reply.json()["access_token"].split(".")[0]
        return str(json.loads(b64url_decode(header))["nonce"])

    assert nonce() != nonce()


def test_delegated_graph_token_from_the_code_flow(idp: DevIdp) -> None:
    _, body = tokens(idp, "alice", scope="openid https://graph.microsoft.com/User.Read")
    jws = parse(body["access_token"])
    assert "nonce" in jws.header
    claims = jws.unverified_claims()
    assert claims["aud"] == GRAPH_APP_ID
    assert claims["scp"] == "User.Read"
    assert claims["idtyp"] == "user"
    assert claims["oid"] == ALICE_OID
    assert is_graph_token(jws.header, claims)
