"""Whole route policies: ordered rules, deny wins, default deny, machines, monitor, hints."""

from __future__ import annotations

from typing import Any

import pytest

from portcullis.decision import Reason
from portcullis.identity import Kind
from portcullis.policy import PolicyError
from tests.policy.helpers import (
    ADMINS,
    CI_APP,
    NOW,
    facts,
    machine,
    person,
    policy,
    token,
)

ADMIN_PORTAL: list[dict[str, Any]] = [
    {"name": "blocked-app", "deny": {"clients": ["bad-app"]}, "message": "This app is blocked."},
    {"name": "office-only", "deny": {"not": {"source_ip": ["10.0.0.0/8"]}}},
    {"name": "admins", "allow": {"roles": ["Portal.Admin"], "mfa": True}},
    {"name": "admin-group", "allow": {"groups": [ADMINS], "methods": ["GET"]}},
    {"name": "ci", "allow": {"app_roles": ["Portal.Deploy"], "paths": ["/deploy/**"]}},
]

TABLE = [
    # (identity/request, allowed, reason, rule)
    (facts(person(roles=("Portal.Admin",), amr=("mfa",))), True, Reason.SIGNED_IN, "admins"),
    (facts(person(roles=("Portal.Admin",), amr=("pwd",))), False, Reason.FORBIDDEN, "default"),
    (facts(person(groups=(ADMINS,))), True, Reason.SIGNED_IN, "admin-group"),
    (facts(person(groups=(ADMINS,)), method="POST"), False, Reason.FORBIDDEN, "default"),
    (facts(person(groups_unknown=True)), False, Reason.GROUPS_UNRESOLVED, "default"),
    (
        facts(person(roles=("Portal.Admin",), amr=("mfa",)), source_ip="192.0.2.1"),
        False,
        Reason.FORBIDDEN,
        "office-only",
    ),
    (
        facts(person(roles=("Portal.Admin",), amr=("mfa",), client_id="bad-app")),
        False,
        Reason.FORBIDDEN,
        "blocked-app",
    ),
    (
        facts(machine(roles=("Portal.Deploy",)), path="/deploy/v2", token=token()),
        True,
        Reason.BEARER,
        "ci",
    ),
    (
        facts(machine(roles=("Portal.Deploy",)), path="/admin", token=token()),
        False,
        Reason.INSUFFICIENT_SCOPE,
        "default",
    ),
    (
        facts(machine(), path="/deploy/v2", token=token()),
        False,
        Reason.INSUFFICIENT_SCOPE,
        "default",
    ),
]


@pytest.mark.parametrize(("f", "allowed", "reason", "rule"), TABLE)
def test_decision_table(f: Any, allowed: bool, reason: Reason, rule: str) -> None:
    verdict = policy(ADMIN_PORTAL).decide(f)
    assert (verdict.allow, verdict.reason, verdict.rule) == (allowed, reason, rule)
    if not allowed:
        assert verdict.message
    # explain() decides the same, and lists each rule and criterion.
    explained = policy(ADMIN_PORTAL).explain(f)
    assert (explained.allow, explained.reason, explained.rule) == (allowed, reason, rule)
    assert any(line.startswith("allow rule admins") for line in explained.reasons)


def test_deny_wins_over_an_earlier_allow() -> None:
    rules = [
        {"name": "everyone", "allow": {"signed_in": True}},
        {"name": "no-posts", "deny": {"methods": ["POST"]}, "message": "Read-only."},
    ]
    assert policy(rules).decide(facts()).allow
    verdict = policy(rules).decide(facts(method="POST"))
    assert (verdict.allow, verdict.rule, verdict.message) == (False, "no-posts", "Read-only.")


def test_default_deny_names_what_is_missing() -> None:
    verdict = policy([{"allow": {"roles": ["Portal.Admin"]}}]).decide(facts())
    assert not verdict.allow
    assert verdict.message == "You need role in Portal.Admin."
    assert policy([]).decide(facts()).message == "No rule allows access here."


def test_unknown_group_membership_in_a_deny_rule_fails_closed() -> None:
    rules = [
        {"name": "contractors-out", "deny": {"groups": [ADMINS]}},
        {"allow": {"signed_in": True}},
    ]
    verdict = policy(rules).decide(facts(person(groups_unknown=True)))
    assert (verdict.allow, verdict.reason, verdict.rule) == (
        False,
        Reason.GROUPS_UNRESOLVED,
        "contractors-out",
    )


def test_rules_without_groups_still_work_when_groups_are_unknown() -> None:
    rules = [{"allow": {"roles": ["Reader"]}}, {"allow": {"groups": [ADMINS]}}]
    assert policy(rules).decide(facts(person(groups_unknown=True, roles=("Reader",)))).allow


class TestMachines:
    def test_a_machine_is_never_admitted_by_a_rule_that_does_not_name_machines(self) -> None:
        for rule in (
            {"signed_in": True},
            {"kinds": ["app"]},
            {"tenants": [facts().identity.tenant_id]},
        ):
            verdict = policy([{"allow": rule}]).decide(facts(machine(), token=token()))
            assert not verdict.allow, rule

    def test_the_machine_part_must_hold_not_just_the_rule(self) -> None:
        rules = [{"allow": {"any": [{"app_roles": ["Deploy"]}, {"kinds": ["app"]}]}}]
        assert not policy(rules).decide(facts(machine(), token=token())).allow
        assert policy(rules).decide(facts(machine(roles=("Deploy",)), token=token())).allow

    def test_a_client_allowlist_admits_a_machine(self) -> None:
        rules = [{"allow": {"clients": [CI_APP]}}]
        assert policy(rules).decide(facts(machine(), token=token())).allow

    def test_a_negated_machine_criterion_does_not_admit_machines(self) -> None:
        rules = [{"allow": {"not": {"app_roles": ["Blocked"]}}}]
        assert not policy(rules).decide(facts(machine(), token=token())).allow
        assert policy(rules).decide(facts()).allow


