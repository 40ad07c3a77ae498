"""The interactive sign-in page: escaped user names, user buttons, Deny, single-use handles."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from portcullis.devidp import DevIdp, default_config
from portcullis.devidp.model import User
from tests.devidp.helpers import authorize, fetch, jwks_of, redeem, verify_rs256

EVIL_NAME = '<script>alert("x")</script> & "Eve"'
EVIL_OID = "e5e5e5e5-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def page_idp() -> Iterator[DevIdp]:
    base = default_config()
    eve = User(
        username='eve"><b>',
        name=EVIL_NAME,
        oid=EVIL_OID,
        preferred_username="eve@contoso.example",
        roles=("<i>Role</i>",),
    )
    with DevIdp(dataclasses.replace(base, users=(*base.users, eve))) as running:
        yield running


def _page(idp: DevIdp) -> tuple[str, str, str]:
    """(html, form action, request handle) of a fresh sign-in page."""
    login = authorize(idp, None)
    assert login.reply is not None and login.reply.status == 200
    page = login.reply.text
    action = page.split('<form method="post" action="', 1)[1].split('"', 1)[0]
    handle = page.split('name="request" value="', 1)[1].split('"', 1)[0]
    return page, action, handle


def test_sign_in_page_lists_users_escaped(page_idp: DevIdp) -> None:
    login = authorize(page_idp, None)
    reply = login.reply
    assert reply is not None and reply.status == 200
    page = reply.text
    for name in ("Alice Admin", "Bob Builder", "Carol Many-Groups"):
        assert name in page
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;Eve&quot;" in page
    assert 'value="eve&quot;&gt;&lt;b&gt;"' in page
    assert "<i>Role</i>" not in page and "&lt;i&gt;Role&lt;/i&gt;" in page
    assert "script-src 'nonce-" in reply.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]


def test_choosing_a_user_completes_the_flow(page_idp: DevIdp) -> None:
    login = authorize(page_idp, None)
    assert login.reply is not None
    page = login.reply.text
    handle = page.split('name="request" value="', 1)[1].split('"', 1)[0]
    action = page.split('<form method="post" action="', 1)[1].split('"', 1)[0]
    chosen = fetch(page_idp.url + action, data={"request": handle, "user": 'eve"><b>'})
    assert chosen.status == 302
    params = chosen.redirect_params()
    assert params["state"] == login.state
    login.reply = chosen
    token = redeem(page_idp, login)
    assert token.status == 200, token.body
    _, claims = verify_rs256(token.json()["id_token"], jwks_of(page_idp))
    assert claims["oid"] == EVIL_OID
    assert claims["name"] == EVIL_NAME
    assert claims["nonce"] == login.nonce


def test_deny_button_is_access_denied(page_idp: DevIdp) -> None:
    _, action, handle = _page(page_idp)
    reply = fetch(page_idp.url + action, data={"request": handle, "deny": "1"})
    assert reply.status == 302
    assert reply.redirect_params()["error"] == "access_denied"
    assert "code" not in reply.redirect_params()


def test_unknown_user_button_is_access_denied(page_idp: DevIdp) -> None:
    _, action, handle = _page(page_idp)
    reply = fetch(page_idp.url + action, data={"request": handle, "user": "mallory"})
    assert reply.redirect_params()["error"] == "access_denied"


def test_a_sign_in_handle_is_single_use(page_idp: DevIdp) -> None:
    _, action, handle = _page(page_idp)
    assert fetch(page_idp.url + action, data={"request": handle, "user": "bob"}).status == 302
    again = fetch(page_idp.url + action, data={"request": handle, "user": "alice"})
    assert again.status == 400
    assert "Location" not in again.headers
    forged = fetch(page_idp.url + action, data={"request": "forged", "user": "alice"})
    assert forged.status == 400
