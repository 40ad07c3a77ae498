"""Sign-in through real components: oidc-provider (OP) → Portcullis (process) → Apache httpd.

What the upstream sees is read from Apache itself: its echo CGI (headers, cookies,
``REMOTE_USER``) and its access log (``%u`` and the identity headers as received).
Apache also checks ``X-Portcullis-Assertion`` on ``/verified/`` with Debian's
mod_auth_openidc (OAuth 2.0 resource server, keys from Portcullis' JWKS): an assertion
that Portcullis signed passes, a forged or altered one gets Apache's own 401.

The shared Portcullis runs two workers (sessions in SQLite, no session cache) so a
request, a callback or a logout may land on either one.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from tests.support import mod_auth_openidc
from tests.support.apache import Apache, run_apache
from tests.support.oidc_provider import (
    BASIC,
    PKJWT,
    POST,
    OidcProvider,
    browser_login,
    browser_logout,
)
from tests.support.proxy import Proxy, run_proxy
from tests.support.signin import (
    SESSION_COOKIE,
    Browser,
    Response,
    callback_url,
    free_ports,
    sign_in,
    sign_in_config,
)

pytestmark = pytest.mark.apache

ECHO = "/cgi-bin/echo.cgi"
LOG_FIELDS = {
    "user": "%u",
    "h_user": "%{X-Portcullis-User}i",
    "h_roles": "%{X-Portcullis-Roles}i",
    "h_user_underscore": "%{X_Portcullis_User}i",
    "h_roles_underscore": "%{X_Portcullis_Roles}i",
}


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def upstream(signin_ports: tuple[int, ...]) -> Iterator[Apache]:
    """Apache: the echo CGI also at /admin/, /public/ and /verified/ (assertion required)."""
    (port,) = free_ports(1)
    verified = mod_auth_openidc.resource_server(
        apache_port=port, portcullis_url=f"http://127.0.0.1:{signin_ports[0]}"
    )

    def config(root: Path) -> str:
        aliases = "".join(
            f'ScriptAlias {prefix} "{root}/cgi-bin/"\n' for prefix in ("/admin/", "/public/")
        )
        return aliases + verified(root)

    with run_apache(
        large_size=1 << 16,
        port=port,
        modules=mod_auth_openidc.MODULES,
        extra_config=config,
        log_fields=LOG_FIELDS,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def portcullis(
    signin_ports: tuple[int, ...],
    op: OidcProvider,
    upstream: Apache,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proxy]:
    """Portcullis (2 workers) signing in with ``portcullis-basic``, response_mode=query."""
    tmp = tmp_path_factory.mktemp("sign-in")
    config = sign_in_config(
        port=signin_ports[0],
        op=op,
        client_id=BASIC,
        upstream=upstream.url,
        state_dir=tmp,
        cache_ttl=0,
    )
    with run_proxy(config, tmp, args=("--workers", "2")) as proxy:
        yield proxy


def signed_in(proxy: Proxy, user: str) -> Browser:
    browser = Browser()
    done = sign_in(browser, proxy.url, user=user, rd=ECHO)
    assert (done.status, done.location) == (302, ECHO), done.body[:300]
    return browser


@pytest.fixture(scope="module")
def alice(portcullis: Proxy) -> Browser:
    return signed_in(portcullis, "alice")


@pytest.fixture(scope="module")
def bob(portcullis: Proxy) -> Browser:
    return signed_in(portcullis, "bob")


# helpers -------------------------------------------------------------------------------------
def seen_by_apache(browser: Browser, url: str, **headers: str) -> dict[str, Any]:
    """What the echo CGI saw of a request that must have reached it."""
    response = browser.get(url, accept="application/json", **headers)
    assert response.status == 200, (response.status, response.body[:300])
    assert response.headers["X-Upstream"] == "apache"
    seen: dict[str, Any] = response.json()
    return seen


def log_entry(apache: Apache, marker: str, timeout: float = 5.0) -> dict[str, str]:
    """Apache writes the access log after the response: poll for the line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in apache.access_entries():
            if marker in entry.get("target", ""):
                return entry
        time.sleep(0.05)
    raise AssertionError(f"no access-log line for {marker!r}")


def never_logged(apache: Apache, marker: str) -> bool:
    time.sleep(0.2)  # Apache would have logged a forwarded request by now
    return not any(marker in entry.get("target", "") for entry in apache.access_entries())