class TestMonitor:
    def test_a_monitored_deny_rule_records_and_passes(self) -> None:
        rules = [
            {"name": "no-writes", "deny": {"methods": ["POST"]}, "monitor": True},
            {"name": "all", "allow": {"signed_in": True}},
        ]
        verdict = policy(rules).decide(facts(method="POST"))
        assert verdict.allow and verdict.rule == "all"
        assert verdict.monitored == ("no-writes",)
        assert policy(rules).decide(facts()).monitored == ()

    def test_a_monitored_route_passes_what_it_would_deny(self) -> None:
        rules = [{"name": "admins", "allow": {"roles": ["Portal.Admin"]}}]
        verdict = policy(rules, monitor=True).decide(facts())
        assert verdict.allow
        assert verdict.monitored == ("default: forbidden",)
        explained = policy(rules, monitor=True).explain(facts())
        assert any("allow rule admins: no match" in line for line in explained.reasons)

    def test_allow_rules_cannot_be_monitored_one_by_one(self) -> None:
        with pytest.raises(PolicyError, match=r"rules\[0\]\.monitor: only deny rules"):
            policy([{"allow": {"signed_in": True}, "monitor": True}])


class TestHints:
    def test_a_stale_sign_in_is_sent_to_sign_in_again(self) -> None:
        rules = [{"name": "recent", "allow": {"roles": ["Admin"], "max_auth_age": "5m"}}]
        stale = person(roles=("Admin",), auth_time=int(NOW) - 3600)
        verdict = policy(rules).decide(facts(stale))
        assert (verdict.allow, verdict.reason, verdict.rule) == (False, Reason.STEP_UP, "recent")
        assert verdict.hint is not None and verdict.hint.value == "300"
        # Without the role, signing in again would not help: a plain 403.
        verdict = policy(rules).decide(facts(person(auth_time=int(NOW) - 3600)))
        assert verdict.reason is Reason.FORBIDDEN

    def test_a_cae_capable_client_gets_a_claims_challenge(self) -> None:
        rules = [{"allow": {"scopes": ["Read"], "auth_context": "c1"}}]
        f = facts(person(scopes=("Read",)), token=token(capabilities=("cp1",)))
        verdict = policy(rules).decide(f)
        assert verdict.reason is Reason.INSUFFICIENT_CLAIMS
        assert verdict.hint is not None and verdict.hint.value == "c1"
        plain = facts(person(scopes=("Read",)), token=token())
        assert policy(rules).decide(plain).reason is Reason.INSUFFICIENT_SCOPE


class TestCompileErrors:
    @pytest.mark.parametrize(
        ("rules", "path", "message"),
        [
            ([{"allow": {}, "deny": {}}], "routes[0].rules[0]", "exactly one"),
            ([{"name": "x"}], "routes[0].rules[0]", "exactly one"),
            ([{"allow": {"rolez": ["a"]}}], "routes[0].rules[0].allow.rolez", "unknown criterion"),
            ([{"allow": {"any": []}}], "routes[0].rules[0].allow.any", "non-empty list"),
            (
                [{"allow": {"all": [{"roles": ["a"]}, {"not": {"kinds": ["x"]}}]}}],
                "routes[0].rules[0].allow.all[1].not.kinds[0]",
                "unknown kind",
            ),
            ([{"allow": {}, "when": 1}], "routes[0].rules[0].when", "unknown key"),
            ([{"allow": {}, "message": "a\nb"}], "routes[0].rules[0].message", "one line"),
            (
                [{"name": "a", "allow": {}}, {"name": "a", "deny": {}}],
                "routes[0].rules[1].name",
                "duplicates",
            ),
            ("allow everyone", "routes[0].rules", "list of rules"),
        ],
    )
    def test_every_problem_has_its_key_path(self, rules: Any, path: str, message: str) -> None:
        with pytest.raises(PolicyError) as caught:
            policy(rules)
        assert path in [p.path for p in caught.value.problems]
        assert message in str(caught.value)

    def test_all_problems_are_reported_at_once(self) -> None:
        with pytest.raises(PolicyError) as caught:
            policy([{"allow": {"roles": []}}, {"deny": {"methods": ["get"]}}])
        assert len(caught.value.problems) == 2


def test_explain_lists_every_rule_and_criterion() -> None:
    verdict = policy(ADMIN_PORTAL).explain(facts(person(roles=("Portal.Admin",), amr=("mfa",))))
    assert verdict.allow and verdict.rule == "admins"
    text = "\n".join(verdict.reasons)
    assert "deny rule office-only: no match" in text
    assert "allow rule admins: matches" in text
    assert "pass: role in Portal.Admin" in text
    assert "pass: multi-factor sign-in" in text


def test_kind_on_behalf_of_is_a_person() -> None:
    rules = [{"allow": {"roles": ["Reader"]}}]
    assert (
        policy(rules)
        .decide(facts(person(kind=Kind.ON_BEHALF_OF, roles=("Reader",)), token=token()))
        .allow
    )


def test_allow_rule_messages_are_shown_as_written_on_default_deny() -> None:
    rules = [
        {"allow": {"roles": ["Staff"]}, "message": "The portal is for staff."},
        {"allow": {"roles": ["Admin"]}},
    ]
    assert policy(rules).decide(facts()).message == "The portal is for staff."
