"""Step-up sign-in (``/.portcullis/login?max_age=N``) through real parts.

Portcullis runs as a process; the identity providers are the dev IdP (in-process,
Entra-shaped, its clock settable to play an old sign-in) and panva's oidc-provider
(npm, OpenID Certified), whose own sign-in session shows that ``prompt=login``
really makes it sign the person in again, and that a login whose ``max_age`` was
stripped on the way (no ``auth_time`` in the ID token) mints no session.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from portcullis.devidp import DevIdp
from tests.auth.browser import Browser, Response
from tests.auth.conftest import sign_in_config
from tests.support import signin
from tests.support.oidc_provider import (
    BASIC,
    BrowserError,
    OidcProvider,
    browser_login,
    run_oidc_provider,
)
from tests.support.proxy import Proxy, free_port, run_proxy

REFUSED = b"The identity provider did not confirm a recent sign-in."
STALE_BY = 1000  # seconds the stale dev IdP's clock is behind: its sign-ins are this old


def _login(base: str, **params: str) -> str:
    return f"{base}/.portcullis/login?" + urllib.parse.urlencode({"rd": "/hello", **params})


def _query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def _auth_time(browser: Browser | signin.Browser, base: str) -> int | None:
    info = json.loads(browser.get(base + "/.portcullis/userinfo").body)
    auth_time: int | None = info["auth_time"]
    return auth_time


def _step_up(browser: Browser, base: str, user: str, max_age: str) -> Response:
    start = browser.get(_login(base, max_age=max_age))
    assert start.status == 302, start.body[:300]
    return browser.finish(browser.at_idp(start.location, user))


# the login request ---------------------------------------------------------------------------
def test_max_age_goes_to_the_idp_with_prompt_login(proxy: Proxy, idp: DevIdp) -> None:
    browser = Browser()
    stepped = browser.get(_login(proxy.url, max_age="300"))
    assert stepped.status == 302
    assert stepped.location.startswith(idp.url)
    query = _query(stepped.location)
    assert (query["max_age"], query["prompt"]) == ("300", "login")
    assert query["state"] and query["nonce"] and query["code_challenge"]
    plain = _query(browser.start_login(proxy.url))
    assert "max_age" not in plain and "prompt" not in plain


@pytest.mark.parametrize(
    "value", ["", "-1", "+5", " 5", "1.5", "5s", "0x10", "2592001", "9" * 40, "\u0663"]
)
def test_a_bad_max_age_is_refused_before_anything_is_stored(proxy: Proxy, value: str) -> None:
    browser = Browser()
    resp = browser.get(_login(proxy.url, max_age=value))
    assert resp.status == 400, value
    assert b"max_age" in resp.body
    assert "location" not in resp.headers and not resp.set_cookies


def test_the_largest_max_age_is_accepted(proxy: Proxy) -> None:
    resp = Browser().get(_login(proxy.url, max_age="2592000"))
    assert resp.status == 302
    assert _query(resp.location)["max_age"] == "2592000"


# the callback, with the dev IdP --------------------------------------------------------------
def test_a_fresh_sign_in_satisfies_max_age(proxy: Proxy) -> None:
    browser = Browser()
    started = int(time.time())
    done = _step_up(browser, proxy.url, "alice", "0")
    assert (done.status, done.location) == (302, "/hello"), done.body[:300]
    auth_time = _auth_time(browser, proxy.url)
    assert auth_time is not None and started <= auth_time <= time.time()


@pytest.fixture(scope="module")
def stale_idp(idp: DevIdp) -> Iterator[DevIdp]:
    """The same tenant, client and users as ``idp``, its clock ``STALE_BY`` seconds behind."""
    config = dataclasses.replace(idp.config, port=0)
    with DevIdp(config, clock=lambda: time.time() - STALE_BY) as running:
        yield running


@pytest.fixture(scope="module")
def stale_proxy(
    stale_idp: DevIdp, app: str, spare_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    tmp = tmp_path_factory.mktemp("step-up")
    with run_proxy(sign_in_config(stale_idp, app, spare_port, tmp), tmp) as running:
        yield running


def test_an_old_sign_in_is_refused_and_mints_no_session(stale_proxy: Proxy) -> None:
    browser = Browser()
    refused = _step_up(browser, stale_proxy.url, "alice", "300")
    assert refused.status == 403
    assert REFUSED in refused.body
    assert browser.cookie("portcullis") is None
    assert not [c for c in refused.set_cookies if c.startswith("portcullis=")]
    assert browser.get(stale_proxy.url + "/.portcullis/userinfo").status == 401
    assert "auth_time_stale" in stale_proxy.log()


def test_an_old_sign_in_is_enough_without_or_within_max_age(stale_proxy: Proxy) -> None:
    """The same sign-in passes when the login asks for no age, or for more than its age."""
    plain = Browser()
    assert plain.login(stale_proxy.url, "alice", rd="/hello").status == 302
    within = Browser()
    done = _step_up(within, stale_proxy.url, "alice", str(STALE_BY + 300))
    assert (done.status, done.location) == (302, "/hello"), done.body[:300]
    auth_time = _auth_time(within, stale_proxy.url)
    assert auth_time is not None
    assert STALE_BY - 5 <= time.time() - auth_time <= STALE_BY + 5


# the callback, with oidc-provider (npm) ------------------------------------------------------
@pytest.fixture(scope="module")
def op_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def op(op_port: int) -> Iterator[OidcProvider]:
    with run_oidc_provider(redirect_uris=[signin.callback_url(op_port)]) as running:
        yield running


@pytest.fixture(scope="module")
def op_proxy(
    op: OidcProvider, op_port: int, app: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    tmp = tmp_path_factory.mktemp("step-up-op")
    config = signin.sign_in_config(
        port=op_port, op=op, client_id=BASIC, upstream=app, state_dir=tmp
    )
    with run_proxy(config, tmp) as running:
        yield running


def _signed_in_at_op(proxy: Proxy) -> signin.Browser:
    """A browser with a Portcullis session and a sign-in session at the OP (same jar)."""
    browser = signin.Browser()
    done = signin.sign_in(browser, proxy.url, user="alice", rd="/hello")
    assert (done.status, done.location) == (302, "/hello"), done.body[:300]
    return browser


def _finish(browser: signin.Browser, authorize: str) -> signin.Response:
    landing = browser_login(authorize, jar=browser.jar)
    if landing.method == "POST":
        return browser.post(landing.url, landing.fields)
    return browser.get(landing.url)


def test_step_up_at_a_real_op_signs_in_again_with_a_recent_auth_time(op_proxy: Proxy) -> None:
    browser = _signed_in_at_op(op_proxy)
    assert _auth_time(browser, op_proxy.url) is None  # no max_age asked: the OP sent none
    start = browser.get(_login(op_proxy.url, max_age="600"))
    assert start.status == 302
    # Signed in at the OP moments ago, well within 600 s: only prompt=login makes it ask again.
    with pytest.raises(BrowserError, match="waits for a person"):
        browser_login(start.location, jar=browser.jar)

    started = int(time.time())
    start = browser.get(_login(op_proxy.url, max_age="600"))
    done = _finish(browser, start.location + "&login_hint=alice")
    assert (done.status, done.location) == (302, "/hello"), done.body[:300]
    auth_time = _auth_time(browser, op_proxy.url)
    assert auth_time is not None and started <= auth_time <= time.time()


def test_a_step_up_stripped_of_max_age_on_the_way_mints_no_session(op_proxy: Proxy) -> None:
    """``max_age`` and ``prompt`` cross the browser: only the signed auth_time counts."""
    browser = _signed_in_at_op(op_proxy)
    old_cookie = browser.cookie(signin.SESSION_COOKIE)
    start = browser.get(_login(op_proxy.url, max_age="0"))
    parts = urllib.parse.urlsplit(start.location)
    query = {k: v for k, v in _query(start.location).items() if k not in ("max_age", "prompt")}
    stripped = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    refused = _finish(browser, stripped + "&login_hint=alice")
    assert refused.status == 403
    assert REFUSED in refused.body
    assert not [c for c in refused.set_cookies() if c.startswith(f"{signin.SESSION_COOKIE}=")]
    assert browser.cookie(signin.SESSION_COOKIE) == old_cookie
    assert "auth_time_missing" in op_proxy.log()