def alice_key(op: OidcProvider) -> str:
    return f"{op.issuer}#alice"


def session_cookie(response: Response) -> str:
    [cookie] = [c for c in response.set_cookies() if c.startswith(f"{SESSION_COOKIE}=")]
    return cookie


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_assertion(token: str, jwks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """ES256 signature against ``jwks`` (with cryptography, not Portcullis' own JOSE code)."""
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header["alg"] == "ES256"
    [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    assert (jwk["kty"], jwk["crv"]) == ("EC", "P-256") and "d" not in jwk
    key = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64url_decode(jwk["x"])),
        int.from_bytes(b64url_decode(jwk["y"])),
        ec.SECP256R1(),
    ).public_key()
    raw = b64url_decode(signature_b64)
    assert len(raw) == 64
    signature = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    key.verify(signature, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    return header, json.loads(b64url_decode(claims_b64))


def sign_es256(
    header: dict[str, Any], claims: dict[str, Any], key: ec.EllipticCurvePrivateKey
) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


# the flows -----------------------------------------------------------------------------------
def test_query_mode_with_client_secret_basic(
    portcullis: Proxy, op: OidcProvider, upstream: Apache
) -> None:
    browser = Browser()
    first = browser.get(f"{portcullis.url}{ECHO}?tab=1")
    assert first.status == 302
    assert first.location == "/.portcullis/login?rd=%2Fcgi-bin%2Fecho.cgi%3Ftab%3D1"

    login = browser.get(portcullis.url + first.location)
    assert login.status == 302
    authorize = urllib.parse.urlsplit(login.location)
    assert login.location.startswith(op.authorization_endpoint + "?")
    query = dict(urllib.parse.parse_qsl(authorize.query))
    assert query["client_id"] == BASIC
    assert query["redirect_uri"] == callback_url(portcullis.port)
    assert (query["response_type"], query["code_challenge_method"]) == ("code", "S256")
    assert query.get("response_mode", "query") == "query"
    assert {"openid", "roles"} <= set(query["scope"].split())
    assert query["state"] and query["nonce"]
    [binding] = login.set_cookies()
    assert "HttpOnly" in binding and "SameSite=Lax" in binding

    landing = browser_login(login.location + "&login_hint=alice", jar=browser.jar)
    assert landing.method == "GET"
    assert landing.fields["iss"] == op.issuer
    done = browser.get(landing.url)
    assert (done.status, done.location) == (302, f"{ECHO}?tab=1")
    cookie = session_cookie(done)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # external_url is plain http (loopback)

    seen = seen_by_apache(browser, portcullis.url + done.location)
    assert seen["query"] == "tab=1"
    assert seen["headers"]["x-portcullis-user"] == alice_key(op)
    info = browser.get(portcullis.url + "/.portcullis/userinfo").json()
    assert info["user"] == alice_key(op)
    assert (info["email"], info["name"], info["roles"]) == (
        "alice@example.test",
        "Alice Admin",
        ["Portal.Admin"],
    )
    assert "token" not in json.dumps(info).lower()

    replay = browser.get(landing.url)  # the state is single use
    assert replay.status == 400
    assert not [c for c in replay.set_cookies() if c.startswith(f"{SESSION_COOKIE}=")]


@pytest.mark.parametrize(
    ("client_id", "response_mode", "port_index"),
    [(POST, "form_post", 1), (PKJWT, "query", 2)],
    ids=["form_post+client_secret_post", "query+private_key_jwt"],
)
def test_other_response_modes_and_client_authentication(
    client_id: str,
    response_mode: str,
    port_index: int,
    signin_ports: tuple[int, ...],
    op: OidcProvider,
    upstream: Apache,
    tmp_path: Path,
) -> None:
    """The OP accepts a client only with its registered token endpoint auth method."""
    key_file = None
    pem = op.clients[client_id].private_key_pem
    if pem is not None:
        key_file = tmp_path / "client-key.pem"
        key_file.write_bytes(pem)
        key_file.chmod(0o600)
    config = sign_in_config(
        port=signin_ports[port_index],
        op=op,
        client_id=client_id,
        upstream=upstream.url,
        state_dir=tmp_path,
        response_mode=response_mode,
        private_key_file=key_file,
    )
    with run_proxy(config, tmp_path, args=("--workers", "1")) as proxy:
        browser = Browser()
        login = browser.get(f"{proxy.url}/.portcullis/login?rd=%2Fcgi-bin%2Fecho.cgi")
        assert login.status == 302
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(login.location).query))
        assert query["client_id"] == client_id
        assert query.get("response_mode", "query") == response_mode
        landing = browser_login(login.location + "&login_hint=alice", jar=browser.jar)
        assert landing.url.startswith(callback_url(proxy.port))
        if response_mode == "form_post":  # the OP's auto-submitting form
            assert landing.method == "POST" and "?" not in landing.url
            done = browser.post(landing.url, landing.fields)
        else:
            assert landing.method == "GET"
            done = browser.get(landing.url)
        # A wrong client authentication would have failed the code exchange: 403.
        assert (done.status, done.location) == (302, ECHO), done.body[:300]
        seen = seen_by_apache(browser, proxy.url + ECHO)
        assert seen["headers"]["x-portcullis-user"] == alice_key(op)


