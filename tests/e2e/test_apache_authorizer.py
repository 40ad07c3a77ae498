"""Apache at the edge, Portcullis as its authorizer: mod_authnz_fcgi → FastCGI → the gate.

Real parts only: the browser talks to Apache httpd; Apache asks Portcullis (a real process,
two workers sharing the FastCGI port) about every request under ``/`` except
``/.portcullis/``, which Apache proxies to Portcullis for sign-in; the OpenID Provider is
npm's oidc-provider. The application is a CGI script run by Apache that reports what it
was given: ``REMOTE_USER``, the ``PORTCULLIS_*`` environment and the request headers.
Apache's access log records ``%u`` and the identity headers as Apache finally saw them.

The Apache configuration is the one docs/apache.md recommends
(:func:`tests.fastcgi.apache_config.authorizer_config`).
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.fastcgi.apache_config import MODULES, authorizer_config
from tests.support.apache import Apache, run_apache
from tests.support.audit import wait_for_records
from tests.support.oidc_provider import BASIC, BOT, RESOURCE, OidcProvider, run_oidc_provider
from tests.support.proxy import Proxy, run_proxy, wait_for_port
from tests.support.signin import (
    SESSION_COOKIE,
    Browser,
    callback_url,
    free_ports,
    sign_in,
    sign_in_config,
)

pytestmark = pytest.mark.apache

APP = "/app/identity.cgi"
ADMIN = "/admin/identity.cgi"
PUBLIC = "/public/identity.cgi"
API = "/api/identity.cgi"
LOG_FIELDS = {
    "user": "%u",
    "h_user": "%{X-Portcullis-User}i",
    "h_roles": "%{X-Portcullis-Roles}i",
    "h_user_underscore": "%{X_Portcullis_User}i",  # what a proxied backend would get
    "cookie": "%{Cookie}i",
}

IDENTITY_CGI = """#!/usr/bin/python3
import json, os
env = os.environ
body = json.dumps({
    "remote_user": env.get("REMOTE_USER"),
    "portcullis": {k: v for k, v in env.items() if k.startswith("PORTCULLIS_")},
    "http": {k: v for k, v in env.items() if k.startswith("HTTP_")},
    "query": env.get("QUERY_STRING", ""),
})
print("Content-Type: application/json\\r\\n\\r\\n" + body, end="")
"""


@dataclass(frozen=True)
class Ports:
    apache: int
    portcullis: int
    fastcgi: int


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ports() -> Ports:
    return Ports(*free_ports(3))


@pytest.fixture(scope="module")
def op(ports: Ports) -> Iterator[OidcProvider]:
    """The OP, redirecting back to Apache (the only origin the browser knows)."""
    with run_oidc_provider(redirect_uris=[callback_url(ports.apache)]) as provider:
        yield provider


@pytest.fixture(scope="module")
def apache(ports: Ports) -> Iterator[Apache]:
    def config(root: Path) -> str:
        cgi = root / "cgi-bin" / "identity.cgi"
        cgi.write_text(IDENTITY_CGI)
        cgi.chmod(0o755)
        aliases = "".join(
            f'ScriptAlias /{prefix}/ "{root}/cgi-bin/"\n'
            for prefix in ("app", "admin", "public", "api")
        )
        return aliases + authorizer_config(
            fastcgi=f"127.0.0.1:{ports.fastcgi}",
            portcullis=f"127.0.0.1:{ports.portcullis}",
            public=["/public/"],
        )

    with run_apache(
        large_size=1 << 16,
        port=ports.apache,
        modules=MODULES,
        extra_config=config,
        log_fields=LOG_FIELDS,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def portcullis(
    ports: Ports, op: OidcProvider, apache: Apache, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """Portcullis (2 workers): external URL = Apache's, FastCGI authorizer on its own port."""
    tmp = tmp_path_factory.mktemp("authorizer")
    config = sign_in_config(
        port=ports.apache, op=op, client_id=BASIC, upstream=apache.url, state_dir=tmp
    )
    config["listen"] = {"port": ports.portcullis}
    config["authorizer"] = {"listen": f"127.0.0.1:{ports.fastcgi}"}
    config["routes"] = [
        {"path": "/admin", "upstream": apache.url, "allow": {"roles": ["Portal.Admin"]}},
        {"path": "/public", "upstream": apache.url, "public": True},
        {
            "path": "/api",
            "upstream": apache.url,
            "accept": ["bearer"],
            "api": "reports",
            "allow": {"app_roles": ["Reports.Read"]},
        },
        {"path": "/", "upstream": apache.url},
    ]
    config["auth"]["apis"] = [{"name": "reports", "provider": "default", "audiences": [RESOURCE]}]
    config["audit"] = {"sqlite": {"path": str(tmp / "audit.db")}, "flush_interval": 0.05}
    with run_proxy(config, tmp, args=("--workers", "2")) as proxy:
        wait_for_port(ports.fastcgi)
        yield proxy


