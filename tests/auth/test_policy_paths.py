"""The policy decides on the path the upstream receives (SECURITY.md 17-18), through the proxy.

Bob (no Portal.Admin) is signed in for real against the dev IdP; raw requests then try
every spelling of ``/admin`` that could slip past a rule written for it.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from portcullis.devidp import DevIdp
from tests.auth.browser import Browser
from tests.auth.conftest import sign_in_config
from tests.http.rawhttp import Conn
from tests.support.proxy import Proxy, run_proxy

ADMIN_ONLY = {"name": "admins", "allow": {"roles": ["Portal.Admin"]}}


@pytest.fixture(scope="module")
def policy_proxy(
    idp: DevIdp, app: str, spare_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    tmp: Path = tmp_path_factory.mktemp("policy-paths")
    config = sign_in_config(idp, app, spare_port, tmp)
    config["routes"] = [
        {"path": "/admin", "upstream": app, "rules": [ADMIN_ONLY]},
        {"path": "/Secret", "upstream": app, "case_insensitive": True, "rules": [ADMIN_ONLY]},
        {
            "path": "/fresh",
            "upstream": app,
            "rules": [{"name": "recent", "allow": {"kinds": ["user"], "max_auth_age": 2}}],
        },
        {
            "path": "/watched",
            "upstream": app,
            "monitor": True,
            "rules": [{"name": "admins", "allow": {"roles": ["Portal.Admin"]}}],
        },
        {
            "path": "/",
            "upstream": app,
            "rules": [
                {"name": "people", "allow": {"kinds": ["user"]}},
                {
                    "name": "reports-admins",
                    "deny": {"paths": ["/reports/**"], "not": {"roles": ["Portal.Admin"]}},
                    "message": "Reports are for portal admins.",
                },
            ],
        },
    ]
    with run_proxy(config, tmp) as running:
        yield running


@pytest.fixture(scope="module")
def bob_cookie(policy_proxy: Proxy) -> str:
    browser = Browser()
    assert browser.login(policy_proxy.url, "bob").status == 302
    return "; ".join(f"{c.name}={c.value}" for c in browser.jar)


@pytest.mark.parametrize(
    "target",
    [
        "/admin",
        "/admin?x=/public",
        "/admin/%2e%2e/admin/x",
        "/public/../admin",
        "/public/%2E%2E/admin",
        "//admin",
        "/./admin/",
        "/%61dmin",
        "/secret/x",
        "/SECRET",
        "/reports/q1",
        "/x/../reports/q1",
        "//reports//q1",
    ],
)
def test_every_spelling_of_a_protected_path_is_refused(
    policy_proxy: Proxy, bob_cookie: str, target: str
) -> None:
    with Conn(policy_proxy.port) as conn:
        resp = conn.exchange("GET", target, headers=[("Cookie", bob_cookie)])
    assert resp.status == 403, (target, resp.status, resp.body[:200])


@pytest.mark.parametrize(
    ("target", "upstream_path"),
    [
        ("/admin/../public", "/public"),
        ("/public?x=/admin", "/public?x=/admin"),  # the query never changes the rule
        ("/admin%2Fx", "/admin%2Fx"),  # an encoded slash is data: not under /admin
        ("/Admin", "/Admin"),  # /admin is case-sensitive: another path for the upstream too
    ],
)
def test_what_passes_is_exactly_what_the_upstream_receives(
    policy_proxy: Proxy, bob_cookie: str, target: str, upstream_path: str
) -> None:
    with Conn(policy_proxy.port) as conn:
        resp = conn.exchange("GET", target, headers=[("Cookie", bob_cookie)])
    assert resp.status == 200, (target, resp.status, resp.body[:200])
    assert resp.json()["path"] == upstream_path


def test_a_deny_rule_message_and_reason_reach_the_caller(
    policy_proxy: Proxy, bob_cookie: str
) -> None:
    with Conn(policy_proxy.port) as conn:
        resp = conn.exchange(
            "GET",
            "/reports/q1",
            headers=[("Cookie", bob_cookie), ("Accept", "application/json")],
        )
    assert resp.status == 403
    body = resp.json()
    assert body["error"] == "forbidden"
    assert body["message"] == "Reports are for portal admins."


def test_a_stale_sign_in_steps_up_and_a_fresh_one_passes(policy_proxy: Proxy) -> None:
    browser = Browser()
    assert browser.login(policy_proxy.url, "bob").status == 302
    assert browser.get(policy_proxy.url + "/fresh/x").status == 200
    time.sleep(2.5)
    stale = browser.get(policy_proxy.url + "/fresh/x")
    assert stale.status == 302
    assert stale.location == "/.portcullis/login?rd=%2Ffresh%2Fx&max_age=2"
    authorize = browser.get(policy_proxy.url + stale.location)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize.location).query)
    assert query["max_age"] == ["2"] and query["prompt"] == ["login"]
    done = browser.finish(browser.at_idp(authorize.location, "bob"))
    assert done.status == 302 and done.location == "/fresh/x"
    assert browser.get(policy_proxy.url + "/fresh/x").status == 200


def test_an_api_caller_with_a_stale_session_gets_401_step_up(policy_proxy: Proxy) -> None:
    browser = Browser()
    assert browser.login(policy_proxy.url, "bob").status == 302
    time.sleep(2.5)
    resp = browser.get(policy_proxy.url + "/fresh/x", headers={"Accept": "application/json"})
    assert resp.status == 401
    assert "max_age=2" in resp.body.decode()


def test_a_monitored_route_lets_the_refused_through(policy_proxy: Proxy, bob_cookie: str) -> None:
    with Conn(policy_proxy.port) as conn:
        resp = conn.exchange("GET", "/watched/x", headers=[("Cookie", bob_cookie)])
    assert resp.status == 200
    assert resp.json()["path"] == "/watched/x"


@pytest.fixture(scope="module")
def behind_a_proxy(
    idp: DevIdp, app: str, proxy_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """Portcullis that trusts 127.0.0.1 as a front proxy (its X-Forwarded-For counts)."""
    tmp: Path = tmp_path_factory.mktemp("policy-source-ip")
    config = sign_in_config(idp, app, proxy_port, tmp)
    config["listen"] = {"port": proxy_port, "trusted_proxies": ["127.0.0.1/32"]}
    office = {"kinds": ["user"], "source_ip": ["10.0.0.0/8"]}
    config["routes"] = [
        {"path": "/office", "upstream": app, "rules": [{"name": "office", "allow": office}]},
        {"path": "/", "upstream": app},
    ]
    with run_proxy(config, tmp) as running:
        yield running


@pytest.mark.parametrize(
    ("forwarded_for", "status"),
    [
        ("10.1.2.3", 200),  # the front proxy says the client is in the office
        ("192.0.2.1", 403),
        ("10.1.2.3, 192.0.2.1", 403),  # the client wrote 10.1.2.3 itself: it does not count
        (None, 403),  # the peer itself (127.0.0.1) is not in the office
    ],
)
def test_source_ip_is_the_client_named_by_trusted_proxies(
    behind_a_proxy: Proxy, forwarded_for: str | None, status: int
) -> None:
    browser = Browser()
    assert browser.login(behind_a_proxy.url, "bob").status == 302
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.jar)
    headers = [("Cookie", cookie)]
    if forwarded_for is not None:
        headers.append(("X-Forwarded-For", forwarded_for))
    with Conn(behind_a_proxy.port) as conn:
        resp = conn.exchange("GET", "/office/x", headers=headers)
    assert resp.status == status, resp.body[:200]
