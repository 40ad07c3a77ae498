"""``tenants: [...]``: identities from these Entra tenants (``tid``), by tenant id."""

from __future__ import annotations

from portcullis.ids import is_guid
from portcullis.policy.criterion import Context, Criterion, PolicyError, PolicyProblem, string_list
from portcullis.policy.facts import Facts

NAME = "tenants"


def compile(value: object, ctx: Context, path: str) -> Criterion:
    tenants = string_list(value, path, what="tenant id")
    problems = [
        PolicyProblem(f"{path}[{i}]", f"{t!r} is not a tenant id (GUID)")
        for i, t in enumerate(tenants)
        if not is_guid(t.lower())
    ]
    if problems:
        raise PolicyError(problems)
    wanted = frozenset(t.lower() for t in tenants)

    def test(facts: Facts) -> bool:
        return facts.identity.tenant_id in wanted

    return Criterion(NAME, test, "tenant in " + ", ".join(tenants), grants=(("tenants", tenants),))
