"""Forward-auth through a real nginx (``auth_request``) in front of a real Apache upstream.

Browser → nginx → (subrequest ``/.portcullis/auth`` → Portcullis) → Apache's echo CGI.
nginx is configured as docs/apache.md says: ``X-Original-URL``/``X-Original-Method`` on
the subrequest, ``auth_request_set`` + ``proxy_set_header`` for every identity header,
``error_page 401`` redirecting to the URL Portcullis names in ``X-Portcullis-Login``.
Sign-in is real: the npm oidc-provider, Portcullis' login and callback (proxied by nginx).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from portcullis.config.auth_schema import IdentityHeaders
from tests.support.apache import Apache, run_apache
from tests.support.audit import wait_for_records
from tests.support.nginx import NGINX, Nginx, run_nginx
from tests.support.oidc_provider import BASIC, OidcProvider, run_oidc_provider, setup_problem
from tests.support.proxy import Proxy, run_proxy
from tests.support.signin import Browser, callback_url, free_ports, sign_in, sign_in_config

pytestmark = pytest.mark.apache

ECHO = "/admin/echo.cgi"
IDENTITY_FIELDS = tuple(IdentityHeaders().model_dump().items())


def nginx_http(root: Path, port: int, portcullis: int, upstream: int) -> str:
    """The ``http`` block of docs/apache.md's nginx configuration, on loopback ports."""
    sets = "\n".join(
        f"      auth_request_set $pc_{field} $upstream_http_{header.lower().replace('-', '_')};\n"
        f"      proxy_set_header {header} $pc_{field};"
        for field, header in IDENTITY_FIELDS
    )
    return f"""\
  access_log {root}/access.log;
  upstream portcullis {{ server 127.0.0.1:{portcullis}; }}
  upstream app {{ server 127.0.0.1:{upstream}; }}
  server {{
    listen 127.0.0.1:{port};
    location = /.portcullis/auth {{
      internal;
      proxy_pass http://portcullis;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-Uri "";
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
    location ^~ /.portcullis/auth/ {{ return 404; }}
    location /.portcullis/ {{
      proxy_pass http://portcullis;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
    location @portcullis_login {{
      if ($pc_login) {{ return 302 $pc_login; }}
      return 401;
    }}
    location / {{
      auth_request /.portcullis/auth;
      auth_request_set $pc_login $upstream_http_x_portcullis_login;
      error_page 401 = @portcullis_login;
{sets}
      proxy_pass http://app;
    }}
  }}
"""


# fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ports() -> tuple[int, int]:
    """(nginx, Portcullis)."""
    nginx_port, portcullis_port = free_ports(2)
    return nginx_port, portcullis_port


@pytest.fixture(scope="module")
def provider(ports: tuple[int, int]) -> Iterator[OidcProvider]:
    problem = setup_problem()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    with run_oidc_provider(redirect_uris=[callback_url(ports[0])]) as running:
        yield running


@pytest.fixture(scope="module")
def upstream() -> Iterator[Apache]:
    def config(root: Path) -> str:
        return "".join(f'ScriptAlias {p} "{root}/cgi-bin/"\n' for p in ("/admin/", "/public/"))

    with run_apache(large_size=1 << 16, extra_config=config) as server:
        yield server


@pytest.fixture(scope="module")
def portcullis(
    ports: tuple[int, int],
    provider: OidcProvider,
    upstream: Apache,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proxy]:
    nginx_port, portcullis_port = ports
    tmp = tmp_path_factory.mktemp("forward-auth")
    config: dict[str, Any] = sign_in_config(
        port=portcullis_port, op=provider, client_id=BASIC, upstream=upstream.url, state_dir=tmp
    )
    config["listen"]["trusted_proxies"] = ["127.0.0.1/32"]
    config["auth"]["external_url"] = f"http://127.0.0.1:{nginx_port}"
    config["audit"] = {"sqlite": {"path": str(tmp / "audit.db")}, "flush_interval": 0.05}
    with run_proxy(config, tmp, args=("--workers", "1")) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def nginx(ports: tuple[int, int], portcullis: Proxy, upstream: Apache) -> Iterator[Nginx]:
    if not NGINX.exists():
        pytest.fail(f"{NGINX} is missing: install Debian's nginx (scripts/system-deps.sh)")
    http = partial(nginx_http, port=ports[0], portcullis=ports[1], upstream=upstream.port)
    with run_nginx(ports[0], http) as server:
        yield server


def signed_in(nginx: Nginx, user: str) -> Browser:
    browser = Browser()
    done = sign_in(browser, nginx.url, user=user, rd=ECHO)
    assert (done.status, done.location) == (302, ECHO), done.body[:300]
    return browser


