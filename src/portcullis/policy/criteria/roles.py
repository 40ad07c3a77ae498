"""``roles: [...]``: people (users, and users acting through an app) holding an app role."""

from __future__ import annotations

from portcullis.identity import Kind
from portcullis.policy.criterion import Context, Criterion, string_list
from portcullis.policy.facts import Facts

NAME = "roles"
_PEOPLE = frozenset({Kind.USER, Kind.ON_BEHALF_OF})


def compile(value: object, ctx: Context, path: str) -> Criterion:
    roles = string_list(value, path, what="role")
    wanted = frozenset(roles)

    def test(facts: Facts) -> bool:
        identity = facts.identity
        return identity.kind in _PEOPLE and not wanted.isdisjoint(identity.roles)

    return Criterion(NAME, test, "role in " + ", ".join(roles), grants=(("roles", roles),))