def test_alice_reaches_admin_with_her_identity_and_a_verifiable_assertion(
    portcullis: Proxy, alice: Browser, op: OidcProvider, upstream: Apache
) -> None:
    seen = seen_by_apache(alice, f"{portcullis.url}/admin/echo.cgi?who=alice")
    assert seen["path"] == "/admin/echo.cgi"
    headers = seen["headers"]
    assert headers["x-portcullis-user"] == alice_key(op)
    assert headers["x-portcullis-kind"] == "user"
    assert headers["x-portcullis-email"] == "alice@example.test"
    assert headers["x-portcullis-name"] == "Alice Admin"
    assert headers["x-portcullis-roles"] == "Portal.Admin"
    assert headers["x-portcullis-groups"].split(",") == op.users["alice"]["groups"]

    jwks = Browser().get(portcullis.url + "/.portcullis/jwks.json").json()
    header, claims = verify_assertion(headers["x-portcullis-assertion"], jwks)
    assert header["typ"] == "JWT"
    assert claims["iss"] == portcullis.url
    assert claims["aud"] == upstream.url
    assert claims["sub"] == alice_key(op)
    assert claims["roles"] == ["Portal.Admin"]
    assert claims["email"] == "alice@example.test"
    assert claims["iat"] <= time.time() + 5 < claims["exp"]


def test_bob_gets_403_naming_the_role(portcullis: Proxy, bob: Browser, upstream: Apache) -> None:
    marker = secrets.token_hex(8)
    denied = bob.get(f"{portcullis.url}/admin/echo.cgi?{marker}")
    assert denied.status == 403
    assert b"Portal.Admin" in denied.body
    as_json = bob.get(f"{portcullis.url}/admin/echo.cgi?{marker}", accept="application/json")
    assert as_json.status == 403
    assert "Portal.Admin" in json.dumps(as_json.json())
    assert never_logged(upstream, marker)
    # Signed in, bob reaches the routes that need no role; he has none to show.
    seen = seen_by_apache(bob, portcullis.url + ECHO)
    assert seen["headers"]["x-portcullis-user"].endswith("#bob")
    assert seen["headers"]["x-portcullis-roles"] == ""


def test_not_signed_in_browsers_are_sent_to_login_and_json_clients_get_401(
    portcullis: Proxy, upstream: Apache
) -> None:
    browser = Browser()
    marker = secrets.token_hex(8)
    page = browser.get(f"{portcullis.url}/admin/echo.cgi?{marker}", accept="text/html")
    assert page.status == 302
    assert page.location == f"/.portcullis/login?rd=%2Fadmin%2Fecho.cgi%3F{marker}"
    api = browser.get(f"{portcullis.url}/admin/echo.cgi?{marker}", accept="application/json")
    assert api.status == 401
    assert api.headers["Content-Type"].startswith("application/json")
    assert api.json()["login_url"] == page.location
    assert browser.get(portcullis.url + "/.portcullis/userinfo").status == 401
    assert never_logged(upstream, marker)
    # The login URL works as given.
    done = sign_in(browser, portcullis.url, rd=f"/admin/echo.cgi?{marker}")
    assert (done.status, done.location) == (302, f"/admin/echo.cgi?{marker}")
    assert seen_by_apache(browser, portcullis.url + done.location)["query"] == marker


