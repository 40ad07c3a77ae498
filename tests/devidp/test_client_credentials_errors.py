"""Client credentials errors: who is calling (invalid_client) and what for (scope, resource)."""

from __future__ import annotations

import pytest

from portcullis.devidp import DevIdp
from portcullis.devidp.defaults import (
    BOT_CLIENT_ID,
    BOT_CLIENT_SECRET,
    DEMO_API_ID,
    DEMO_API_URI,
    LEGACY_API_URI,
)
from tests.devidp.helpers import client_credentials, fetch


@pytest.mark.parametrize("how", ["basic", "post"])
def test_wrong_secret_is_invalid_client(idp: DevIdp, how: str) -> None:
    reply = client_credentials(
        idp, BOT_CLIENT_ID, "not-the-secret", f"{DEMO_API_URI}/.default", how=how
    )
    assert reply.status == 401
    assert reply.json()["error"] == "invalid_client"
    assert "access_token" not in reply.json()


def test_unknown_client_is_invalid_client(idp: DevIdp) -> None:
    reply = client_credentials(idp, "no-such-bot", BOT_CLIENT_SECRET, f"{DEMO_API_URI}/.default")
    assert reply.status == 401
    assert reply.json()["error"] == "invalid_client"


def test_no_client_authentication_is_invalid_client(idp: DevIdp) -> None:
    reply = fetch(
        idp.endpoint("token"),
        data={
            "grant_type": "client_credentials",
            "client_id": BOT_CLIENT_ID,
            "scope": f"{DEMO_API_URI}/.default",
        },
    )
    assert reply.status == 401
    assert reply.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "scope",
    [
        "",
        f"{DEMO_API_URI}/Reports.Read.All",  # delegated scope: not for client credentials
        f"{DEMO_API_URI}/Reports.Read",  # an app role is not a scope either
        f"{DEMO_API_URI}",
        "Reports.Read",
        "/.default",
        ".default",
        f"{DEMO_API_URI}/.default {LEGACY_API_URI}/.default",
        f"openid {DEMO_API_URI}/.default",
    ],
)
def test_unsupported_scope_is_invalid_scope(idp: DevIdp, scope: str) -> None:
    reply = client_credentials(idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET, scope)
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "resource",
    [
        "api://portcullis-nothing",
        "api://PORTCULLIS-DEMO",  # App ID URIs compare exactly
        "11111111-2222-4333-8444-555555555555",
        "https://example.com/api",
    ],
)
def test_unknown_resource_is_invalid_resource(idp: DevIdp, resource: str) -> None:
    reply = client_credentials(idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET, f"{resource}/.default")
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_resource"
    assert resource in reply.json()["error_description"]


def test_app_id_is_case_insensitive(idp: DevIdp) -> None:
    reply = client_credentials(
        idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET, f"{DEMO_API_ID.upper()}/.default"
    )
    assert reply.status == 200, reply.body
