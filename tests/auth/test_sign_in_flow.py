"""Sign-in end to end: dev IdP (Entra-shaped) → Portcullis (real process) → demo app.

One test per SECURITY.md item in scope: state replay, foreign state, nonce and
PKCE tampering, open redirects, cookie tampering, header spoofing, IdP error
escaping, logout CSRF, parallel logins, and sessions surviving an IdP outage.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import urllib.parse
from pathlib import Path

import yaml

from portcullis.devidp import DevIdp
from tests.auth.browser import Browser
from tests.auth.conftest import sign_in_config
from tests.support.proxy import Proxy, free_port, run_proxy

ALICE = "4f1a9c2e-6b3d-4e8a-9c71-0d2e5f8a1b01"


def _seen_by_app(browser: Browser, proxy: Proxy, path: str = "/hello", **headers: str) -> dict:
    resp = browser.get(proxy.url + path, headers={"Accept": "application/json", **headers})
    assert resp.status == 200, (resp.status, resp.body[:300])
    return json.loads(resp.body)["headers"]


def test_alice_signs_in_and_the_app_sees_her_identity(proxy: Proxy, idp: DevIdp) -> None:
    browser = Browser()
    first = browser.get(proxy.url + "/hello?x=1")
    assert first.status == 302
    assert first.location == "/.portcullis/login?rd=%2Fhello%3Fx%3D1"
    done = browser.login(proxy.url, "alice", rd="/hello?x=1")
    assert done.status == 302 and done.location == "/hello?x=1"
    [cookie] = [c for c in done.set_cookies if c.startswith("portcullis=")]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert len(cookie.split(";")[0]) <= 512
    seen = _seen_by_app(browser, proxy)
    assert seen["x-portcullis-user"] == f"{idp.tenant_id}/{ALICE}"
    assert seen["x-portcullis-tenant"] == idp.tenant_id
    assert seen["x-portcullis-roles"] == "Portal.Admin"
    assert seen["x-portcullis-kind"] == "user"
    assert "portcullis=" not in seen.get("cookie", "")  # the session cookie stays with us
    assert seen["x-portcullis-assertion"].count(".") == 2
    info = json.loads(browser.get(proxy.url + "/.portcullis/userinfo").body)
    assert info["object_id"] == ALICE and info["roles"] == ["Portal.Admin"]
    assert "token" not in json.dumps(info).lower()


def test_roles_and_groups_gate_routes(proxy: Proxy) -> None:
    alice, bob, carol = Browser(), Browser(), Browser()
    for browser, user in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        assert browser.login(proxy.url, user).status == 302
    assert alice.get(proxy.url + "/admin/x").status == 200
    denied = bob.get(proxy.url + "/admin/x")
    assert denied.status == 403
    assert b"Portal.Admin" in denied.body
    assert alice.get(proxy.url + "/staff").status == 200
    assert bob.get(proxy.url + "/staff").status == 403
    # carol's token carried the groups overage form: unknown groups, never "no groups"
    info = json.loads(carol.get(proxy.url + "/.portcullis/userinfo").body)
    assert info["groups_unknown"] is True and info["groups"] == []
    unresolved = carol.get(proxy.url + "/staff", headers={"Accept": "application/json"})
    assert unresolved.status == 403
    assert json.loads(unresolved.body)["error"] == "groups-unresolved"


def test_api_clients_get_401_json(proxy: Proxy) -> None:
    resp = Browser().get(proxy.url + "/api/x", headers={"Accept": "application/json"})
    assert resp.status == 401
    body = json.loads(resp.body)
    assert body["error"] == "unauthenticated"
    assert body["login_url"] == "/.portcullis/login?rd=%2Fapi%2Fx"


def test_state_is_single_use(proxy: Proxy) -> None:
    browser = Browser()
    answer = browser.at_idp(browser.start_login(proxy.url), "alice")
    assert browser.finish(answer).status == 302
    replay = browser.finish(answer)
    assert replay.status == 400
    assert not replay.set_cookies


def test_a_login_finished_in_another_browser_is_refused(proxy: Proxy) -> None:
    victim, attacker = Browser(), Browser()
    answer = attacker.at_idp(attacker.start_login(proxy.url), "bob")
    # The attacker hands its callback URL to the victim (login CSRF): no binding cookie.
    forced = victim.finish(answer)
    assert forced.status == 400
    assert victim.cookie("portcullis") is None


def test_tampered_nonce_or_pkce_mints_no_session(proxy: Proxy) -> None:
    for param in ("nonce", "code_challenge"):
        browser = Browser()
        url = browser.start_login(proxy.url)
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        query[param] = "A" * 43
        forged = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        result = browser.finish(browser.at_idp(forged, "alice"))
        assert result.status == 403, param
        assert browser.cookie("portcullis") is None


def test_open_redirects_fall_back_to_root(proxy: Proxy) -> None:
    for rd in [
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/%09/evil.example",
        "https://127.0.0.1.evil.example/",
        "https://ok@evil.example/",
    ]:
        done = Browser().login(proxy.url, "alice", rd=rd)
        assert done.status == 302
        assert done.location == "/", rd
    kept = Browser().login(proxy.url, "alice", rd=f"{proxy.url}/deep/link?q=1")
    assert kept.location == f"{proxy.url}/deep/link?q=1"


def test_tampered_session_cookie_is_no_session(proxy: Proxy) -> None:
    browser = Browser()
    browser.login(proxy.url, "alice")
    value = browser.cookie("portcullis")
    assert value is not None
    flipped = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    for forged in (flipped, value[:20], "garbage", ""):
        resp = Browser().get(proxy.url + "/hello", headers={"Cookie": f"portcullis={forged}"})
        assert resp.status == 302, forged


def test_identity_headers_from_clients_never_reach_the_app(proxy: Proxy) -> None:
    browser = Browser()
    browser.login(proxy.url, "bob")
    seen = _seen_by_app(
        browser,
        proxy,
        **{
            "X-Portcullis-Roles": "Portal.Admin",
            "X_Portcullis_User": "evil",
            "X-Forwarded-User": "e",
        },
    )
    assert seen["x-portcullis-roles"] == ""
    assert seen["x-portcullis-user"].endswith("8b2d4e6f-1a3c-4d5e-8f70-9a1b2c3d4e02")
    assert "x_portcullis_user" not in seen and "x-forwarded-user" not in seen
    public = json.loads(
        Browser()
        .get(
            proxy.url + "/public",
            headers={"Accept": "application/json", "X-Portcullis-User": "evil"},
        )
        .body
    )
    assert "x-portcullis-user" not in public["headers"]


def test_idp_errors_are_shown_escaped_and_mint_no_session(proxy: Proxy) -> None:
    browser = Browser()
    authorize = browser.start_login(proxy.url)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize).query))["state"]
    resp = browser.get(
        proxy.url
        + "/.portcullis/callback?"
        + urllib.parse.urlencode(
            {
                "state": state,
                "error": "access_denied",
                "error_description": "<script>alert(1)</script>",
            }
        )
    )
    assert resp.status == 403
    assert b"<script>" not in resp.body and b"&lt;script&gt;" in resp.body
    assert browser.cookie("portcullis") is None


def test_parallel_logins_in_tabs_all_complete(proxy: Proxy) -> None:
    browser = Browser()
    tabs = [browser.start_login(proxy.url, rd=f"/tab{i}") for i in range(3)]
    answers = [browser.at_idp(url, "alice") for url in tabs]
    for i, answer in reversed(list(enumerate(answers))):
        done = browser.finish(answer)
        assert (done.status, done.location) == (302, f"/tab{i}")


def test_logout_needs_post_with_csrf(proxy: Proxy, idp: DevIdp) -> None:
    browser = Browser()
    browser.login(proxy.url, "alice")
    page = browser.get(proxy.url + "/.portcullis/logout")
    assert page.status == 200
    assert browser.get(proxy.url + "/hello").status == 200  # a GET ends nothing
    assert browser.post(proxy.url + "/.portcullis/logout", {"csrf": "wrong"}).status == 403
    assert browser.get(proxy.url + "/hello").status == 200
    csrf = page.body.decode().split('name="csrf" value="')[1].split('"')[0]
    out = browser.post(proxy.url + "/.portcullis/logout", {"csrf": csrf})
    assert out.status == 303
    assert out.location.startswith(idp.issuer.rsplit("/v2.0", 1)[0] + "/oauth2/v2.0/logout?")
    assert "id_token_hint=" in out.location
    assert browser.get(proxy.url + "/hello").status == 302


def test_sign_in_while_the_idp_is_unreachable_is_a_clear_503(
    idp: DevIdp, app: str, tmp_path: Path
) -> None:
    port = free_port()
    config = sign_in_config(idp, app, port, tmp_path)
    config["auth"]["providers"][0]["authority_host"] = f"http://127.0.0.1:{free_port()}"
    with run_proxy(config, tmp_path) as cut_off:
        resp = Browser().get(cut_off.url + "/.portcullis/login?rd=/")
        assert resp.status == 503
        assert b"cannot be reached" in resp.body
        assert b"Traceback" not in resp.body and b"Traceback" not in cut_off.log().encode()


def test_client_secret_rotation_falls_back_to_the_next_secret(
    idp: DevIdp, app: str, spare_port: int, tmp_path: Path
) -> None:
    client = idp.config.clients[0]
    assert client.secret is not None
    config = sign_in_config(idp, app, spare_port, tmp_path)
    config["auth"]["providers"][0]["client_secret"] = [
        {"value": "a-retired-secret"},
        {"value": client.secret.reveal()},
    ]
    with run_proxy(config, tmp_path) as rotating:
        browser = Browser()
        done = browser.login(rotating.url, "alice")
        assert done.status == 302, done.body[:300]
        assert browser.get(rotating.url + "/hello").status == 200
        assert "client credential 0 refused" in rotating.log()


def test_front_channel_logout_ends_only_the_named_idp_session(proxy: Proxy, idp: DevIdp) -> None:
    first, second = Browser(), Browser()
    first.login(proxy.url, "alice")
    second.login(proxy.url, "alice")
    # Find the IdP session ids the proxy recorded (the dev IdP issues a new `sid` per sign-in).
    db_path = yaml.safe_load(proxy.config_path.read_text())["auth"]["session"]["sqlite_path"]
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT data FROM sessions").fetchall()
    db.close()
    tags = sorted(
        (json.loads(data)["created_at"], json.loads(data)["idp_session"]) for (data,) in rows
    )
    first_tag = tags[-2][1]
    assert first_tag.startswith("default|") and first_tag != tags[-1][1]
    sid = first_tag.split("|", 1)[1]
    # The IdP's hidden iframe: cross-site, so no cookie of ours comes along.
    wrong = Browser().get(
        proxy.url
        + "/.portcullis/logout?"
        + urllib.parse.urlencode({"iss": "https://evil.example/v2.0", "sid": sid})
    )
    assert wrong.status == 400
    assert first.get(proxy.url + "/hello").status == 200
    ok = Browser().get(
        proxy.url + "/.portcullis/logout?" + urllib.parse.urlencode({"iss": idp.issuer, "sid": sid})
    )
    assert ok.status == 200
    assert first.get(proxy.url + "/hello").status == 302
    assert second.get(proxy.url + "/hello").status == 200


def test_the_first_session_cookie_decides_for_the_gate_and_the_endpoints(proxy: Proxy) -> None:
    """A duplicated cookie (cookie tossing from a sibling domain) cannot make the proxy and the
    sign-in endpoints act on different sessions: the first occurrence decides for both."""
    browser = Browser()
    browser.login(proxy.url, "alice")
    valid = browser.cookie("portcullis")
    for cookie_headers, signed_in in [
        ([f"portcullis=tossed; portcullis={valid}"], False),
        ([f"portcullis={valid}; portcullis=tossed"], True),
        (["portcullis=tossed", f"portcullis={valid}"], False),
        ([f"portcullis={valid}", "portcullis=tossed"], True),
    ]:
        request_headers = [("Cookie", value) for value in cookie_headers]
        gate = _raw_get(proxy, "/hello", request_headers)
        info = _raw_get(proxy, "/.portcullis/userinfo", request_headers)
        assert (gate == 200) is signed_in, (cookie_headers, gate)
        assert (info == 200) is signed_in, (cookie_headers, info)


def _raw_get(proxy: Proxy, path: str, headers: list[tuple[str, str]]) -> int:
    """A GET with exactly these header lines (repeated Cookie headers included)."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        connection.putrequest("GET", path)
        connection.putheader("Accept", "application/json")
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


# Last: it restarts the dev IdP, which then listens on another port.
def test_established_sessions_survive_an_idp_outage(proxy: Proxy, idp: DevIdp) -> None:
    browser = Browser()
    browser.login(proxy.url, "alice")
    idp.stop()
    try:
        assert browser.get(proxy.url + "/hello").status == 200
        assert browser.get(proxy.url + "/admin").status == 200
    finally:
        idp.start()
