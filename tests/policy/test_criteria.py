"""Each criterion alone: what it matches, what it does not, and its configuration errors."""

from __future__ import annotations

from typing import Any

import pytest

from portcullis.identity import Kind
from portcullis.policy import Context, PolicyError
from portcullis.policy.criteria import CRITERIA
from portcullis.policy.criterion import Tri
from portcullis.policy.facts import Facts
from tests.policy.helpers import (
    ADMINS,
    CI_APP,
    NOW,
    OTHER_TID,
    SPA,
    STAFF,
    TID,
    facts,
    machine,
    person,
    token,
)


def check(name: str, value: object, f: Facts, **ctx: Any) -> Tri:
    return CRITERIA[name](value, Context(**ctx), f"rules[0].allow.{name}").test(f)


P, F = person, facts
PARIS = {"zone": "Europe/Paris"}
CASES = [
    # (criterion, configured value, facts, expected)
    ("signed_in", True, facts(), True),
    ("signed_in", False, facts(), False),
    ("kinds", ["user"], facts(), True),
    ("kinds", ["app", "agent"], facts(), False),
    ("kinds", ["on-behalf-of"], facts(person(kind=Kind.ON_BEHALF_OF)), True),
    ("roles", ["Portal.Admin"], facts(person(roles=("Portal.Admin",))), True),
    ("roles", ["Portal.Admin"], facts(person(roles=("Portal.User",))), False),
    ("roles", ["Portal.Admin"], facts(machine(roles=("Portal.Admin",))), False),
    ("app_roles", ["Reports.Read.All"], facts(machine(roles=("Reports.Read.All",))), True),
    ("app_roles", ["Reports.Read.All"], facts(person(roles=("Reports.Read.All",))), False),
    ("groups", [ADMINS], facts(person(groups=(ADMINS,))), True),
    ("groups", [ADMINS.upper()], facts(person(groups=(ADMINS,))), True),
    ("groups", [ADMINS], facts(person(groups=(STAFF,))), False),
    ("groups", [ADMINS], facts(person(groups_unknown=True)), None),
    ("groups", ["admins"], facts(person(groups=(ADMINS,))), True),
    ("scopes", ["Reports.Read"], facts(person(scopes=("Reports.Read",)), token=token()), True),
    ("scopes", ["Reports.Read"], facts(person(scopes=("Other",)), token=token()), False),
    ("via", "bearer", facts(token=token()), True),
    ("via", "bearer", facts(), False),
    ("via", "session", facts(), True),
    (
        "claims",
        {"department": {"equals": "Finance"}},
        facts(person(claims={"department": "Finance"})),
        True,
    ),
    (
        "claims",
        {"department": {"equals": "Finance"}},
        facts(person(claims={"department": "finance"})),
        False,
    ),
    ("claims", {"department": {"equals": "Finance"}}, facts(), False),
    (
        "claims",
        {"wids": {"contains": "62e90394"}},
        facts(person(claims={"wids": ["62e90394"]})),
        True,
    ),
    (
        "claims",
        {"email": {"matches": r".*@contoso\.com"}},
        facts(person(claims={"email": "a@contoso.com"})),
        True,
    ),
    (
        "claims",
        {"email": {"matches": r".*@contoso\.com"}},
        facts(person(claims={"email": "a@contoso.com.evil"})),
        False,
    ),
    ("claims", {"ctry": {"in": ["FR", "DE"]}}, facts(person(claims={"ctry": "DE"})), True),
    ("tenants", [TID], facts(), True),
    ("tenants", [OTHER_TID], facts(), False),
    ("clients", [SPA], facts(), True),
    ("clients", [f"{TID}/{CI_APP}"], facts(machine()), True),
    ("clients", [f"{OTHER_TID}/{CI_APP}"], facts(machine()), False),
    ("clients", [CI_APP], facts(machine(client_id=None)), False),
    ("mfa", True, facts(person(amr=("pwd", "mfa"))), True),
    ("mfa", True, facts(person(amr=("pwd",))), False),
    ("amr", ["fido", "rsa"], facts(person(amr=("rsa",))), True),
    ("acr", ["c1"], facts(person(acr=("c1",))), True),
    ("acr", ["c1"], facts(person(acr=("1",))), False),
    ("max_auth_age", "1h", facts(person(auth_time=int(NOW) - 3599)), True),
    ("max_auth_age", "1h", facts(person(auth_time=int(NOW) - 3601)), False),
    ("max_auth_age", 60, facts(person(auth_time=None)), False),
    ("max_token_lifetime", "2h", facts(token=token()), True),
    ("max_token_lifetime", "30m", facts(token=token()), False),
    ("max_token_lifetime", "2h", facts(token=token(issued_at=None)), False),
    ("max_token_lifetime", "2h", facts(), False),
    ("auth_context", "c1", facts(token=token(auth_contexts=("c1",))), True),
    ("auth_context", "c1", facts(token=token()), False),
    ("auth_context", "c1", facts(), False),
    ("source_ip", ["10.0.0.0/8"], facts(source_ip="10.200.0.1"), True),
    ("source_ip", ["10.0.0.0/8"], facts(source_ip="11.0.0.1"), False),
    ("source_ip", ["10.0.0.0/8"], facts(source_ip="::ffff:10.0.0.1"), True),
    ("source_ip", ["2001:db8::/32"], facts(source_ip="2001:db8::5"), True),
    ("source_ip", ["10.0.0.0/8"], facts(source_ip="unix"), False),
    ("methods", ["GET", "HEAD"], facts(method="HEAD"), True),
    ("methods", ["GET", "HEAD"], facts(method="POST"), False),
    ("paths", ["/reports/*"], facts(path="/reports/q1"), True),
    ("paths", ["/reports/*"], facts(path="/reports/q1/detail"), False),
    ("paths", ["/api/**/export"], facts(path="/api/export"), True),
    ("paths", ["/api/**/export"], facts(path="/api/a/b/export"), True),
    ("paths", ["/api/**/export"], facts(path="/api/a/b/export2"), False),
    ("paths", ["/admin/**"], facts(path="/admin"), True),
    ("paths", ["/admin/**"], facts(path="/administrator"), False),
    ("paths", ["/a.b"], facts(path="/axb"), False),
    # NOW is Friday 2027-01-15 08:00 UTC = 09:00 in Paris.
    (
        "time",
        {"days": ["fri"], "from": "08:30", "to": "18:00", "zone": "Europe/Paris"},
        facts(),
        True,
    ),
    ("time", {"days": ["fri"], "from": "08:30", "to": "18:00"}, facts(), False),
    ("time", {"days": ["sat", "sun"]}, facts(), False),
    (
        "time",
        {"days": ["thu"], "from": "22:00", "to": "09:30", "zone": "Europe/Paris"},
        facts(),
        True,
    ),
    (
        "time",
        {"days": ["fri"], "from": "22:00", "to": "09:30", "zone": "Europe/Paris"},
        facts(),
        False,
    ),
]


