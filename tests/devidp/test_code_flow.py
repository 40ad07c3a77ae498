"""The authorization code flow end to end, over real HTTP, ID tokens checked independently."""

from __future__ import annotations

import base64
import hashlib
import html
import time

import pytest

from portcullis.devidp import ALICE_OID, BOB_OID, CAROL_OID, CLIENT_ID, TENANT_ID, DevIdp
from portcullis.devidp.defaults import GROUP_ADMINS, GROUP_STAFF
from tests.devidp.helpers import (
    REDIRECT_URI,
    authorize,
    fetch,
    jwks_of,
    redeem,
    tokens,
    verify_rs256,
)


def test_alice_full_flow_with_client_secret_basic(idp: DevIdp) -> None:
    login = authorize(idp, "alice")
    assert login.reply is not None and login.reply.status == 302
    assert login.reply.location.startswith(REDIRECT_URI + "?")
    params = login.reply.redirect_params()
    assert set(params) == {"code", "state"}
    assert params["state"] == login.state
    assert login.reply.headers["Cache-Control"] == "no-store"

    before = int(time.time())
    reply = redeem(idp, login, how="basic")
    assert reply.status == 200, reply.body
    assert reply.headers["Cache-Control"] == "no-store"
    body = reply.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    header, claims = verify_rs256(body["id_token"], jwks_of(idp))
    assert header["typ"] == "JWT"

    assert claims["iss"] == idp.issuer
    assert claims["aud"] == CLIENT_ID
    assert claims["nonce"] == login.nonce
    assert claims["oid"] == ALICE_OID
    assert claims["tid"] == TENANT_ID
    assert claims["preferred_username"] == "alice@contoso.example"
    assert claims["email"] == "alice@contoso.example"
    assert claims["name"] == "Alice Admin"
    assert claims["roles"] == ["Portal.Admin"]
    assert claims["groups"] == [GROUP_STAFF, GROUP_ADMINS]
    assert claims["idtyp"] == "user"
    assert claims["ver"] == "2.0"
    assert claims["amr"] == ["pwd"]
    assert len(claims["uti"]) >= 16
    expected_sub = base64.urlsafe_b64encode(
        hashlib.sha256((ALICE_OID + CLIENT_ID).encode()).digest()
    )
    assert claims["sub"] == expected_sub.rstrip(b"=").decode()
    assert claims["iat"] == claims["nbf"]
    assert before - 300 - 2 <= claims["iat"] <= before - 300 + 2
    assert claims["exp"] - claims["iat"] == 3900
    assert abs(claims["auth_time"] - before) <= 2
    assert "_claim_names" not in claims


def test_access_token_is_a_signed_jwt_for_the_client(idp: DevIdp) -> None:
    _, body = tokens(idp, "alice")
    _, claims = verify_rs256(body["access_token"], jwks_of(idp))
    assert claims["aud"] == CLIENT_ID
    assert claims["azp"] == CLIENT_ID
    assert claims["azpacr"] == "1"
    assert claims["oid"] == ALICE_OID
    assert claims["scp"]
    assert "nonce" not in claims
    assert claims["uti"] != verify_rs256(body["id_token"], jwks_of(idp))[1]["uti"]


def test_bob_with_client_secret_post_has_no_roles(idp: DevIdp) -> None:
    login = authorize(idp, "bob")
    reply = redeem(idp, login, how="post")
    assert reply.status == 200, reply.body
    _, claims = verify_rs256(reply.json()["id_token"], jwks_of(idp))
    assert claims["oid"] == BOB_OID
    assert "roles" not in claims
    assert claims["groups"] == [GROUP_STAFF]


def test_carol_gets_the_groups_overage_form_instead_of_groups(idp: DevIdp) -> None:
    _, body = tokens(idp, "carol")
    for token in (body["id_token"], body["access_token"]):
        _, claims = verify_rs256(token, jwks_of(idp))
        assert "groups" not in claims
        assert claims["_claim_names"] == {"groups": "src1"}
        assert claims["_claim_sources"] == {
            "src1": {
                "endpoint": f"https://graph.microsoft.com/v1.0/users/{CAROL_OID}/getMemberObjects"
            }
        }


def test_login_hint_may_be_the_full_username(idp: DevIdp) -> None:
    _, body = tokens(idp, "Bob@Contoso.Example")
    assert verify_rs256(body["id_token"], jwks_of(idp))[1]["oid"] == BOB_OID


def test_subject_is_pairwise_per_client_and_stable(idp: DevIdp) -> None:
    subs = {verify_rs256(tokens(idp, "alice")[1]["id_token"], jwks_of(idp))[1]["sub"]}
    subs.add(verify_rs256(tokens(idp, "alice")[1]["id_token"], jwks_of(idp))[1]["sub"])
    assert len(subs) == 1
    assert subs != {ALICE_OID}


def test_form_post_returns_an_auto_submitting_form(idp: DevIdp) -> None:
    state = 'st"><script>alert(1)</script>'
    login = authorize(idp, "alice", response_mode="form_post", state=state)
    reply = login.reply
    assert reply is not None and reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    page = reply.text
    assert f'<form method="post" action="{html.escape(REDIRECT_URI)}">' in page
    assert f'name="state" value="{html.escape(state)}"' in page
    assert "<script>alert(1)</script>" not in page
    assert ".submit()" in page
    assert "'nonce-" in reply.headers["Content-Security-Policy"]
    code = page.split('name="code" value="', 1)[1].split('"', 1)[0]
    assert redeem(idp, login, code=code).status == 200


def test_form_post_errors_are_posted_too(idp: DevIdp) -> None:
    login = authorize(idp, "mallory", response_mode="form_post")
    assert login.reply is not None and login.reply.status == 200
    assert 'name="error" value="access_denied"' in login.reply.text


def test_unknown_login_hint_is_access_denied(idp: DevIdp) -> None:
    login = authorize(idp, "mallory")
    assert login.reply is not None and login.reply.status == 302
    params = login.reply.redirect_params()
    assert params["error"] == "access_denied"
    assert params["state"] == login.state
    assert "code" not in params


def test_prompt_login_and_max_age_are_accepted(idp: DevIdp) -> None:
    _, body = tokens(idp, "alice", prompt="login", max_age="0")
    assert "id_token" in body


def test_prompt_none_without_hint_is_login_required(idp: DevIdp) -> None:
    login = authorize(idp, None, prompt="none")
    assert login.reply is not None
    assert login.reply.redirect_params()["error"] == "login_required"


def test_redirect_uri_must_match_exactly_including_the_query(idp: DevIdp) -> None:
    # Not registered: shown on the IdP's own page, never redirected.
    login = authorize(idp, "alice", redirect_uri=REDIRECT_URI + "?x=1")
    assert login.reply is not None and login.reply.status == 400
    assert "Location" not in login.reply.headers


@pytest.mark.parametrize("tenant", ["organizations", "common"])
def test_multi_tenant_endpoints_issue_tenant_tokens(idp: DevIdp, tenant: str) -> None:
    login = authorize(idp, "alice")
    reply = fetch(
        f"{idp.url}/{tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "code": login.code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": login.verifier,
            "client_id": CLIENT_ID,
            "client_secret": "portcullis-demo-secret",
        },
    )
    assert reply.status == 200, reply.body
    _, claims = verify_rs256(reply.json()["id_token"], jwks_of(idp))
    assert claims["iss"] == idp.issuer
