"""``apache-config --mode authorizer`` with a real Apache asking a real Portcullis.

Apache includes the generated file verbatim; Portcullis answers mod_authnz_fcgi on
``authorizer.listen`` and serves sign-in behind Apache's ``ProxyPass /.portcullis/``.
A person signs in at the npm oidc-provider through Apache; the application (Apache's
echo CGI) then sees ``REMOTE_USER`` and the identity headers, and nothing a client sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portcullis.apacheconf import generate
from portcullis.config.schema import Config
from tests.support.apache import Apache, run_apache
from tests.support.oidc_provider import BASIC, OidcProvider, run_oidc_provider, setup_problem
from tests.support.proxy import Proxy, run_proxy
from tests.support.signin import Browser, callback_url, free_ports, sign_in, sign_in_config

pytestmark = pytest.mark.apache

ADMIN = "/admin/echo.cgi"
MODULES = ("authn_core", "authz_user", "authnz_fcgi", "proxy", "proxy_http")


@pytest.fixture(scope="module")
def ports() -> tuple[int, int, int]:
    """(Apache, Portcullis, the FastCGI authorizer)."""
    apache_port, portcullis_port, authorizer_port = free_ports(3)
    return apache_port, portcullis_port, authorizer_port


@pytest.fixture(scope="module")
def provider(ports: tuple[int, int, int]) -> Iterator[OidcProvider]:
    problem = setup_problem()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    with run_oidc_provider(redirect_uris=[callback_url(ports[0])]) as running:
        yield running


@pytest.fixture(scope="module")
def config(
    ports: tuple[int, int, int], provider: OidcProvider, tmp_path_factory: Any
) -> dict[str, Any]:
    apache_port, portcullis_port, authorizer_port = ports
    config = sign_in_config(
        port=portcullis_port,
        op=provider,
        client_id=BASIC,
        upstream=f"http://127.0.0.1:{apache_port}",
        state_dir=tmp_path_factory.mktemp("authorizer"),
    )
    config["listen"]["trusted_proxies"] = ["127.0.0.1/32"]
    config["authorizer"] = {"listen": f"127.0.0.1:{authorizer_port}"}
    config["auth"]["external_url"] = f"http://127.0.0.1:{apache_port}"
    return config


@pytest.fixture(scope="module")
def portcullis(config: dict[str, Any], tmp_path_factory: Any) -> Iterator[Proxy]:
    with run_proxy(
        config, tmp_path_factory.mktemp("authorizer-proxy"), args=("--workers", "1")
    ) as p:
        yield p


@pytest.fixture(scope="module")
def apache(
    ports: tuple[int, int, int], config: dict[str, Any], portcullis: Proxy
) -> Iterator[Apache]:
    generated = generate(Config.model_validate(config), "authorizer")

    def extra(root: Path) -> str:
        aliases = "".join(f'ScriptAlias {p} "{root}/cgi-bin/"\n' for p in ("/admin/", "/public/"))
        return aliases + generated

    with run_apache(
        large_size=1 << 16, port=ports[0], modules=MODULES, extra_config=extra
    ) as server:
        yield server


def signed_in(apache: Apache, user: str) -> Browser:
    browser = Browser()
    done = sign_in(browser, apache.url, user=user, rd=ADMIN)
    assert (done.status, done.location) == (302, ADMIN), done.body[:300]
    return browser


def test_anonymous_browser_is_sent_to_sign_in(apache: Apache) -> None:
    response = Browser().get(apache.url + ADMIN, accept="text/html")
    assert response.status == 302
    assert response.location.endswith("/.portcullis/login?rd=%2Fadmin%2Fecho.cgi")


def test_signed_in_person_reaches_the_application_with_identity(
    apache: Apache, provider: OidcProvider
) -> None:
    spoof = {"x_portcullis_roles": "Spoofed"}
    response = signed_in(apache, "alice").get(apache.url + ADMIN, **spoof)
    assert response.status == 200, (response.status, apache.error_log_text()[-2000:])
    echo = response.json()
    assert "alice" in echo["remote_user"]
    assert echo["headers"]["x-portcullis-user"] == echo["remote_user"]
    assert echo["headers"]["x-portcullis-roles"] == "Portal.Admin"
    assert "portcullis" not in echo["headers"].get("cookie", "")  # not Portcullis' cookies


def test_role_missing_is_refused_and_public_needs_nobody(apache: Apache) -> None:
    browser = signed_in(apache, "bob")
    assert browser.get(apache.url + ADMIN).status == 403
    assert browser.get(apache.url + "/cgi-bin/echo.cgi").status == 200
    public = Browser().get(apache.url + "/public/echo.cgi", x_portcullis_user="mallory")
    assert public.status == 200
    assert "x-portcullis-user" not in public.json()["headers"]
