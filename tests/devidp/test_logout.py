"""End-session endpoint: redirect only to a registered post-logout URI."""

from __future__ import annotations

from portcullis.devidp import CLIENT_ID, DevIdp
from tests.devidp.helpers import fetch

REGISTERED = "http://127.0.0.1:4180/"


def test_registered_post_logout_redirect_with_state(idp: DevIdp) -> None:
    url = f"{idp.endpoint('logout')}?post_logout_redirect_uri={REGISTERED}&state=a%26b"
    reply = fetch(url)
    assert reply.status == 302
    assert reply.location == f"{REGISTERED}?state=a%26b"


def test_post_form_with_client_id(idp: DevIdp) -> None:
    form = {"post_logout_redirect_uri": REGISTERED, "client_id": CLIENT_ID}
    reply = fetch(idp.endpoint("logout"), data=form)
    assert reply.status == 302
    assert reply.location == REGISTERED


def test_unregistered_target_is_not_followed(idp: DevIdp) -> None:
    reply = fetch(f"{idp.endpoint('logout')}?post_logout_redirect_uri=https://evil.example/")
    assert reply.status == 400
    assert "Location" not in reply.headers
    assert "signed out" in reply.text
    assert "evil.example" not in reply.text


def test_without_target_shows_the_signed_out_page(idp: DevIdp) -> None:
    reply = fetch(f"{idp.url}/common/oauth2/v2.0/logout")
    assert reply.status == 200
    assert "You are signed out" in reply.text
