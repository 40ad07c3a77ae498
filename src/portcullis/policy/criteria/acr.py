"""``acr: [...]``: authentication strength: the ``acr`` claim, or a context in ``acrs``."""

from __future__ import annotations

from portcullis.policy.criterion import Context, Criterion, string_list
from portcullis.policy.facts import Facts

NAME = "acr"


def compile(value: object, ctx: Context, path: str) -> Criterion:
    values = string_list(value, path, what="acr value")
    wanted = frozenset(values)

    def test(facts: Facts) -> bool:
        return not wanted.isdisjoint(facts.identity.acr)

    return Criterion(NAME, test, "authentication class in " + ", ".join(values))
