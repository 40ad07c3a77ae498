"""Token endpoint checks: PKCE, single-use codes, redirect_uri, client authentication, expiry."""

from __future__ import annotations

import dataclasses

import pytest

from portcullis.devidp import CLIENT_ID, CLIENT_SECRET, DevIdp, default_config
from portcullis.devidp.model import Client
from portcullis.secret import Secret
from tests.devidp.helpers import (
    REDIRECT_URI,
    Clock,
    authorize,
    basic,
    fetch,
    pkce,
    redeem,
)


def test_wrong_verifier_is_invalid_grant(idp: DevIdp) -> None:
    login = authorize(idp)
    reply = redeem(idp, login, code_verifier=pkce()[0])
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_grant"
    assert reply.headers["Content-Type"].startswith("application/json")


def test_missing_verifier_is_invalid_grant(idp: DevIdp) -> None:
    login = authorize(idp)
    assert redeem(idp, login, code_verifier=None).json()["error"] == "invalid_grant"


def test_a_failed_verifier_burns_the_code(idp: DevIdp) -> None:
    login = authorize(idp)
    assert redeem(idp, login, code_verifier=pkce()[0]).status == 400
    assert redeem(idp, login).json()["error"] == "invalid_grant"


def test_code_is_single_use(idp: DevIdp) -> None:
    login = authorize(idp)
    assert redeem(idp, login).status == 200
    again = redeem(idp, login)
    assert again.status == 400
    assert again.json()["error"] == "invalid_grant"


def test_unknown_code(idp: DevIdp) -> None:
    login = authorize(idp)
    assert redeem(idp, login, code="nope").json()["error"] == "invalid_grant"


def test_redirect_uri_mismatch_at_the_token_endpoint(idp: DevIdp) -> None:
    login = authorize(idp)
    other = "http://localhost:4180/.portcullis/callback"  # registered, but not the one used
    assert redeem(idp, login, redirect_uri=other).json()["error"] == "invalid_grant"
    login = authorize(idp)
    assert redeem(idp, login, redirect_uri=None).json()["error"] == "invalid_grant"


def test_unknown_client_is_invalid_client(idp: DevIdp) -> None:
    login = authorize(idp)
    data = {
        "grant_type": "authorization_code",
        "code": login.code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": login.verifier,
    }
    headers = basic("11111111-2222-4333-8444-555555555555", CLIENT_SECRET)
    reply = fetch(idp.endpoint("token"), data=data, headers=headers)
    assert reply.status == 401
    assert reply.json()["error"] == "invalid_client"
    assert reply.headers["WWW-Authenticate"].startswith("Basic")
    # The failed client authentication did not consume the code.
    assert redeem(idp, login).status == 200


@pytest.mark.parametrize("how", ["basic", "post"])
def test_wrong_secret_is_invalid_client(idp: DevIdp, how: str) -> None:
    login = authorize(idp)
    if how == "basic":
        reply = fetch(
            idp.endpoint("token"),
            data={"grant_type": "authorization_code", "code": login.code},
            headers=basic(CLIENT_ID, "wrong"),
        )
    else:
        reply = redeem(idp, login, how="post", client_secret="wrong")
    assert reply.status == 401
    assert reply.json()["error"] == "invalid_client"


def test_no_client_authentication(idp: DevIdp) -> None:
    login = authorize(idp)
    reply = redeem(idp, login, how="none", client_id=CLIENT_ID)
    assert reply.status == 401
    assert reply.json()["error"] == "invalid_client"


def test_two_client_authentication_methods_are_refused(idp: DevIdp) -> None:
    login = authorize(idp)
    reply = fetch(
        idp.endpoint("token"),
        data={"grant_type": "authorization_code", "code": login.code, "client_secret": "x"},
        headers=basic(),
    )
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_request"


def test_code_issued_to_another_client(idp: DevIdp) -> None:
    base = default_config()
    other_id = "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d"
    other = Client(other_id, base.clients[0].redirect_uris, secret=Secret("other-secret"))
    config = dataclasses.replace(base, clients=(*base.clients, other))
    with DevIdp(config) as two:
        login = authorize(two)
        reply = redeem(two, login, how="none", client_id=other_id, client_secret="other-secret")
        assert reply.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("grant_type", ["password", "refresh_token", "device_code", ""])
def test_unsupported_grant_type(idp: DevIdp, grant_type: str) -> None:
    reply = fetch(
        idp.endpoint("token"),
        data={"grant_type": grant_type, "scope": "x"},
        headers=basic(),
    )
    assert reply.status == 400
    assert reply.json()["error"] == "unsupported_grant_type"


def test_token_request_must_be_a_form(idp: DevIdp) -> None:
    reply = fetch(
        idp.endpoint("token"),
        data=b'{"grant_type": "authorization_code"}',
        headers={"Content-Type": "application/json", **basic()},
    )
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_request"


def test_codes_expire_after_five_minutes() -> None:
    clock = Clock(1_700_000_000.0)
    with DevIdp(default_config(), clock=clock) as idp:
        fresh, stale = authorize(idp), authorize(idp)
        clock.now += 299
        assert redeem(idp, fresh).status == 200
        clock.now += 2
        assert redeem(idp, stale).json()["error"] == "invalid_grant"