def echoed_headers(browser: Browser, url: str, **headers: str) -> dict[str, str]:
    response = browser.get(url, **headers)
    assert response.status == 200, (response.status, response.body[:300])
    found: dict[str, str] = response.json()["headers"]
    return found


# tests -----------------------------------------------------------------------------------------
def test_anonymous_browser_is_sent_to_sign_in_with_the_original_url(nginx: Nginx) -> None:
    response = Browser().get(f"{nginx.url}{ECHO}?a=1&b=two%20words", accept="text/html")
    assert response.status == 302, response.body[:300]
    location = urllib.parse.urlsplit(response.location)
    assert location.path == "/.portcullis/login"
    rd = urllib.parse.parse_qs(location.query)["rd"]
    assert rd == [f"{ECHO}?a=1&b=two%20words"]


def test_anonymous_api_client_gets_401(nginx: Nginx) -> None:
    response = Browser().get(f"{nginx.url}{ECHO}", accept="application/json")
    assert response.status == 401
    assert not response.location


def test_signed_in_with_role_reaches_the_upstream_with_identity_headers(
    nginx: Nginx, provider: OidcProvider
) -> None:
    browser = signed_in(nginx, "alice")
    headers = echoed_headers(browser, f"{nginx.url}{ECHO}")
    assert "alice" in headers["x-portcullis-user"]
    assert headers["x-portcullis-roles"] == "Portal.Admin"
    assert headers["x-portcullis-kind"] == "user"
    assert headers["x-portcullis-assertion"].count(".") == 2


def test_role_missing_is_403(nginx: Nginx) -> None:
    browser = signed_in(nginx, "bob")
    assert browser.get(f"{nginx.url}{ECHO}").status == 403
    assert browser.get(f"{nginx.url}/public/echo.cgi").status == 200


def test_client_spoofed_identity_headers_never_reach_the_upstream(nginx: Nginx) -> None:
    spoof = {"x_portcullis_user": "admin", "x_portcullis_roles": "Portal.Admin"}
    anonymous = echoed_headers(Browser(), f"{nginx.url}/public/echo.cgi", **spoof)
    assert "x-portcullis-user" not in anonymous
    assert "x-portcullis-roles" not in anonymous
    bob = echoed_headers(signed_in(nginx, "bob"), f"{nginx.url}/cgi-bin/echo.cgi", **spoof)
    assert "bob" in bob["x-portcullis-user"]
    assert bob.get("x-portcullis-roles", "") == ""
    assert Browser().get(f"{nginx.url}{ECHO}", **spoof).status == 302


def test_the_auth_endpoint_is_not_reachable_from_outside(nginx: Nginx) -> None:
    assert Browser().get(f"{nginx.url}/.portcullis/auth").status == 404
    assert Browser().get(f"{nginx.url}/.portcullis/auth/envoy{ECHO}").status == 404


def test_forward_auth_headers_are_never_forwarded_upstream(portcullis: Proxy) -> None:
    """From a trusted proxy, X-Forwarded-Uri & co. describe a check; on a proxied request
    they are dropped like any forwarding header."""
    spoof = {
        "x_forwarded_uri": "/admin",
        "x_original_url": "http://127.0.0.1/admin",
        "x_original_method": "GET",
        "x_forwarded_method": "GET",
    }
    headers = echoed_headers(Browser(), f"{portcullis.url}/public/echo.cgi", **spoof)
    for name in ("x-forwarded-uri", "x-original-url", "x-original-method", "x-forwarded-method"):
        assert name not in headers


def test_every_forward_auth_decision_is_audited(nginx: Nginx, portcullis: Proxy) -> None:
    """The record is of the original request (method, path, the client nginx named), with
    the answer Portcullis gave nginx."""
    signed_in(nginx, "alice").get(f"{nginx.url}{ECHO}?n=allowed")
    signed_in(nginx, "bob").request("DELETE", f"{nginx.url}{ECHO}")
    denied = wait_for_records(portcullis.config_path, "--event", "deny", "--kind", "user")
    bob = [r for r in denied if r["method"] == "DELETE"]
    assert bob and bob[-1]["path"] == ECHO and bob[-1]["status"] == 403
    assert bob[-1]["source_ip"] == "127.0.0.1" and bob[-1]["reason"] == "forbidden"
    allowed = wait_for_records(portcullis.config_path, "--event", "allow", "--kind", "user")
    assert any(r["path"] == ECHO and r["status"] == 200 for r in allowed)
    assert not any("/.portcullis/auth" in r.get("path", "") for r in allowed + denied)
