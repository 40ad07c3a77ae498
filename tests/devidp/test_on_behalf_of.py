"""On-behalf-of: a middle tier exchanges a user's token for one to another API, same user."""

from __future__ import annotations

import dataclasses
import socket
from typing import Any

import pytest

from portcullis.devidp import ALICE_OID, CLIENT_ID, CLIENT_SECRET, DevIdp, default_config
from portcullis.devidp.defaults import (
    BOT_CLIENT_ID,
    BOT_CLIENT_SECRET,
    DEMO_API_ID,
    DEMO_API_URI,
    LEGACY_API_URI,
)
from tests.devidp.conftest import MIDDLE_TIER_SECRET
from tests.devidp.helpers import (
    Clock,
    check_access_token,
    client_credentials,
    token_request,
    tokens,
)

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def obo(idp: DevIdp, client_id: str, secret: str, assertion: str, scope: str, **extra: str) -> Any:
    form = {
        "grant_type": JWT_BEARER,
        "requested_token_use": "on_behalf_of",
        "assertion": assertion,
        "scope": scope,
        **extra,
    }
    return token_request(idp, client_id, secret, **{k: v for k, v in form.items() if v})


def test_the_sign_in_client_exchanges_its_user_token_for_an_api_token(idp: DevIdp) -> None:
    _, body = tokens(idp, "alice")  # access token aud = the client itself
    reply = obo(idp, CLIENT_ID, CLIENT_SECRET, body["access_token"], f"{DEMO_API_URI}/.default")
    assert reply.status == 200, reply.body
    assert reply.json()["scope"] == f"{DEMO_API_URI}/Reports.Read.All"
    _, claims = check_access_token(idp, reply.json()["access_token"], audience=DEMO_API_ID)
    assert claims["oid"] == ALICE_OID
    assert claims["azp"] == CLIENT_ID
    assert claims["idtyp"] == "user"
    assert claims["scp"] == "Reports.Read.All"
    assert claims["roles"] == ["Reports.Read", "Reports.Write"]


def test_obo_chain_through_the_demo_api_to_the_v1_legacy_api(idp: DevIdp) -> None:
    # 1. Portcullis signs alice in and gets a token for the demo API.
    _, body = tokens(idp, "alice", scope=f"{DEMO_API_URI}/Reports.Read.All openid")
    first = body["access_token"]
    _, first_claims = check_access_token(idp, first, audience=DEMO_API_ID)
    assert first_claims["azp"] == CLIENT_ID
    # 2. The demo API (a client too) calls the legacy API on alice's behalf.
    reply = obo(idp, DEMO_API_ID, MIDDLE_TIER_SECRET, first, f"{LEGACY_API_URI}/.default")
    assert reply.status == 200, reply.body
    header, claims = check_access_token(
        idp, reply.json()["access_token"], audience=LEGACY_API_URI, v1=True
    )
    assert "x5t" in header
    assert claims["oid"] == ALICE_OID
    assert claims["appid"] == DEMO_API_ID  # the middle tier, not Portcullis
    assert claims["appidacr"] == "1"
    assert claims["scp"] == "Legacy.Access"
    assert claims["idtyp"] == "user"
    assert claims["uti"] != first_claims["uti"]
    # 3. And the legacy API could go on: a v1 assertion is accepted as well.
    again = obo(idp, DEMO_API_ID, MIDDLE_TIER_SECRET, first, f"{DEMO_API_URI}/Reports.Read.All")
    assert again.status == 200, again.body


def test_a_token_for_another_app_is_not_an_assertion_for_this_one(idp: DevIdp) -> None:
    _, body = tokens(idp, "alice", scope=f"{DEMO_API_URI}/Reports.Read.All openid")
    # aud = the demo API, but the caller is Portcullis.
    reply = obo(idp, CLIENT_ID, CLIENT_SECRET, body["access_token"], f"{LEGACY_API_URI}/.default")
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_grant"


