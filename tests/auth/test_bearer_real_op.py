"""Bearer tokens end to end with real parts: oidc-provider (npm) issues RFC 9068 JWT access
tokens by client credentials with a resource indicator; Portcullis validates them; real
Apache httpd is the upstream."""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from tests.support.apache import Apache, run_apache
from tests.support.oidc_provider import BOT, RESOURCE, OidcProvider, run_oidc_provider
from tests.support.proxy import Proxy, free_port, run_proxy

pytestmark = pytest.mark.apache


@pytest.fixture(scope="module")
def op() -> Iterator[OidcProvider]:
    with run_oidc_provider(redirect_uris=["http://127.0.0.1:1/.portcullis/callback"]) as running:
        yield running


@pytest.fixture(scope="module")
def apache() -> Iterator[Apache]:
    fields = {"user": "%{X-Portcullis-User}i", "kind": "%{X-Portcullis-Kind}i"}
    with run_apache(large_size=1024, log_fields=fields) as running:
        yield running


@pytest.fixture(scope="module")
def proxy(
    op: OidcProvider, apache: Apache, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    tmp = tmp_path_factory.mktemp("bearer")
    port = free_port()
    signin = op.clients["portcullis-basic"]
    config = {
        "listen": {"port": port},
        "routes": [
            {
                "path": "/cgi-bin/echo.cgi/reports",
                "upstream": apache.url,
                "accept": ["bearer"],
                "api": "reports",
                "allow": {"app_roles": ["Reports.Read"]},
            },
            {
                "path": "/cgi-bin/echo.cgi/writes",
                "upstream": apache.url,
                "accept": ["bearer"],
                "api": "reports",
                "allow": {"app_roles": ["Reports.Write"]},
            },
            {
                "path": "/cgi-bin/echo.cgi/people",
                "upstream": apache.url,
                "accept": ["bearer"],
                "api": "reports",
                "allow": {"kinds": ["user", "obo"]},
            },
            {
                "path": "/cgi-bin",
                "upstream": apache.url,
                "accept": ["session", "bearer"],
                "api": "reports",
            },
        ],
        "auth": {
            "external_url": f"http://127.0.0.1:{port}",
            "providers": [
                {
                    "name": "op",
                    "type": "oidc",
                    "issuer": op.issuer,
                    "client_id": signin.client_id,
                    "client_secret": [{"value": signin.client_secret}],
                }
            ],
            "apis": [{"name": "reports", "provider": "op", "audiences": [RESOURCE]}],
            "session": {
                "keys": [{"value": "bearer-test-session-key-0123456789abcdef"}],
                "store": "memory",
            },
        },
    }
    with run_proxy(config, tmp) as running:
        yield running


def _bot_token(op: OidcProvider, resource: str = RESOURCE) -> str:
    bot = op.clients[BOT]
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "resource": resource, "scope": "reports.read"}
    ).encode()
    basic = base64.b64encode(f"{BOT}:{bot.client_secret}".encode()).decode()
    request = urllib.request.Request(
        op.token_endpoint, data=form, headers={"Authorization": f"Basic {basic}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["access_token"])


def _call(proxy: Proxy, path: str, token: str | None, **headers: str) -> tuple[int, dict, str]:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(proxy.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read().decode()


def test_the_bot_reaches_apache_as_an_app_with_its_role(proxy: Proxy, op: OidcProvider) -> None:
    token = _bot_token(op)
    status, _, body = _call(proxy, "/cgi-bin/echo.cgi/reports", token, X_Portcullis_Kind="user")
    assert status == 200, body
    seen = json.loads(body)["headers"]
    assert seen["x-portcullis-kind"] == "app"
    assert seen["x-portcullis-client"] == BOT
    assert seen["x-portcullis-roles"] == "Reports.Read"
    assert seen["x-portcullis-user"] == f"{op.issuer}#{BOT}"
    # Twice: the second one comes from the token cache and must behave the same.
    assert _call(proxy, "/cgi-bin/echo.cgi/reports", token)[0] == 200


def test_the_bot_is_refused_where_its_role_or_kind_does_not_fit(
    proxy: Proxy, op: OidcProvider
) -> None:
    token = _bot_token(op)
    status, headers, body = _call(proxy, "/cgi-bin/echo.cgi/writes", token)
    assert status == 403
    assert headers["WWW-Authenticate"].startswith(
        'Bearer realm="portcullis", error="insufficient_scope"'
    )
    assert json.loads(body)["error"] == "insufficient_scope"
    assert token not in body and token not in json.dumps(headers)
    assert _call(proxy, "/cgi-bin/echo.cgi/people", token)[0] == 403


def test_missing_forged_and_foreign_tokens_get_rfc6750_errors(
    proxy: Proxy, op: OidcProvider
) -> None:
    status, headers, body = _call(proxy, "/cgi-bin/echo.cgi/reports", None)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="portcullis"'
    token = _bot_token(op)
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["Reports.Read", "Reports.Write"]
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for forged in (f"{head}.{forged_payload}.{signature}", "not-a-jwt", token + "x"):
        status, headers, body = _call(proxy, "/cgi-bin/echo.cgi/writes", forged)
        assert status == 401, forged
        assert 'error="invalid_token"' in headers["WWW-Authenticate"]
        assert forged not in body
    assert "Traceback" not in proxy.log()


def test_a_route_accepting_both_still_sends_browsers_to_sign_in(proxy: Proxy) -> None:
    request = urllib.request.Request(proxy.url + "/cgi-bin/echo.cgi")
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as err:
        opener.open(request, timeout=10)
    with err.value:
        assert err.value.code == 302
        assert err.value.headers["Location"].startswith("/.portcullis/login?rd=")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_apache_log_names_the_bot(proxy: Proxy, op: OidcProvider, apache: Apache) -> None:
    token = _bot_token(op)
    status, headers, _ = _call(proxy, "/cgi-bin/echo.cgi/reports", token)
    assert status == 200
    entry = apache.wait_for_entry("request_id", headers["X-Request-Id"])
    assert entry["user"] == f"{op.issuer}#{BOT}"
    assert entry["kind"] == "app"