@pytest.mark.parametrize(("name", "value", "f", "expected"), CASES)
def test_criterion(name: str, value: object, f: Facts, expected: Tri) -> None:
    assert check(name, value, f, group_aliases={"admins": ADMINS}) is expected


def test_case_insensitive_route_paths() -> None:
    assert check("paths", ["/admin/*"], facts(path="/Admin/x"), case_insensitive=True) is True
    assert check("paths", ["/admin/*"], facts(path="/Admin/x")) is False


def test_groups_records_what_the_policy_references() -> None:
    ctx = Context(group_aliases={"admins": ADMINS})
    CRITERIA["groups"](["admins", STAFF], ctx, "p")
    assert ctx.referenced_groups == {ADMINS, STAFF}


BAD = [
    ("kinds", ["robot"], "rules[0].allow.kinds[0]", "unknown kind"),
    ("roles", [], "rules[0].allow.roles", "list"),
    ("roles", ["ok", 3], "rules[0].allow.roles[1]", "non-empty role"),
    ("groups", ["Engineering"], "rules[0].allow.groups[0]", "neither a group object id"),
    ("tenants", ["contoso.com"], "rules[0].allow.tenants[0]", "GUID"),
    ("clients", [f"{TID}/"], "rules[0].allow.clients[0]", "appid"),
    ("claims", {"x": {"near": 1}}, "rules[0].allow.claims.x.near", "unknown test"),
    ("claims", {"x": {"matches": "("}}, "rules[0].allow.claims.x.matches", "regular expression"),
    ("claims", [], "rules[0].allow.claims", "mapping"),
    ("mfa", "yes", "rules[0].allow.mfa", "true or false"),
    ("max_auth_age", "soon", "rules[0].allow.max_auth_age", "duration"),
    ("max_auth_age", 0, "rules[0].allow.max_auth_age", "duration"),
    ("max_token_lifetime", "long", "rules[0].allow.max_token_lifetime", "duration"),
    ("auth_context", "strong", "rules[0].allow.auth_context", "c1..c99"),
    ("source_ip", ["10.0.0.0/33"], "rules[0].allow.source_ip[0]", "CIDR"),
    ("methods", ["get"], "rules[0].allow.methods[0]", "HTTP method"),
    ("paths", ["admin/*"], "rules[0].allow.paths[0]", "start with '/'"),
    ("time", {"days": ["friday"]}, "rules[0].allow.time.days", "mon, tue"),
    ("time", {"from": "8am"}, "rules[0].allow.time.from", "time of day"),
    ("time", {"zone": "Mars/Olympus"}, "rules[0].allow.time.zone", "unknown time zone"),
    ("time", {"start": "08:00"}, "rules[0].allow.time.start", "unknown key"),
    ("via", "cookie", "rules[0].allow.via", "session"),
]


@pytest.mark.parametrize(("name", "value", "path", "message"), BAD)
def test_configuration_errors_carry_their_key_path(
    name: str, value: object, path: str, message: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        CRITERIA[name](value, Context(), f"rules[0].allow.{name}")
    assert caught.value.problems[0].path == path
    assert message in str(caught.value)
