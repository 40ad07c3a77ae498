"""Who can reach a method and URL: the rules reduced by what the request already tells."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portcullis.policy import Context, compile_rules
from portcullis.policy.criterion import Criterion
from portcullis.policy.whocan import (
    Access,
    RuleAccess,
    access_json,
    render_access,
    simplify,
    who_can,
)
from tests.policy.configs import ADMINS, setup

POLICY = {"groups": {"admins": ADMINS}}

ADMIN = {
    "path": "/admin",
    "rules": [
        {"name": "office", "deny": {"not": {"source_ip": ["10.0.0.0/8"]}}},
        {"name": "admins", "allow": {"groups": ["admins"], "mfa": True, "max_auth_age": "8h"}},
        {"name": "helpdesk", "allow": {"roles": ["Helpdesk"], "methods": ["GET", "HEAD"]}},
        {
            "name": "hours",
            "allow": {"roles": ["Night"], "time": {"from": "20:00", "to": "06:00"}},
        },
    ],
}
API = {
    "path": "/api",
    "accept": ["session", "bearer"],
    "api": "api",
    "rules": [
        {"name": "blocked", "deny": {"clients": ["bad-app"]}},
        {"name": "readers", "allow": {"any": [{"via": "session"}, {"scopes": ["Read"]}]}},
        {"name": "jobs", "allow": {"app_roles": ["Sync"], "paths": ["/api/jobs/**"]}},
        {"name": "partners", "allow": {"clients": ["partner-app"], "methods": ["GET"]}},
    ],
}


def ask(method: str, url: str, *routes: dict[str, Any], **extra: Any) -> Access:
    return who_can(setup(*routes, policy=POLICY, **extra), method, url)


def rule(access: Access, name: str) -> RuleAccess:
    return next(r for r in (*access.allows, *access.denies) if r.name == name)


def test_each_rule_reduced_to_what_it_still_asks_for() -> None:
    access = ask("GET", "/admin/users", ADMIN)
    assert access.who == "some"
    admins = rule(access, "admins")
    assert admins.applies and admins.kinds == ("user",)
    assert admins.condition == (
        f"member of admins ({ADMINS}) and multi-factor sign-in"
        " and signed in within the last 28800 s"
    )
    assert admins.grants == (("groups", (f"admins ({ADMINS})",)),)
    assert admins.qualifiers == ("multi-factor sign-in", "signed in within the last 28800 s")
    # the method criterion held, so it is gone; time windows stay as conditions
    assert rule(access, "helpdesk").condition == "role in Helpdesk"
    assert rule(access, "hours").condition == "role in Night and time within " + (
        "mon,tue,wed,thu,fri,sat,sun 20:00-06:00 UTC"
    )
    office = rule(access, "office")
    assert office.applies and office.condition == "not from 10.0.0.0/8"
    assert office.exceptions == ("not from 10.0.0.0/8",)
    assert access.grants == (
        ("roles", ("Helpdesk", "Night")),
        ("groups", (f"admins ({ADMINS})",)),
    )
    assert access.kinds == ("user",)
    assert "sessions only" in access.machines


def test_rules_for_other_methods_do_not_apply() -> None:
    access = ask("POST", "/admin/users", ADMIN)
    helpdesk = rule(access, "helpdesk")
    assert not helpdesk.applies and helpdesk.kinds == ()
    assert helpdesk.condition == "role in Helpdesk and method in GET, HEAD"
    assert access.grants == (("roles", ("Night",)), ("groups", (f"admins ({ADMINS})",)))
    text = render_access(access)
    assert "not for POST /admin/users" in text
    assert "  allow rule helpdesk: role in Helpdesk and method in GET, HEAD" in text


def test_people_and_machines_on_an_api() -> None:
    access = ask("GET", "https://x.example/api/jobs/7", API)
    assert access.kinds == ("user", "obo", "app", "agent")
    readers = rule(access, "readers")
    assert readers.kinds == ("user", "obo")  # machines are never admitted by people's rules
    assert readers.condition == "signed in with a session or scope in Read"
    assert rule(access, "jobs").kinds == ("app", "agent")
    assert rule(access, "jobs").condition == "app role in Sync"
    assert rule(access, "partners").grants == (("client apps", ("partner-app",)),)
    assert access.machines == "admitted only by rule jobs, partners (naming app_roles or clients)"
    assert dict(access.grants) == {
        "scopes": ("Read",),
        "app roles": ("Sync",),
        "client apps": ("partner-app",),
    }
    assert rule(access, "blocked").condition == "client app in bad-app"
    # elsewhere on the API, and for writes, no rule names machines
    other = ask("POST", "/api/reports", API)
    assert other.machines == "refused: no rule that applies here names app_roles or clients"
    assert other.kinds == ("user", "obo")


def test_a_bearer_only_route_has_no_session_people() -> None:
    route = {**API, "accept": ["bearer"]}
    access = ask("GET", "/api/x", route)
    assert rule(access, "readers").condition == "scope in Read"


def test_the_allow_shorthand_reads_the_same() -> None:
    route = {"path": "/api", "accept": ["session", "bearer"], "api": "api"}
    shorthand = {
        **route,
        "allow": {"roles": ["Reader"], "app_roles": ["Sync"], "kinds": ["user", "app"]},
    }
    access = ask("GET", "/api/x", shorthand)
    assert access.kinds == ("user", "app")  # obo and agents are shut out by the kinds rule
    assert rule(access, "kinds").kinds == ("obo", "agent")
    assert rule(access, "people").condition == "kind in user and role in Reader"
    assert rule(access, "machines").kinds == ("app",)
    plain = ask("GET", "/", {"path": "/"})  # no allow at all: any signed-in person
    assert rule(plain, "people").condition == "no further condition"
    assert plain.kinds == ("user",) and plain.who == "some"


def test_everyone_and_nobody() -> None:
    assert ask("GET", "/health", {"path": "/health", "public": True}).who == "everyone"
    no_idp = who_can(setup({"path": "/"}, auth=False), "GET", "/")
    assert no_idp.who == "nobody" and "no identity provider" in no_idp.why
    assert ask("GET", "https://nowhere.example/", {"host": "a.example"}).who == "nobody"
    assert "invalid" in ask("GET", "/%zz", ADMIN).why
    readonly = {
        "rules": [{"allow": {"signed_in": True}}, {"name": "ro", "deny": {"methods": ["POST"]}}]
    }
    blocked = ask("POST", "/", readonly)
    assert (blocked.who, blocked.why) == ("nobody", "deny rule ro refuses every caller here")
    assert ask("GET", "/", readonly).who == "some"
    monitored = {
        "rules": [{"allow": {"signed_in": True}}, {"deny": {"methods": ["POST"]}, "monitor": True}]
    }
    assert ask("POST", "/", monitored).who == "some"
    closed = ask("DELETE", "/admin", ADMIN)
    assert closed.who == "some"  # admins and night staff may
    only_get = {"rules": [{"allow": {"methods": ["GET"]}}]}
    assert ask("PUT", "/", only_get).who == "nobody"


def test_render_and_json() -> None:
    access = ask("GET", "/admin/users", ADMIN)
    text = render_access(access)
    assert text[:4] == [
        "request   GET /admin/users",
        "path      /admin/users",
        "route     routes[0]: host *, path /admin",
        "accepts   session",
    ]
    assert "  rule helpdesk (user): role in Helpdesk" in text
    assert "  rule office: refuses if not from 10.0.0.0/8" in text
    assert "  roles        Helpdesk, Night" in text
    data = json.loads(json.dumps(access_json(access)))
    assert data["who"] == "some" and data["kinds"] == ["user"]
    assert data["grants"]["groups"] == [f"admins ({ADMINS})"]
    assert [r["name"] for r in data["allow_rules"]] == ["admins", "helpdesk", "hours"]
    assert data["deny_rules"][0]["exceptions"] == ["not from 10.0.0.0/8"]
    public = render_access(ask("GET", "/", {"public": True}))
    assert "who       everyone: public route: no sign-in needed" in public


def test_monitor_routes_say_so() -> None:
    access = ask("GET", "/", {"monitor": True, "rules": [{"allow": {"roles": ["A"]}}]})
    assert access.monitor
    assert any(line.startswith("monitor   on") for line in render_access(access))


def _node(expression: dict[str, Any]) -> Any:
    return compile_rules([{"allow": expression}], Context(), "rules").allows[0].node


def _known(name: str, value: bool | None) -> Any:
    return lambda c: value if c.name == name else None


@pytest.mark.parametrize(
    ("expression", "known", "expected"),
    [
        ({"methods": ["GET"]}, _known("methods", True), True),
        ({"methods": ["GET"], "roles": ["A"]}, _known("methods", False), False),
        ({"any": [{"methods": ["GET"]}, {"roles": ["A"]}]}, _known("methods", True), True),
        ({"not": {"methods": ["GET"]}}, _known("methods", True), False),
        ({"not": {"methods": ["GET"]}}, _known("methods", False), True),
    ],
)
def test_simplify_folds_what_is_known(
    expression: dict[str, Any], known: Any, expected: bool
) -> None:
    assert simplify(_node(expression), known) is expected


def test_simplify_keeps_what_is_unknown() -> None:
    reduced = simplify(
        _node({"any": [{"methods": ["GET"]}, {"roles": ["A"]}]}), _known("methods", False)
    )
    assert not isinstance(reduced, bool)
    assert isinstance(reduced.criterion, Criterion) and reduced.criterion.name == "roles"


def test_machines_need_a_rule_that_names_them() -> None:
    route = {
        "accept": ["bearer"],
        "api": "api",
        "rules": [
            {"name": "anyone", "allow": {"signed_in": True}},
            {"name": "apps", "allow": {"kinds": ["app"]}},
        ],
    }
    access = ask("GET", "/", route)
    assert rule(access, "anyone").kinds == ("user", "obo")
    assert rule(access, "apps").kinds == ()
    assert access.kinds == ("user", "obo")
    assert access.machines == "refused: no rule that applies here names app_roles or clients"


def test_sessions_carry_no_scopes_nor_authentication_contexts() -> None:
    route = {
        "rules": [{"name": "s", "allow": {"scopes": ["Read"]}}, {"allow": {"auth_context": "c1"}}]
    }
    access = ask("GET", "/", route)
    assert [(a.applies, a.kinds) for a in access.allows] == [(False, ()), (False, ())]
    assert (access.who, access.kinds) == ("nobody", ())


def test_a_deny_rule_can_shut_a_kind_out() -> None:
    route = {
        "accept": ["bearer"],
        "api": "api",
        "rules": [
            {"name": "no-obo", "deny": {"kinds": ["obo"]}},
            {"name": "anyone", "allow": {"signed_in": True}},
        ],
    }
    access = ask("GET", "/", route)
    assert rule(access, "no-obo").kinds == ("obo",)
    assert access.kinds == ("user",)


def test_conditions_keep_their_grouping() -> None:
    expression = {
        "any": [{"roles": ["A"]}, {"groups": ["admins"]}],
        "not": {"all": [{"roles": ["B"]}, {"mfa": True}]},
    }
    access = ask("GET", "/", {"rules": [{"name": "r", "allow": expression}]})
    assert rule(access, "r").condition == (
        f"(role in A or member of admins ({ADMINS})) and not (role in B and multi-factor sign-in)"
    )
    assert rule(access, "r").exceptions == ("not role in B", "not multi-factor sign-in")
