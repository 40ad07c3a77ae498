"""``scopes: [...]``: a delegated token (user or on-behalf-of) carrying one of these scopes.

Browser sessions carry no scopes: combine with ``via: bearer`` (or ``any``) when a route
accepts both.
"""

from __future__ import annotations

from portcullis.policy.criterion import Context, Criterion, string_list
from portcullis.policy.facts import Facts

NAME = "scopes"


def compile(value: object, ctx: Context, path: str) -> Criterion:
    scopes = string_list(value, path, what="scope")
    wanted = frozenset(scopes)

    def test(facts: Facts) -> bool:
        return not wanted.isdisjoint(facts.identity.scopes)

    return Criterion(NAME, test, "scope in " + ", ".join(scopes), grants=(("scopes", scopes),))