def test_spoofed_identity_headers_never_reach_apache(
    portcullis: Proxy, alice: Browser, bob: Browser, op: OidcProvider, upstream: Apache
) -> None:
    spoofed = {
        "X-Portcullis-User": "mallory",
        "X_Portcullis_User": "mallory",
        "X_Portcullis_Roles": "Portal.Admin",
        "x-portcullis-roles": "Portal.Admin,Root",
        "X-PORTCULLIS-EMAIL": "mallory@evil.test",
        "X-Portcullis-Assertion": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.",
    }
    marker = secrets.token_hex(8)
    response = alice.request("GET", f"{portcullis.url}{ECHO}?{marker}", headers=spoofed)
    assert response.status == 200
    seen = response.json()["headers"]
    assert seen["x-portcullis-user"] == alice_key(op)
    assert seen["x-portcullis-roles"] == "Portal.Admin"
    assert seen["x-portcullis-email"] == "alice@example.test"
    assert "mallory" not in json.dumps(seen) and "Root" not in json.dumps(seen)
    entry = log_entry(upstream, marker)
    assert entry["h_user"] == alice_key(op)
    assert entry["h_roles"] == "Portal.Admin"
    assert (entry["h_user_underscore"], entry["h_roles_underscore"]) == ("-", "-")

    # bob cannot talk his way into /admin ...
    denied = bob.request("GET", f"{portcullis.url}/admin/echo.cgi", headers=spoofed)
    assert denied.status == 403
    # ... and nobody can on a public route, where Portcullis adds no identity at all.
    marker = secrets.token_hex(8)
    anonymous = Browser().request(
        "GET", f"{portcullis.url}/public/echo.cgi?{marker}", headers=spoofed
    )
    assert anonymous.status == 200
    assert not [h for h in anonymous.json()["headers"] if "portcullis" in h]
    entry = log_entry(upstream, marker)
    assert (entry["h_user"], entry["h_roles"]) == ("-", "-")
    assert (entry["h_user_underscore"], entry["h_roles_underscore"]) == ("-", "-")


def test_portcullis_cookies_never_reach_apache(
    portcullis: Proxy, alice: Browser, op: OidcProvider
) -> None:
    session = alice.cookie(SESSION_COOKIE)
    assert session
    cookie = f"app=1; {SESSION_COOKIE}={session}; theme=dark; {SESSION_COOKIE}_login=x"
    for path in (ECHO, "/public/echo.cgi"):
        response = Browser().request("GET", portcullis.url + path, headers={"Cookie": cookie})
        assert response.status == 200
        seen = response.json()["headers"]
        assert seen["cookie"] == "app=1; theme=dark"
    # ... while the session in it did authenticate the signed-in route:
    response = Browser().request("GET", portcullis.url + ECHO, headers={"Cookie": cookie})
    assert response.json()["headers"]["x-portcullis-user"] == alice_key(op)
    # Only Portcullis' cookies go: the jar also sends the OP's (cookies ignore ports).
    probe = urllib.request.Request(portcullis.url + ECHO)
    alice.jar.add_cookie_header(probe)
    sent = {pair.split("=", 1)[0] for pair in probe.unredirected_hdrs["Cookie"].split("; ")}
    assert SESSION_COOKIE in sent and len(sent) > 1
    seen = seen_by_apache(alice, portcullis.url + ECHO)
    names = {pair.split("=", 1)[0] for pair in seen["headers"]["cookie"].split("; ")}
    assert names == sent - {SESSION_COOKIE, f"{SESSION_COOKIE}_login"}


