"""The policy language end to end: one real Portcullis process, real tokens and sessions from
the (Entra-shaped) dev IdP, and an upstream that echoes what reached it.

One policy of 16 routes mixes people (sessions and delegated tokens), apps, agents and
on-behalf-of tokens, over roles, group aliases, authentication methods and contexts, methods,
path patterns, source addresses, time windows, client allowlists, deny rules with messages,
a monitored deny rule and a monitored route. :data:`CASES` is the decision table: for each
request, the status; on a denial the JSON error code and message (and that nothing reached
the upstream); on an allow the identity headers the upstream received.

The dev IdP always signs in with a password (``amr: [pwd]``, never ``mfa``): ``mfa: true``
is the criterion that cannot hold, ``amr: [pwd]`` the one that does, and the authentication
context Alice's tokens carry (``acrs: [c1]``, Bob's none) is what varies between users.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from portcullis.devidp import DevIdp
from portcullis.devidp.defaults import (
    AGENT_CLIENT_ID,
    AGENT_CLIENT_SECRET,
    AGENT_SP_OID,
    ALICE_OID,
    BOB_OID,
    BOT_CLIENT_ID,
    BOT_CLIENT_SECRET,
    BOT_SP_OID,
    CLIENT_ID,
    CLIENT_SECRET,
    DEMO_API_ID,
    DEMO_API_URI,
    GROUP_ADMINS,
    GROUP_ENGINEERING,
    GROUP_STAFF,
    TENANT_ID,
)
from tests.auth.browser import Browser
from tests.e2e.policy_support import (
    NO_ROLE_APP,
    NO_ROLE_APP_SECRET,
    UNREFERENCED_GROUP,
    EchoUpstream,
    app_token,
    obo_token,
    run_echo,
    send,
    tenant,
    user_token,
)
from tests.support.proxy import Proxy, free_port, run_proxy

SESSION_KEY = "policy-e2e-session-key-0123456789abcdef"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TODAY = datetime.now(UTC)
# Every day but today and tomorrow (UTC): never now, even if the run crosses midnight.
CLOSED_DAYS = [
    d for d in DAYS if d not in {DAYS[_TODAY.weekday()], DAYS[(_TODAY + timedelta(1)).weekday()]}
]


def _session(path: str, rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"path": path, "rules": rules, **extra}


def _bearer(path: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"path": path, "accept": ["bearer"], "api": "demo-api", "rules": rules}


ROUTES: list[dict[str, Any]] = [
    # people with an app role, signed in with a password
    _session("/admin", [{"name": "admins", "allow": {"roles": ["Portal.Admin"], "amr": ["pwd"]}}]),
    # groups by alias; staff read only, admins may write
    _session(
        "/staff",
        [
            {"name": "staff-read", "allow": {"groups": ["staff"], "methods": ["GET", "HEAD"]}},
            {"name": "admins-write", "allow": {"groups": ["admins"]}},
        ],
    ),
    # multi-factor: never true at the dev IdP; password sign-ins only under /mfa/legacy
    _session(
        "/mfa",
        [
            {
                "name": "strong",
                "allow": {"roles": ["Portal.Admin"], "mfa": True},
                "message": "Keys need a multi-factor sign-in.",
            },
            {"name": "legacy", "allow": {"amr": ["pwd"], "paths": ["/mfa/legacy/**"]}},
        ],
    ),
    # path patterns, a deny rule with a message, a monitored deny rule
    _session(
        "/reports",
        [
            {
                "name": "no-exports",
                "deny": {"paths": ["/reports/**/export"]},
                "message": "Exports are disabled.",
            },
            {"name": "no-deletes-yet", "deny": {"methods": ["DELETE"]}, "monitor": True},
            {
                "name": "staff-summaries",
                "allow": {
                    "groups": ["staff"],
                    "methods": ["GET", "HEAD"],
                    "paths": ["/reports/*/summary", "/reports/public/**"],
                },
            },
            {"name": "admins", "allow": {"groups": ["admins"]}},
        ],
    ),
    # source addresses: the proxy's clients here are all 127.0.0.1
    _session("/local", [{"name": "loopback", "allow": {"source_ip": ["127.0.0.1"]}}]),
    _session(
        "/intranet",
        [
            {
                "name": "office-only",
                "deny": {"not": {"source_ip": ["10.0.0.0/8"]}},
                "message": "Reachable from the office network only.",
            },
            {"name": "everyone", "allow": {"signed_in": True}},
        ],
    ),
    # time windows: always open, and one that excludes today and tomorrow
    _session(
        "/hours/open",
        [
            {
                "name": "always",
                "allow": {
                    "time": {
                        "days": list(DAYS),
                        "from": "00:00",
                        "to": "24:00",
                        "zone": "Europe/Paris",
                    }
                },
            }
        ],
    ),
    _session("/hours/closed", [{"name": "closed", "allow": {"time": {"days": CLOSED_DAYS}}}]),
    # roll-out: what the rules refuse passes
    _session(
        "/monitored", [{"name": "admins-only", "allow": {"roles": ["Portal.Admin"]}}], monitor=True
    ),
    # delegated user tokens: read with the scope, write with the API's app role too
    _bearer(
        "/api/user",
        [
            {
                "name": "read",
                "allow": {"kinds": ["user"], "scopes": ["Reports.Read.All"], "methods": ["GET"]},
            },
            {
                "name": "write",
                "allow": {
                    "kinds": ["user"],
                    "scopes": ["Reports.Read.All"],
                    "roles": ["Reports.Write"],
                },
            },
        ],
    ),
    # an authentication context only Alice's tokens carry
    _bearer("/api/sensitive", [{"allow": {"scopes": ["Reports.Read.All"], "acr": ["c1"]}}]),
    _bearer(
        "/api/app", [{"name": "apps", "allow": {"kinds": ["app"], "app_roles": ["Reports.Read"]}}]
    ),
    _bearer(
        "/api/agent",
        [{"name": "agents", "allow": {"kinds": ["agent"], "app_roles": ["Reports.Read"]}}],
    ),
    _bearer(
        "/api/obo",
        [{"name": "middle-tier", "allow": {"kinds": ["obo"], "scopes": ["Reports.Read.All"]}}],
    ),
    _bearer("/api/clients", [{"name": "the-bot", "allow": {"clients": [BOT_CLIENT_ID]}}]),
    # names no machine criterion: apps and agents are refused, people pass
    _bearer("/api/people", [{"name": "anyone", "allow": {"signed_in": True}}]),
]


def _config(port: int, idp: DevIdp, upstream: str) -> dict[str, Any]:
    return {
        "listen": {"port": port},
        "routes": [{**route, "upstream": upstream} for route in ROUTES],
        "policy": {
            # "eng" is an alias no rule uses: not a referenced group.
            "groups": {"staff": GROUP_STAFF, "admins": GROUP_ADMINS, "eng": GROUP_ENGINEERING},
            "names": {"Portal.Admin": "portal-admins", "Reports.Read": "report-readers"},
            "forward_groups": "referenced",
        },
        "auth": {
            "external_url": f"http://127.0.0.1:{port}",
            "providers": [
                {
                    "name": "entra",
                    "type": "entra",
                    "tenant": TENANT_ID,
                    "authority_host": idp.url,
                    "client_id": CLIENT_ID,
                    "client_secret": [{"value": CLIENT_SECRET}],
                }
            ],
            "apis": [
                {"name": "demo-api", "provider": "entra", "audiences": [DEMO_API_ID, DEMO_API_URI]}
            ],
            "session": {"keys": [{"value": SESSION_KEY}], "store": "memory"},
        },
    }


# fixtures: one dev IdP, one upstream, one Portcullis, signed-in browsers and tokens ---------


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def idp(port: int) -> Iterator[DevIdp]:
    with DevIdp(tenant(port)) as running:
        yield running


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoUpstream]:
    with run_echo() as server:
        yield server


@pytest.fixture(scope="module")
def portcullis(
    port: int, idp: DevIdp, echo: EchoUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    tmp = tmp_path_factory.mktemp("policy")
    with run_proxy(_config(port, idp, echo.url), tmp) as running:
        yield running


@pytest.fixture(scope="module")
def callers(portcullis: Proxy, idp: DevIdp) -> dict[str, Browser | str | None]:
    """Everyone who calls: sessions (browsers), and bearer tokens for the demo API."""
    browsers: dict[str, Browser | str | None] = {"anonymous": None}
    for user in ("alice", "bob", "carol"):
        browser = Browser()
        assert browser.login(portcullis.url, user).status == 302
        browsers[user] = browser
    alice_token = user_token(idp, "alice")
    return browsers | {
        "alice-token": alice_token,
        "bob-token": user_token(idp, "bob"),
        "obo": obo_token(idp, alice_token),
        "bot": app_token(idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET),
        "agent": app_token(idp, AGENT_CLIENT_ID, AGENT_CLIENT_SECRET),
        "no-role-app": app_token(idp, NO_ROLE_APP, NO_ROLE_APP_SECRET),
    }


# the decision table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    who: str
    method: str
    path: str
    status: int
    error: str = ""  # the JSON error code of a denial
    message: str = ""  # ... and its message
    seen: dict[str, str] = field(default_factory=dict)  # identity headers the upstream got
    headers: dict[str, str] = field(default_factory=dict)  # sent by the caller

    @property
    def id(self) -> str:
        return f"{self.who} {self.method} {self.path} -> {self.status}"


ALICE = {
    "user": f"{TENANT_ID}/{ALICE_OID}",
    "kind": "user",
    "roles": "Portal.Admin",
    "groups": f"{GROUP_STAFF},{GROUP_ADMINS}",  # not UNREFERENCED_GROUP
    "group-names": "portal-admins,staff,admins",
    "client": CLIENT_ID,
}
BOB = {
    "user": f"{TENANT_ID}/{BOB_OID}",
    "kind": "user",
    "roles": "",
    "groups": GROUP_STAFF,
    "group-names": "staff",
    "client": CLIENT_ID,
}
ALICE_TOKEN = {
    "user": f"{TENANT_ID}/{ALICE_OID}",
    "kind": "user",
    "roles": "Reports.Read,Reports.Write",
    "groups": f"{GROUP_STAFF},{GROUP_ADMINS}",
    "group-names": "report-readers,staff,admins",
    "client": CLIENT_ID,
}
OBO = {**ALICE_TOKEN, "kind": "obo", "client": DEMO_API_ID}
BOT = {
    "user": f"{TENANT_ID}/{BOT_SP_OID}",
    "kind": "app",
    "roles": "Reports.Read",
    "groups": "",
    "group-names": "report-readers",
    "client": BOT_CLIENT_ID,
}
AGENT = {**BOT, "user": f"{TENANT_ID}/{AGENT_SP_OID}", "kind": "agent", "client": AGENT_CLIENT_ID}

FORBIDDEN = "forbidden"
SCOPE = "insufficient_scope"
UNRESOLVED = "group membership could not be resolved"
NO_APPS = "App-only tokens are not allowed here."
READ_ONLY = "You need method in GET, HEAD; or member of admins."
SUMMARIES = "You need path matches /reports/*/summary, /reports/public/**; or member of admins."
NO_MFA = "Keys need a multi-factor sign-in."  # the rule's own message, as written
OFFICE = "Reachable from the office network only."
EXPORTS = "Exports are disabled."
CLOSED = f"You need time within {','.join(CLOSED_DAYS)} 00:00-24:00 UTC."
BOT_ONLY = "You need client app in reporting-bot."
WRITERS = "You need method in GET; or role in Reports.Write."
SPOOFED = {"X-Forwarded-For": "10.1.2.3"}

C = Case
CASES = [
    # roles (and amr: pwd)
    C("alice", "GET", "/admin/users", 200, seen=ALICE),
    C("bob", "GET", "/admin/users", 403, FORBIDDEN, "You need role in Portal.Admin."),
    # groups by alias, read only for staff
    C("bob", "GET", "/staff/wiki", 200, seen=BOB),
    C("bob", "HEAD", "/staff/wiki", 200),
    C("bob", "POST", "/staff/wiki", 403, FORBIDDEN, READ_ONLY),
    C("alice", "POST", "/staff/wiki", 200, seen=ALICE),
    # Carol's token carried the groups overage and no Graph is configured: unknown, fail closed
    C("carol", "GET", "/staff/wiki", 403, "groups-unresolved", UNRESOLVED),
    # mfa never holds at the dev IdP; amr: pwd does
    C("alice", "GET", "/mfa/keys", 403, FORBIDDEN, NO_MFA),
    C("alice", "GET", "/mfa/legacy/keys", 200, seen=ALICE),
    C("bob", "GET", "/mfa/legacy", 200, seen=BOB),
    # path patterns; a deny rule with a message wins over the admins' allow; a monitored deny
    C("bob", "GET", "/reports/q1/summary", 200, seen=BOB),
    C("bob", "GET", "/reports/public", 200),
    C("bob", "GET", "/reports/public/2024/q1", 200),
    C("bob", "GET", "/reports/q1/detail", 403, FORBIDDEN, SUMMARIES),
    C("bob", "GET", "/reports/q1/x/summary", 403, FORBIDDEN, SUMMARIES),
    C("bob", "POST", "/reports/q1/summary", 403, FORBIDDEN, READ_ONLY),
    C("alice", "GET", "/reports/q1/export", 403, FORBIDDEN, EXPORTS),
    C("alice", "GET", "/reports/2024/q1/export", 403, FORBIDDEN, EXPORTS),
    C("alice", "GET", "/reports/q1/detail", 200, seen=ALICE),
    C("alice", "DELETE", "/reports/q1", 200, seen=ALICE),  # "would deny": it passes
    C("bob", "DELETE", "/reports/q1/summary", 403, FORBIDDEN, READ_ONLY),  # monitored, not allowed
    # source addresses; X-Forwarded-For from an untrusted peer changes nothing
    C("bob", "GET", "/local/printer", 200, seen=BOB),
    C("alice", "GET", "/intranet", 403, FORBIDDEN, OFFICE),
    C("alice", "GET", "/intranet/", 403, FORBIDDEN, OFFICE, headers=SPOOFED),
    # time windows
    C("bob", "GET", "/hours/open", 200, seen=BOB),
    C("bob", "GET", "/hours/closed", 403, FORBIDDEN, CLOSED),
    # a monitored route lets what its rules refuse pass
    C("bob", "GET", "/monitored/x", 200, seen=BOB),
    C("alice", "POST", "/monitored/x", 200, seen=ALICE),
    # delegated tokens: scopes, methods, the user's roles on the API, kinds
    C("alice-token", "GET", "/api/user/me", 200, seen=ALICE_TOKEN),
    C("alice-token", "POST", "/api/user/me", 200, seen=ALICE_TOKEN),
    C("bob-token", "GET", "/api/user/me", 200, seen=BOB),  # as in a session
    C("bob-token", "POST", "/api/user/me", 403, SCOPE, WRITERS),
    C("obo", "GET", "/api/user/me", 403, SCOPE, "You need kind in user."),
    C("bot", "GET", "/api/user/me", 403, SCOPE, NO_APPS),
    # an authentication context that Alice's tokens carry and Bob's do not
    C("alice-token", "GET", "/api/sensitive", 200, seen=ALICE_TOKEN),
    C("bob-token", "GET", "/api/sensitive", 403, SCOPE, "You need authentication class in c1."),
    # apps: the app role, and the kind
    C("bot", "GET", "/api/app/reports", 200, seen=BOT),
    C("bot", "POST", "/api/app/reports", 200, seen=BOT),
    C("no-role-app", "GET", "/api/app/reports", 403, SCOPE, "You need app role in Reports.Read."),
    C("agent", "GET", "/api/app/reports", 403, SCOPE, "You need kind in app."),
    C("alice-token", "GET", "/api/app/reports", 403, SCOPE,
      "You need app role in Reports.Read and kind in app."),  # the YAML file sorts keys
    # agents
    C("agent", "GET", "/api/agent/tasks", 200, seen=AGENT),
    C("bot", "GET", "/api/agent/tasks", 403, SCOPE, "You need kind in agent."),
    # on-behalf-of: the middle tier acting for Alice
    C("obo", "GET", "/api/obo/chain", 200, seen=OBO),
    C("alice-token", "GET", "/api/obo/chain", 403, SCOPE, "You need kind in obo."),
    # a client allowlist admits the machine it names, and nobody else
    C("bot", "GET", "/api/clients", 200, seen=BOT),
    C("agent", "GET", "/api/clients", 403, SCOPE, BOT_ONLY),
    C("no-role-app", "GET", "/api/clients", 403, SCOPE, BOT_ONLY),
    C("alice-token", "GET", "/api/clients", 403, SCOPE, BOT_ONLY),
    # a rule that names no machine criterion admits people only
    C("alice-token", "GET", "/api/people", 200, seen=ALICE_TOKEN),
    C("obo", "GET", "/api/people", 200, seen=OBO),
    C("bot", "GET", "/api/people", 403, SCOPE, NO_APPS),
    C("agent", "GET", "/api/people", 403, SCOPE, NO_APPS),
    C("no-role-app", "GET", "/api/people", 403, SCOPE, NO_APPS),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_decision(
    case: Case, portcullis: Proxy, echo: EchoUpstream, callers: dict[str, Browser | str | None]
) -> None:
    response = send(
        portcullis.url + case.path, callers[case.who], method=case.method, headers=case.headers
    )
    assert response.status == case.status, response.body[:400]
    if case.status != 200:
        assert not echo.reached(response)
        body = json.loads(response.body)
        assert (body["error"], body["message"]) == (case.error, case.message)
        if case.error == SCOPE:  # RFC 6750: the same in the challenge
            challenge = response.headers["www-authenticate"]
            assert f'error="insufficient_scope", error_description="{case.message}"' in challenge
        return
    assert echo.reached(response)
    if case.method == "HEAD":
        return
    received = json.loads(response.body)
    assert (received["method"], received["path"]) == (case.method, case.path)
    identity = _identity(received["headers"])
    assert {k: identity.get(k) for k in case.seen} == case.seen


def _identity(headers: dict[str, str]) -> dict[str, str]:
    return {
        k.removeprefix("x-portcullis-"): v
        for k, v in headers.items()
        if k.startswith("x-portcullis-")
    }


# what the table cannot say ------------------------------------------------------------------


def test_anonymous_callers_are_sent_to_sign_in_before_any_rule(
    portcullis: Proxy, echo: EchoUpstream
) -> None:
    browser = Browser()
    for path in ("/admin", "/monitored/x", "/hours/open"):
        page = browser.get(portcullis.url + path, headers={"Accept": "text/html"})
        assert page.status == 302, path
        assert page.location == "/.portcullis/login?rd=" + quote(path, safe="")
        api = send(portcullis.url + path, None)
        assert api.status == 401
        assert json.loads(api.body)["error"] == "unauthenticated"
        assert not echo.reached(page) and not echo.reached(api)


def test_bearer_routes_want_a_valid_token(portcullis: Proxy, echo: EchoUpstream) -> None:
    missing = send(portcullis.url + "/api/app/reports", None)
    assert missing.status == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="portcullis"'
    forged = send(portcullis.url + "/api/app/reports", "not-a-token")
    assert forged.status == 401
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]
    assert not echo.reached(missing) and not echo.reached(forged)


def test_only_referenced_groups_reach_the_upstream(
    portcullis: Proxy, callers: dict[str, Browser | str | None]
) -> None:
    """Alice is in three groups; the rules name two."""
    for who, path in (("alice", "/admin"), ("alice-token", "/api/people")):
        received = json.loads(send(portcullis.url + path, callers[who]).body)["headers"]
        forwarded = received["x-portcullis-groups"].split(",")
        assert forwarded == [GROUP_STAFF, GROUP_ADMINS], who
        # The signed assertion carries the same list.
        payload = received["x-portcullis-assertion"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["groups"] == [GROUP_STAFF, GROUP_ADMINS], who
        assert UNREFERENCED_GROUP not in json.dumps(received)
