"""``groups: [...]``: members of a group, by object id or by an alias from ``policy.groups``.

Names in tokens are mutable and never matched; aliases are resolved to object ids at
load. When the token carried a groups overage and Microsoft Graph could not answer,
membership is *unknown*: the criterion answers ``None`` and the policy fails closed.
"""

from __future__ import annotations

from portcullis.ids import is_guid
from portcullis.policy.criterion import (
    Context,
    Criterion,
    PolicyError,
    PolicyProblem,
    Tri,
    string_list,
)
from portcullis.policy.facts import Facts

NAME = "groups"


def compile(value: object, ctx: Context, path: str) -> Criterion:
    entries = string_list(value, path, what="group object id or alias")
    ids: list[str] = []
    problems = []
    for i, entry in enumerate(entries):
        group = ctx.group_aliases.get(entry) or (entry.lower() if is_guid(entry.lower()) else None)
        if group is None:
            problems.append(
                PolicyProblem(
                    f"{path}[{i}]",
                    f"{entry!r} is neither a group object id nor an alias in policy.groups",
                )
            )
        else:
            ids.append(group)
    if problems:
        raise PolicyError(problems)
    ctx.referenced_groups.update(ids)
    wanted = frozenset(ids)

    def test(facts: Facts) -> Tri:
        identity = facts.identity
        if not wanted.isdisjoint(identity.groups):
            return True
        return None if identity.groups_unknown else False

    return Criterion(NAME, test, "member of " + ", ".join(entries), grants=(("groups", entries),))
