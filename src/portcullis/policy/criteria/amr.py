"""``amr: [...]``: the sign-in used one of these authentication methods (``amr`` claim)."""

from __future__ import annotations

from portcullis.policy.criterion import Context, Criterion, string_list
from portcullis.policy.facts import Facts

NAME = "amr"


def compile(value: object, ctx: Context, path: str) -> Criterion:
    methods = string_list(value, path, what="authentication method")
    wanted = frozenset(methods)

    def test(facts: Facts) -> bool:
        return not wanted.isdisjoint(facts.identity.amr)

    return Criterion(NAME, test, "authentication method in " + ", ".join(methods))