def signed_in(apache: Apache, user: str) -> Browser:
    browser = Browser()
    done = sign_in(browser, apache.url, user=user, rd=APP)
    assert (done.status, done.location) == (302, APP), done.body[:300]
    return browser


@pytest.fixture(scope="module")
def alice(portcullis: Proxy, apache: Apache) -> Browser:
    return signed_in(apache, "alice")


@pytest.fixture(scope="module")
def bob(portcullis: Proxy, apache: Apache) -> Browser:
    return signed_in(apache, "bob")


# helpers -------------------------------------------------------------------------------------
def seen_by_app(browser: Browser, url: str, **headers: str) -> dict[str, Any]:
    response = browser.request("GET", url, headers=headers)
    assert response.status == 200, (response.status, response.body[:300])
    assert response.headers["X-Upstream"] == "apache"
    seen: dict[str, Any] = response.json()
    return seen


def log_entry(
    apache: Apache, marker: str, timeout: float = 5.0, status: str | None = None
) -> dict[str, str]:
    """The first access-log line for a request with ``marker`` in its target (and
    ``status``), waiting for Apache to write it (it logs after the response went out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in apache.access_entries():
            if marker in entry.get("target", "") and status in (None, entry.get("status")):
                return entry
        time.sleep(0.05)
    raise AssertionError(f"no access-log line for {marker!r} (status {status})")


def alice_key(op: OidcProvider) -> str:
    return f"{op.issuer}#alice"


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verified_claims(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The assertion's claims after an ES256 check against Portcullis' JWKS."""
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header["alg"] == "ES256"
    [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    key = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64url_decode(jwk["x"])),
        int.from_bytes(b64url_decode(jwk["y"])),
        ec.SECP256R1(),
    ).public_key()
    raw = b64url_decode(signature_b64)
    signature = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    key.verify(signature, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    claims: dict[str, Any] = json.loads(b64url_decode(claims_b64))
    return claims


def bot_token(op: OidcProvider) -> str:
    bot = op.clients[BOT]
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "resource": RESOURCE, "scope": "reports.read"}
    ).encode()
    basic = base64.b64encode(f"{BOT}:{bot.client_secret}".encode()).decode()
    request = urllib.request.Request(
        op.token_endpoint, data=form, headers={"Authorization": f"Basic {basic}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["access_token"])


# the flows -----------------------------------------------------------------------------------
def test_an_anonymous_browser_is_sent_to_sign_in_and_comes_back_as_itself(
    portcullis: Proxy, apache: Apache, op: OidcProvider
) -> None:
    browser = Browser()
    marker = secrets.token_hex(8)
    first = browser.get(f"{apache.url}{APP}?{marker}", accept="text/html")
    assert first.status == 302
    assert first.location == f"/.portcullis/login?rd=%2Fapp%2Fidentity.cgi%3F{marker}"
    entry = log_entry(apache, marker)
    assert (entry["status"], entry["user"]) == ("302", "-")

    done = sign_in(browser, apache.url, user="alice", rd=f"{APP}?{marker}")
    assert (done.status, done.location) == (302, f"{APP}?{marker}")
    seen = seen_by_app(browser, apache.url + done.location)
    assert seen["query"] == marker
    assert seen["remote_user"] == alice_key(op)
    identity = seen["portcullis"]
    assert identity["PORTCULLIS_USER"] == alice_key(op)
    assert identity["PORTCULLIS_KIND"] == "user"
    assert identity["PORTCULLIS_EMAIL"] == "alice@example.test"
    assert identity["PORTCULLIS_NAME"] == "Alice Admin"
    assert identity["PORTCULLIS_ROLES"] == "Portal.Admin"
    assert identity["PORTCULLIS_GROUPS"].split(",") == op.users["alice"]["groups"]
    # Apache's own log names the user Portcullis signed in
    assert log_entry(apache, marker, status="200")["user"] == alice_key(op)


def test_api_clients_that_are_not_signed_in_get_401_with_the_login_url(
    portcullis: Proxy, apache: Apache
) -> None:
    marker = secrets.token_hex(8)
    response = Browser().get(f"{apache.url}{APP}?{marker}", accept="application/json")
    assert response.status == 401
    payload = response.json()  # Apache labels it text/html; the body is inert JSON all the same
    assert payload["login_url"] == f"/.portcullis/login?rd=%2Fapp%2Fidentity.cgi%3F{marker}"
    assert log_entry(apache, marker)["status"] == "401"


def test_the_assertion_verifies_with_portcullis_keys(
    alice: Browser, apache: Apache, op: OidcProvider
) -> None:
    assertion = seen_by_app(alice, apache.url + APP)["portcullis"]["PORTCULLIS_ASSERTION"]
    jwks = Browser().get(apache.url + "/.portcullis/jwks.json").json()
    claims = verified_claims(assertion, jwks)
    assert claims["sub"] == alice_key(op)
    assert claims["iss"] == apache.url  # Portcullis' external URL: Apache's
    assert claims["aud"] == apache.url  # the route's upstream
    assert claims["iat"] <= time.time() + 5 < claims["exp"]


def test_a_user_without_the_role_gets_403_and_the_app_never_runs(
    bob: Browser, apache: Apache, op: OidcProvider, portcullis: Proxy
) -> None:
    marker = secrets.token_hex(8)
    denied = bob.get(f"{apache.url}{ADMIN}?{marker}", accept="text/html")
    assert denied.status == 403
    assert b"Portal.Admin" in denied.body
    assert b"remote_user" not in denied.body
    entry = log_entry(apache, marker)
    assert (entry["status"], entry["user"]) == ("403", "-")
    # The authorizer's decision is audited, with the answer it gave Apache.
    bob_id = f"{op.issuer}#bob"
    found = wait_for_records(portcullis.config_path, "--event", "deny", "--identity", bob_id)
    assert any(r["path"] == ADMIN and r["status"] == 403 for r in found), found
    # bob may use what needs no role, as himself and with no roles to show
    seen = seen_by_app(bob, apache.url + APP)
    assert seen["remote_user"] == f"{op.issuer}#bob"
    assert seen["portcullis"]["PORTCULLIS_ROLES"] == ""


@pytest.mark.parametrize(
    "path",
    [
        "/app/../admin/identity.cgi",
        "/app/%2e%2e/admin/identity.cgi",
        "/public/../admin/identity.cgi",
        "//admin//identity.cgi",
        "/%61dmin/identity.cgi",
        "/app/./../admin/./identity.cgi?x=/app/",
    ],
)
def test_the_path_decided_is_the_path_apache_serves(
    bob: Browser, apache: Apache, path: str
) -> None:
    """Other spellings of /admin/ are decided as /admin/ (403 for bob), never as the route
    they seem to be under: Portcullis normalizes REQUEST_URI as Apache maps it."""
    connection = http.client.HTTPConnection("127.0.0.1", apache.port, timeout=10)
    try:
        connection.request(
            "GET",
            path,  # sent as is: no client-side normalization
            headers={
                "Cookie": f"{SESSION_COOKIE}={bob.cookie(SESSION_COOKIE)}",
                "Accept": "text/html",
            },
        )
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 403, (path, response.status)
    assert b"remote_user" not in body


def test_alice_reaches_admin(alice: Browser, apache: Apache, op: OidcProvider) -> None:
    seen = seen_by_app(alice, apache.url + ADMIN)
    assert seen["remote_user"] == alice_key(op)


def test_spoofed_identity_never_reaches_the_app(
    alice: Browser, apache: Apache, op: OidcProvider
) -> None:
    spoofed = {
        "X-Portcullis-User": "mallory",
        "x-portcullis-roles": "Portal.Admin,Root",
        "X_Portcullis_User": "mallory",
        "X-Portcullis-Email": "mallory@evil.test",
        "X-Portcullis-Assertion": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.",
        "Portcullis-User": "mallory",
        "Remote-User": "mallory",
        "Variable-PORTCULLIS_USER": "mallory",
    }
    marker = secrets.token_hex(8)
    seen = seen_by_app(alice, f"{apache.url}{APP}?{marker}", **spoofed)
    identity = {
        "remote_user": seen["remote_user"],
        **seen["portcullis"],
        **{k: v for k, v in seen["http"].items() if k.startswith("HTTP_X_PORTCULLIS")},
    }
    assert "mallory" not in json.dumps(identity) and "Root" not in json.dumps(identity)
    assert identity["remote_user"] == alice_key(op)
    assert identity["PORTCULLIS_USER"] == identity["HTTP_X_PORTCULLIS_USER"] == alice_key(op)
    assert identity["PORTCULLIS_ROLES"] == identity["HTTP_X_PORTCULLIS_ROLES"] == "Portal.Admin"
    assert identity["HTTP_X_PORTCULLIS_EMAIL"] == "alice@example.test"
    assert identity["HTTP_X_PORTCULLIS_ASSERTION"] == identity["PORTCULLIS_ASSERTION"]
    entry = log_entry(apache, marker)
    assert (entry["user"], entry["h_user"], entry["h_roles"], entry["h_user_underscore"]) == (
        alice_key(op),
        alice_key(op),
        "Portal.Admin",
        "-",
    )

    # Without a session the same headers get nobody in ...
    anonymous = Browser()
    assert anonymous.request("GET", apache.url + ADMIN, headers=spoofed).status == 302
    # ... and on a public route, where nobody vouches for anyone, the app sees no identity.
    marker = secrets.token_hex(8)
    public = seen_by_app(anonymous, f"{apache.url}{PUBLIC}?{marker}", **spoofed)
    assert (public["remote_user"], public["portcullis"]) == (None, {})
    assert not [k for k in public["http"] if k.startswith("HTTP_X_PORTCULLIS")]
    entry = log_entry(apache, marker)
    assert (entry["user"], entry["h_user"], entry["h_roles"], entry["h_user_underscore"]) == (
        "-",
        "-",
        "-",
        "-",
    )


def test_portcullis_cookies_stay_with_portcullis(alice: Browser, apache: Apache) -> None:
    cookie = alice.cookie(SESSION_COOKIE)
    assert cookie
    marker = secrets.token_hex(8)
    seen = seen_by_app(
        alice, f"{apache.url}{APP}?{marker}", Cookie=f"theme=dark; {SESSION_COOKIE}={cookie}; a=b"
    )
    assert seen["http"]["HTTP_COOKIE"] == "theme=dark; a=b"
    assert cookie not in json.dumps(seen)
    assert cookie not in log_entry(apache, marker)["cookie"]
    seen = seen_by_app(alice, f"{apache.url}{APP}", Cookie=f"{SESSION_COOKIE}={cookie}; x=1")
    assert seen["http"]["HTTP_COOKIE"] == "x=1"
    seen = seen_by_app(alice, f"{apache.url}{APP}", Cookie=f"{SESSION_COOKIE}={cookie}")
    assert "HTTP_COOKIE" not in seen["http"]
    # Portcullis' own endpoints still get the cookie through Apache.
    info = alice.get(apache.url + "/.portcullis/userinfo", accept="application/json")
    assert info.status == 200
    assert info.json()["email"] == "alice@example.test"


def test_bearer_routes_answer_401_with_a_challenge_and_admit_the_right_app(
    portcullis: Proxy, apache: Apache, op: OidcProvider
) -> None:
    missing = Browser().get(apache.url + API)
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="portcullis"'
    token = bot_token(op)
    seen = seen_by_app(Browser(), apache.url + API, Authorization=f"Bearer {token}")
    assert seen["remote_user"] == f"{op.issuer}#{BOT}"
    assert seen["portcullis"]["PORTCULLIS_KIND"] == "app"
    assert seen["portcullis"]["PORTCULLIS_CLIENT"] == BOT
    assert seen["portcullis"]["PORTCULLIS_ROLES"] == "Reports.Read"
    forged = Browser().get(apache.url + API, authorization=f"Bearer {token}x")
    assert forged.status == 401
    assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]