def test_an_app_only_token_is_not_a_user_assertion(idp: DevIdp) -> None:
    app_token = client_credentials(
        idp, CLIENT_ID, CLIENT_SECRET, f"{DEMO_API_URI}/.default"
    ).json()["access_token"]
    reply = obo(idp, DEMO_API_ID, MIDDLE_TIER_SECRET, app_token, f"{LEGACY_API_URI}/.default")
    assert reply.json()["error"] == "invalid_grant"


def test_a_graph_token_is_not_an_assertion(idp: DevIdp) -> None:
    graph = client_credentials(
        idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET, "https://graph.microsoft.com/.default"
    ).json()["access_token"]
    reply = obo(idp, CLIENT_ID, CLIENT_SECRET, graph, f"{DEMO_API_URI}/.default")
    assert reply.json()["error"] == "invalid_grant"


def test_a_tampered_assertion_is_invalid_grant(idp: DevIdp) -> None:
    _, body = tokens(idp, "alice")
    head, payload, signature = body["access_token"].split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    reply = obo(idp, CLIENT_ID, CLIENT_SECRET, forged, f"{DEMO_API_URI}/.default")
    assert reply.json()["error"] == "invalid_grant"
    reply = obo(idp, CLIENT_ID, CLIENT_SECRET, "not-a-jwt", f"{DEMO_API_URI}/.default")
    assert reply.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"requested_token_use": ""}, "invalid_request"),
        ({"requested_token_use": "something_else"}, "invalid_request"),
        ({"assertion": ""}, "invalid_request"),
        ({"scope": ""}, "invalid_scope"),
        ({"scope": "openid profile"}, "invalid_scope"),
        ({"scope": f"{DEMO_API_URI}/Nope"}, "invalid_scope"),
        ({"scope": "api://unknown/.default"}, "invalid_resource"),
    ],
)
def test_obo_request_errors(idp: DevIdp, change: dict[str, str], error: str) -> None:
    _, body = tokens(idp, "alice")
    form = {
        "assertion": body["access_token"],
        "scope": f"{DEMO_API_URI}/.default",
        "requested_token_use": "on_behalf_of",
        **change,
    }
    reply = token_request(
        idp,
        CLIENT_ID,
        CLIENT_SECRET,
        grant_type=JWT_BEARER,
        **{k: v for k, v in form.items() if v},
    )
    assert reply.status == 400
    assert reply.json()["error"] == error


def test_obo_needs_client_authentication(idp: DevIdp) -> None:
    _, body = tokens(idp, "alice")
    reply = obo(idp, CLIENT_ID, "wrong", body["access_token"], f"{DEMO_API_URI}/.default")
    assert reply.status == 401
    assert reply.json()["error"] == "invalid_client"


def test_an_expired_assertion_is_refused() -> None:
    clock = Clock(1_700_000_000.0)
    with DevIdp(default_config(), clock=clock) as idp:
        _, body = tokens(idp, "alice")
        clock.now += 3600 + 61  # past exp and the leeway
        reply = obo(idp, CLIENT_ID, CLIENT_SECRET, body["access_token"], f"{DEMO_API_URI}/.default")
        assert reply.json()["error"] == "invalid_grant"


def test_a_user_removed_from_the_directory_cannot_be_impersonated() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = dataclasses.replace(default_config(), port=port)
    first = DevIdp(base)
    with first:
        _, body = tokens(first, "alice")
    # The same issuer and keys, but alice has left the directory.
    second = DevIdp(dataclasses.replace(base, users=base.users[1:]))
    second.keys = first.keys
    with second:
        assert second.issuer == first.issuer
        reply = obo(
            second, CLIENT_ID, CLIENT_SECRET, body["access_token"], f"{DEMO_API_URI}/.default"
        )
        assert reply.status == 400
        assert reply.json()["error"] == "invalid_grant"
