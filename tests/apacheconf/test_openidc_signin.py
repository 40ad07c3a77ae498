"""``apache-config --mode openidc`` really signs people in: Debian's mod_auth_openidc, the
generated file included verbatim, the npm oidc-provider as the identity provider.

The Portcullis configuration is the one the sign-in e2e tests use (``/admin`` needs
``Portal.Admin``, ``/public`` is public, the rest needs any signed-in user), with Apache's
origin as ``external_url``: the generated redirect URI is Apache's
``/.portcullis/callback``. Secrets reach Apache through its environment only.
"""

from __future__ import annotations

import os
import secrets
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portcullis.apacheconf import generate
from portcullis.config.schema import Config
from tests.support import mod_auth_openidc
from tests.support.apache import Apache, run_apache
from tests.support.oidc_provider import (
    BASIC,
    OidcProvider,
    browser_login,
    run_oidc_provider,
    setup_problem,
)
from tests.support.signin import Browser, free_ports, sign_in_config

pytestmark = pytest.mark.apache

ADMIN = "/admin/echo.cgi"


@pytest.fixture(scope="module")
def apache_port() -> int:
    (port,) = free_ports(1)
    return port


@pytest.fixture(scope="module")
def provider(apache_port: int) -> Iterator[OidcProvider]:
    problem = setup_problem()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    redirect = f"http://127.0.0.1:{apache_port}/.portcullis/callback"
    with run_oidc_provider(redirect_uris=[redirect]) as running:
        yield running


@pytest.fixture(scope="module")
def generated(apache_port: int, provider: OidcProvider, tmp_path_factory: Any) -> str:
    config = sign_in_config(
        port=4180,
        op=provider,
        client_id=BASIC,
        upstream="http://127.0.0.1:9",
        state_dir=tmp_path_factory.mktemp("openidc"),
    )
    config["auth"]["external_url"] = f"http://127.0.0.1:{apache_port}"
    return generate(Config.model_validate(config), "openidc")


@pytest.fixture(scope="module")
def apache(apache_port: int, provider: OidcProvider, generated: str) -> Iterator[Apache]:
    secret = provider.clients[BASIC].client_secret
    assert secret is not None and secret not in generated
    saved = {
        k: os.environ.get(k) for k in ("PORTCULLIS_CLIENT_SECRET", "PORTCULLIS_OIDC_PASSPHRASE")
    }
    os.environ["PORTCULLIS_CLIENT_SECRET"] = secret
    os.environ["PORTCULLIS_OIDC_PASSPHRASE"] = secrets.token_urlsafe(32)

    def extra(root: Path) -> str:
        aliases = "".join(f'ScriptAlias {p} "{root}/cgi-bin/"\n' for p in ("/admin/", "/public/"))
        return aliases + generated

    try:
        with run_apache(
            large_size=1 << 16,
            port=apache_port,
            modules=mod_auth_openidc.MODULES,
            extra_config=extra,
        ) as server:
            yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def signed_in(apache: Apache, user: str, path: str) -> tuple[Browser, Any]:
    """Open ``path`` as a browser, sign in as ``user`` at the OP; the final response."""
    browser = Browser()
    url = apache.url + path
    first = browser.get(url, accept="text/html")
    assert first.status == 302, (first.status, first.body[:300])
    landing = browser_login(
        first.location + "&" + urllib.parse.urlencode({"login_hint": user}), jar=browser.jar
    )
    assert landing.url.startswith(f"{apache.url}/.portcullis/callback"), landing.url
    back = browser.get(landing.url)
    assert back.status == 302, (back.status, back.body[:300], apache.error_log_text()[-2000:])
    assert back.location in (url, path)
    return browser, browser.get(url)


def test_a_person_with_the_role_signs_in_and_reaches_admin(
    apache: Apache, provider: OidcProvider
) -> None:
    _, response = signed_in(apache, "alice", ADMIN)
    assert response.status == 200, response.body[:300]
    echo = response.json()
    assert echo["remote_user"] == "alice"
    assert echo["auth_type"] == "openid-connect"


def test_a_person_without_the_role_is_refused_admin_but_not_the_rest(apache: Apache) -> None:
    browser, response = signed_in(apache, "bob", "/cgi-bin/echo.cgi")
    assert response.status == 200
    assert response.json()["remote_user"] == "bob"
    assert browser.get(apache.url + ADMIN).status in (401, 403)


def test_public_route_needs_no_sign_in(apache: Apache) -> None:
    response = Browser().get(apache.url + "/public/echo.cgi")
    assert response.status == 200
    assert response.json()["remote_user"] is None


def test_anonymous_browser_is_sent_to_the_provider(apache: Apache, provider: OidcProvider) -> None:
    response = Browser().get(apache.url + ADMIN, accept="text/html")
    assert response.status == 302
    assert response.location.startswith(provider.authorization_endpoint)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(response.location).query)
    assert query["redirect_uri"] == [f"{apache.url}/.portcullis/callback"]
    assert query["code_challenge_method"] == ["S256"]
