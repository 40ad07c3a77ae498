"""``app_roles: [...]``: apps and agents holding an application permission (app role).

Machines are admitted only by a rule that names them: this criterion or ``clients``.
"""

from __future__ import annotations

from portcullis.identity import Kind
from portcullis.policy.criterion import Context, Criterion, string_list
from portcullis.policy.facts import Facts

NAME = "app_roles"
_MACHINES = frozenset({Kind.APP, Kind.AGENT})


def compile(value: object, ctx: Context, path: str) -> Criterion:
    roles = string_list(value, path, what="app role")
    wanted = frozenset(roles)

    def test(facts: Facts) -> bool:
        identity = facts.identity
        return identity.kind in _MACHINES and not wanted.isdisjoint(identity.roles)

    return Criterion(
        NAME,
        test,
        "app role in " + ", ".join(roles),
        machines=True,
        grants=(("app roles", roles),),
    )
