"""CAE knobs: the ``claims`` request parameter (``xms_cc``, ``acrs``) and ``x-test-lifetime``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest

from portcullis.devidp import DevIdp, default_config
from portcullis.devidp.defaults import (
    BOT_CLIENT_ID,
    BOT_CLIENT_SECRET,
    DEMO_API_ID,
    DEMO_API_URI,
)
from tests.devidp.helpers import (
    authorize,
    check_access_token,
    client_credentials,
    redeem,
    tokens,
)

CP1 = json.dumps({"access_token": {"xms_cc": {"values": ["cp1"]}}})
API_SCOPE = f"openid {DEMO_API_URI}/Reports.Read.All"


@pytest.fixture(scope="module")
def lenient() -> Iterator[DevIdp]:
    """An IdP whose configuration allows ``x-test-lifetime``."""
    with DevIdp(dataclasses.replace(default_config(), allow_test_lifetimes=True)) as idp:
        yield idp


def bot(idp: DevIdp, **extra: str) -> dict[str, object]:
    reply = client_credentials(
        idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET, f"{DEMO_API_URI}/.default", **extra
    )
    assert reply.status == 200, reply.body
    _, claims = check_access_token(idp, reply.json()["access_token"], audience=DEMO_API_ID)
    return {"expires_in": reply.json()["expires_in"], **claims}


def test_client_credentials_with_cp1(idp: DevIdp) -> None:
    assert bot(idp, claims=CP1)["xms_cc"] == ["cp1"]
    assert "xms_cc" not in bot(idp)


def test_code_flow_with_cp1_on_the_authorization_request(idp: DevIdp) -> None:
    _, body = tokens(idp, "bob", scope=API_SCOPE, claims=CP1)
    _, claims = check_access_token(idp, body["access_token"], audience=DEMO_API_ID)
    assert claims["xms_cc"] == ["cp1"]


def test_code_flow_with_cp1_on_the_token_request(idp: DevIdp) -> None:
    login = authorize(idp, "bob", scope=API_SCOPE)
    reply = redeem(idp, login, claims=CP1)
    _, claims = check_access_token(idp, reply.json()["access_token"], audience=DEMO_API_ID)
    assert claims["xms_cc"] == ["cp1"]


def test_a_claims_challenge_for_an_auth_context_is_satisfied(idp: DevIdp) -> None:
    """Bob has no auth context; asking for c2 (as after a 401 insufficient_claims) adds it."""
    challenge = json.dumps({"access_token": {"acrs": {"essential": True, "value": "c2"}}})
    _, body = tokens(idp, "bob", scope=API_SCOPE, claims=challenge)
    _, claims = check_access_token(idp, body["access_token"], audience=DEMO_API_ID)
    assert claims["acrs"] == ["c2"]
    _, body = tokens(idp, "alice", scope=API_SCOPE, claims=challenge)
    _, claims = check_access_token(idp, body["access_token"], audience=DEMO_API_ID)
    assert claims["acrs"] == ["c1", "c2"]


def test_auth_contexts_are_not_added_to_app_only_tokens(idp: DevIdp) -> None:
    challenge = json.dumps({"access_token": {"acrs": {"values": ["c1"]}}})
    assert "acrs" not in bot(idp, claims=challenge)


@pytest.mark.parametrize(
    "claims",
    [
        "{not json",
        "[]",
        json.dumps({"access_token": []}),
        json.dumps({"access_token": {"xms_cc": ["cp1"]}}),
        json.dumps({"access_token": {"xms_cc": {"values": "cp1"}}}),
        json.dumps({"access_token": {"xms_cc": {"values": ["cp 1"]}}}),
        json.dumps({"access_token": {"xms_cc": {"values": [1]}}}),
    ],
)
def test_malformed_claims_are_invalid_request(idp: DevIdp, claims: str) -> None:
    reply = client_credentials(
        idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET, f"{DEMO_API_URI}/.default", claims=claims
    )
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_request"
    login = authorize(idp, "alice", scope=API_SCOPE, claims=claims)
    assert login.reply is not None
    assert login.reply.redirect_params()["error"] == "invalid_request"


def test_test_lifetime_is_ignored_unless_the_config_allows_it(idp: DevIdp) -> None:
    claims = bot(idp, **{"x-test-lifetime": "100000"})
    assert claims["exp"] - claims["iat"] == 3900  # type: ignore[operator]
    assert claims["expires_in"] == 3600


def test_test_lifetime_when_allowed(lenient: DevIdp) -> None:
    claims = bot(lenient, **{"x-test-lifetime": "100800"})  # 28 hours
    assert claims["exp"] - claims["iat"] == 100800 + 300  # type: ignore[operator]
    assert claims["expires_in"] == 100800
    short = bot(lenient, **{"x-test-lifetime": "5"})
    assert short["exp"] - short["iat"] == 305  # type: ignore[operator]


def test_test_lifetime_applies_to_delegated_tokens_not_id_tokens(lenient: DevIdp) -> None:
    login = authorize(lenient, "alice", scope=API_SCOPE)
    reply = redeem(lenient, login, **{"x-test-lifetime": "7200"})
    body = reply.json()
    assert body["expires_in"] == 7200
    _, claims = check_access_token(lenient, body["access_token"], audience=DEMO_API_ID)
    assert claims["exp"] - claims["iat"] == 7500


@pytest.mark.parametrize("value", ["0", "-5", "100801", "1e3", "soon", "9" * 5000])
def test_bad_test_lifetimes(lenient: DevIdp, value: str) -> None:
    reply = client_credentials(
        lenient,
        BOT_CLIENT_ID,
        BOT_CLIENT_SECRET,
        f"{DEMO_API_URI}/.default",
        **{"x-test-lifetime": value},
    )
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_request"
