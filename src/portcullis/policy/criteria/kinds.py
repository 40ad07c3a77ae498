"""``kinds: [user, obo, app, agent]``: the kind of identity (person, on-behalf-of, machine)."""

from __future__ import annotations

from portcullis.identity import Kind
from portcullis.policy.criterion import Context, Criterion, PolicyError, PolicyProblem, string_list

NAME = "kinds"
_ALIASES = {"on-behalf-of": Kind.ON_BEHALF_OF, "on_behalf_of": Kind.ON_BEHALF_OF}


def compile(value: object, ctx: Context, path: str) -> Criterion:
    names = string_list(value, path, what="kind")
    kinds: set[Kind] = set()
    problems = []
    for i, name in enumerate(names):
        kind = _ALIASES.get(name) or (Kind(name) if name in Kind.__members__.values() else None)
        if kind is None:
            problems.append(
                PolicyProblem(f"{path}[{i}]", f"unknown kind {name!r}: user, obo, app or agent")
            )
        else:
            kinds.add(kind)
    if problems:
        raise PolicyError(problems)
    frozen = frozenset(kinds)
    shown = tuple(sorted(k.value for k in frozen))
    return Criterion(
        NAME,
        lambda facts: facts.identity.kind in frozen,
        "kind in " + ", ".join(shown),
        grants=(("kinds", shown),),
    )
