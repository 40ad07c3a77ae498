"""``foreign_tenant``: identities from tenants outside the allowlist."""

from __future__ import annotations

from tests.guardrails.stream import OTHER_TID, TID, obs, rule


def test_allowed_tenants_pass_others_fire() -> None:
    check = rule("foreign_tenant", tenants=[TID.upper()])
    assert check.check(obs(0, tenant_id=TID)) is None
    assert check.check(obs(0, tenant_id=TID.upper())) is None
    assert check.check(obs(0, tenant_id=OTHER_TID)) == (
        f"tenant {OTHER_TID} is not in the allowed tenants"
    )


def test_identities_without_a_tenant_are_not_judged() -> None:
    check = rule("foreign_tenant", tenants=[TID])
    assert check.check(obs(0, "https://idp.example#alice", tenant_id=None)) is None
