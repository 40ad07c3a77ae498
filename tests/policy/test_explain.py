"""One request decided as the gate decides it: path, route, credential, identity, rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from portcullis.policy.explain import (
    BAD_REQUEST,
    NO_ROUTE,
    Caller,
    claims_problems,
    evaluate,
    locate,
    outcome_json,
    parse_time,
    render_outcome,
)
from tests.policy.configs import ADMINS, MIDDLE_TIER, NOW, OID, SIGN_IN_CLIENT, SPA, TID, setup
from tests.policy.configs import claims as person

ADMIN_ONLY = {"path": "/admin", "rules": [{"name": "admins", "allow": {"roles": ["Admin"]}}]}
PUBLIC = {"path": "/public", "public": True}
API = {
    "path": "/api",
    "accept": ["bearer"],
    "api": "api",
    "rules": [
        {"name": "people", "allow": {"kinds": ["user"], "scopes": ["Read"]}},
        {"name": "middle", "allow": {"kinds": ["obo"], "scopes": ["Read"]}},
        {"name": "apps", "allow": {"app_roles": ["Sync"]}},
        {"name": "strong", "allow": {"auth_context": "c1", "paths": ["/api/strong"]}},
    ],
}


def decide(caller: Caller, url: str, method: str = "GET", **kw: Any) -> Any:
    s = setup(ADMIN_ONLY, PUBLIC, API, {"host": "other.example", "path": "/x"})
    return evaluate(s, method, url, caller, now=NOW, **kw)


ADMIN = Caller(person(roles=["Admin"]))


def test_the_decision_is_on_the_normalized_path() -> None:
    # /admin/../public is /public: the public route decides, not /admin's rules.
    outcome = decide(Caller(), "https://portal.example.com/admin/%2e%2e/public")
    assert outcome.request.path == "/public"
    assert outcome.request.route is not None and outcome.request.route.index == 1
    assert (outcome.allow, outcome.reason) == (True, "public")
    # and a dot segment cannot climb into /admin either
    outcome = decide(Caller(person()), "/public/%2E%2E/admin/users")
    assert outcome.request.path == "/admin/users"
    assert (outcome.allow, outcome.reason, outcome.rule) == (False, "forbidden", "default")


def test_role_holder_and_others() -> None:
    assert (decide(ADMIN, "/admin").allow, decide(ADMIN, "/admin").rule) == (True, "admins")
    refused = decide(Caller(person(roles=["User"])), "/admin/x")
    assert (refused.allow, refused.reason) == (False, "forbidden")
    assert refused.message == "You need role in Admin."
    assert "allow rule admins: no match" in refused.reasons


def test_requests_stopped_before_the_rules() -> None:
    assert decide(ADMIN, "/admin/%zz").reason == BAD_REQUEST
    assert decide(ADMIN, "https://other.example/elsewhere").reason == NO_ROUTE
    anonymous = decide(Caller(), "/admin")
    assert (anonymous.allow, anonymous.reason, anonymous.reasons) == (
        False,
        "unauthenticated",
        (),
    )
    assert anonymous.message == "Sign-in required."
    assert decide(Caller(), "/api/x").reason == "token-missing"
    # a session is no credential for a bearer-only route, a token none for a session route
    assert decide(Caller(person(scp="Read")), "/api/x").reason == "token-missing"
    assert decide(Caller(person(roles=["Admin"]), "bearer"), "/admin").reason == "unauthenticated"


def test_without_an_identity_provider_only_public_routes_pass() -> None:
    s = setup(ADMIN_ONLY, PUBLIC, auth=False)
    assert evaluate(s, "GET", "/admin", ADMIN, now=NOW).reason == "sign-in-unavailable"
    assert evaluate(s, "GET", "/public", Caller(), now=NOW).allow


@pytest.mark.parametrize(
    ("claims", "kind", "rule"),
    [
        (person(azp=SPA, scp="Read"), "user", "people"),  # the API's user client
        (person(azp=SIGN_IN_CLIENT, scp="Read"), "user", "people"),  # sign-in clients count
        (person(azp=MIDDLE_TIER, scp="Read"), "obo", "middle"),  # any other client
        (person(azp="sync-app", idtyp="app", roles=["Sync"]), "app", "apps"),
        (person(azp="agent", xms_act_fct="11", roles=["Sync"]), "agent", "apps"),
    ],
)
def test_bearer_tokens_get_their_kind(claims: dict[str, Any], kind: str, rule: str) -> None:
    outcome = decide(Caller(claims, "bearer"), "/api/orders")
    assert outcome.identity is not None and outcome.identity.kind.value == kind
    assert (outcome.allow, outcome.reason, outcome.rule) == (True, "bearer", rule)


def test_an_app_without_a_role_is_refused_with_insufficient_scope() -> None:
    outcome = decide(Caller(person(azp="sync-app", idtyp="app"), "bearer"), "/api/orders")
    assert (outcome.allow, outcome.reason) == (False, "insufficient-scope")


def test_token_overrides_give_the_authentication_context_and_capabilities() -> None:
    token = person(azp=MIDDLE_TIER, scp="Other")
    plain = decide(Caller(token, "bearer"), "/api/strong")
    assert (plain.allow, plain.reason) == (False, "insufficient-scope")
    capable = decide(Caller(token, "bearer", xms_cc=("cp1",)), "/api/strong")
    assert (capable.allow, capable.reason) == (False, "insufficient-claims")
    stepped = decide(Caller(token, "bearer", acrs=("c1",)), "/api/strong")
    assert (stepped.allow, stepped.rule) == (True, "strong")


def test_a_session_identity_keeps_its_claims() -> None:
    outcome = decide(Caller(person(roles=["Admin"], groups=[ADMINS])), "/admin")
    identity = outcome.identity
    assert identity is not None
    assert identity.key == f"{TID}/{OID}" and identity.client_id == SIGN_IN_CLIENT
    assert identity.groups == (ADMINS,)


def test_case_insensitive_routes_match_their_path_rules_in_any_case() -> None:
    route = {
        "path": "/Reports",
        "case_insensitive": True,
        "rules": [{"name": "exports", "allow": {"paths": ["/reports/export/**"]}}],
    }
    s = setup(route)
    outcome = evaluate(s, "GET", "/REPORTS/Export/1", Caller(person()), now=NOW)
    assert (outcome.allow, outcome.rule) == (True, "exports")


def test_the_source_address_and_the_clock_are_facts() -> None:
    route = {
        "rules": [
            {"name": "office", "allow": {"source_ip": ["10.0.0.0/8"], "time": {"from": "08:00"}}}
        ]
    }
    s = setup(route)
    inside = evaluate(s, "GET", "/", Caller(person()), now=NOW, source_ip="10.1.2.3")
    assert inside.allow
    assert not evaluate(s, "GET", "/", Caller(person()), now=NOW, source_ip="192.0.2.1").allow
    early = evaluate(s, "GET", "/", Caller(person()), now=NOW - 60, source_ip="10.1.2.3")
    assert not early.allow


def test_rendered_for_people_and_as_json() -> None:
    outcome = decide(Caller(person(roles=["User"])), "https://portal.example.com/admin/../admin/x")
    lines = render_outcome(outcome)
    assert lines[0] == "request   GET https://portal.example.com/admin/../admin/x"
    assert "path      /admin/x" in lines
    assert "route     routes[0]: host *, path /admin" in lines
    assert f"identity  user {TID}/{OID} (via session)" in lines
    assert "decision  deny (forbidden, rule default)" in lines
    assert "message   You need role in Admin." in lines
    assert lines[lines.index("reasons") + 1 :] == [
        "  allow rule admins: no match",
        "    fail: role in Admin",
    ]
    data = json.loads(json.dumps(outcome_json(outcome)))
    assert data["route"] == {"index": 0, "host": "*", "path": "/admin", "public": False}
    assert data["identity"] == {"kind": "user", "key": f"{TID}/{OID}", "via": "session"}
    assert data["decision"]["reason"] == "forbidden" and data["decision"]["allow"] is False
    assert data["reasons"] == ["allow rule admins: no match", "  fail: role in Admin"]
    assert "identity  anonymous" in render_outcome(decide(Caller(), "/admin"))


def test_locate_keeps_the_host_without_port_and_case() -> None:
    s = setup({"host": "app.example.com"})
    where = locate(s, "GET", "https://App.Example.com.:8443/a//b?q=1")
    assert (where.host, where.path) == ("app.example.com", "/a/b")
    assert where.route is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-01-15T08:00:00Z", NOW),
        ("2027-01-15T09:00:00+01:00", NOW),
        ("2027-01-15T08:00:00", NOW),  # no zone: UTC
        (datetime(2027, 1, 15, 8, tzinfo=UTC), NOW),
        (NOW, NOW),
    ],
)
def test_parse_time(value: object, expected: float) -> None:
    assert parse_time(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "", True, None, float("nan"), [1]])
def test_parse_time_refuses(value: object) -> None:
    with pytest.raises(ValueError, match=r"ISO 8601|finite"):
        parse_time(value)


def test_claims_problems() -> None:
    assert claims_problems({"tid": TID, "exp": 1, "auth_time": 2}) == []
    assert claims_problems(["tid"]) == [("", "expected a mapping of claim names to values")]
    assert claims_problems({"exp": "soon", "auth_time": True}) == [
        ("exp", "expected a whole number of seconds since the epoch"),
        ("auth_time", "expected a whole number of seconds since the epoch"),
    ]
