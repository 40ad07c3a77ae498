"""Authorization request checks: no redirect while the client or redirect_uri is in doubt."""

from __future__ import annotations

import pytest

from portcullis.devidp import DevIdp
from tests.devidp.helpers import REDIRECT_URI, authorize, fetch


@pytest.mark.parametrize(
    "override",
    [
        {"client_id": "00000000-0000-0000-0000-000000000000"},
        {"client_id": None},
        {"redirect_uri": "http://127.0.0.1:4180/.portcullis/callback/"},
        {"redirect_uri": "http://evil.example/.portcullis/callback"},
        {"redirect_uri": None},
    ],
)
def test_unknown_client_or_redirect_uri_is_shown_not_redirected(
    idp: DevIdp, override: dict[str, str | None]
) -> None:
    login = authorize(idp, "alice", **override)
    reply = login.reply
    assert reply is not None
    assert reply.status == 400
    assert "Location" not in reply.headers
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "evil.example" not in reply.text


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"response_type": None}, "unsupported_response_type"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"prompt": "bogus"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"state": "x" * 3000}, "invalid_request"),
    ],
)
def test_request_errors_go_back_to_the_client(
    idp: DevIdp, override: dict[str, str | None], error: str
) -> None:
    login = authorize(idp, "alice", **override)
    assert login.reply is not None and login.reply.status == 302
    assert login.reply.location.startswith(REDIRECT_URI + "?")
    params = login.reply.redirect_params()
    assert params["error"] == error
    assert params["error_description"]
    assert "code" not in params
    if "state" not in override:
        assert params["state"] == login.state


def test_pkce_is_required(idp: DevIdp) -> None:
    login = authorize(idp, "alice", code_challenge=None, code_challenge_method=None)
    assert login.reply is not None
    params = login.reply.redirect_params()
    assert params["error"] == "invalid_request"
    assert "PKCE" in params["error_description"]


def test_repeated_parameters_are_rejected(idp: DevIdp) -> None:
    url = idp.endpoint("authorize") + "?client_id=a&client_id=b"
    reply = fetch(url)
    assert reply.status == 400
    assert "Location" not in reply.headers