def test_logout_needs_post_with_csrf_and_ends_the_session(
    portcullis: Proxy, op: OidcProvider
) -> None:
    browser = signed_in(portcullis, "alice")
    old = browser.cookie(SESSION_COOKIE)
    url = portcullis.url + "/.portcullis/logout"

    # A cross-site navigation or image GET shows a form and ends nothing.
    page = browser.get(url, referer="http://evil.test/", sec_fetch_site="cross-site")
    assert page.status == 200
    assert seen_by_apache(browser, portcullis.url + ECHO)["headers"]["x-portcullis-user"]
    for form in ({}, {"csrf": "forged"}):
        refused = browser.post(url, form, origin="http://evil.test")
        assert refused.status == 403
        assert seen_by_apache(browser, portcullis.url + ECHO)["headers"]["x-portcullis-user"]

    match = re.search(rb'name="csrf" value="([^"]+)"', page.body)
    assert match, page.body[:500]
    done = browser.post(url, {"csrf": match.group(1).decode()})
    assert done.status == 303
    assert done.location.startswith(op.end_session_endpoint + "?")
    assert any(c.startswith(f"{SESSION_COOKIE}=;") for c in done.set_cookies())

    # The session is gone on the server: the old cookie value no longer works.
    replay = {"Cookie": f"{SESSION_COOKIE}={old}"}
    again = Browser().request("GET", portcullis.url + ECHO, headers=replay)
    assert again.status == 302
    assert again.location.startswith("/.portcullis/login?")
    api = Browser().request(
        "GET", portcullis.url + ECHO, headers={**replay, "Accept": "application/json"}
    )
    assert api.status == 401
    userinfo = Browser().request("GET", portcullis.url + "/.portcullis/userinfo", headers=replay)
    assert userinfo.status == 401

    # RP-initiated logout at the OP comes back to Portcullis.
    landing = browser_logout(done.location, jar=browser.jar)
    assert landing.url.startswith(portcullis.url + "/")


def test_two_logins_started_in_parallel_both_succeed(portcullis: Proxy, op: OidcProvider) -> None:
    browser = Browser()
    starts = [
        browser.get(f"{portcullis.url}/.portcullis/login?rd=%2Fcgi-bin%2Fecho.cgi%3Ftab%3D{tab}")
        for tab in (1, 2)
    ]
    assert [s.status for s in starts] == [302, 302]
    states = [dict(urllib.parse.parse_qsl(s.location.split("?", 1)[1]))["state"] for s in starts]
    assert states[0] != states[1]

    landings = [browser_login(s.location + "&login_hint=alice", jar=browser.jar) for s in starts]
    for tab, landing in ((2, landings[1]), (1, landings[0])):  # finished in the other order
        done = browser.get(landing.url)
        assert (done.status, done.location) == (302, f"{ECHO}?tab={tab}"), done.body[:300]
        session_cookie(done)
    seen = seen_by_apache(browser, f"{portcullis.url}{ECHO}?tab=1")
    assert seen["headers"]["x-portcullis-user"] == alice_key(op)


def test_apache_verifies_the_assertion_against_portcullis_jwks(
    portcullis: Proxy, alice: Browser, op: OidcProvider, upstream: Apache
) -> None:
    marker = secrets.token_hex(8)
    seen = seen_by_apache(alice, f"{portcullis.url}/verified/echo.cgi?{marker}")
    assert seen["remote_user"] == alice_key(op)
    assert seen["auth_type"] == "oauth20"
    claims = seen["claims"]  # as mod_auth_openidc verified them
    assert (claims["iss"], claims["aud"]) == (portcullis.url, upstream.url)
    assert claims["roles"] == "Portal.Admin"
    assert log_entry(upstream, marker)["user"] == alice_key(op)
    genuine = seen["headers"]["x-portcullis-assertion"]

    def straight_to_apache(assertion: str | None) -> tuple[int, str]:
        marker = secrets.token_hex(8)
        headers = {"X-Portcullis-Assertion": assertion} if assertion is not None else {}
        url = f"{upstream.url}/verified/echo.cgi?{marker}"
        status = Browser().request("GET", url, headers=headers).status
        return status, log_entry(upstream, marker)["user"]

    # The real assertion is a bearer token: Apache accepts it from anyone (control case).
    assert straight_to_apache(genuine) == (200, alice_key(op))

    header_b64, claims_b64, signature_b64 = genuine.split(".")
    header = json.loads(b64url_decode(header_b64))
    payload = json.loads(b64url_decode(claims_b64))
    # Same kid, same claims, another P-256 key: only the signature is wrong.
    forged = sign_es256(header, payload, ec.generate_private_key(ec.SECP256R1()))
    assert straight_to_apache(forged) == (401, "-")
    bob_claims = {**payload, "sub": f"{op.issuer}#bob"}
    altered = f"{header_b64}.{b64url(json.dumps(bob_claims).encode())}.{signature_b64}"
    assert straight_to_apache(altered) == (401, "-")
    unsigned = f"{b64url(json.dumps({'alg': 'none'}).encode())}.{claims_b64}."
    assert straight_to_apache(unsigned) == (401, "-")
    assert straight_to_apache(None) == (401, "-")
