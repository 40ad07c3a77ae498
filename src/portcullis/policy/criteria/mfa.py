"""``mfa: true``: the sign-in used multi-factor authentication (``amr`` contains ``mfa``)."""

from __future__ import annotations

from portcullis.policy.criterion import Context, Criterion, flag
from portcullis.policy.facts import Facts

NAME = "mfa"


def compile(value: object, ctx: Context, path: str) -> Criterion:
    wanted = flag(value, path)

    def test(facts: Facts) -> bool:
        return ("mfa" in facts.identity.amr) == wanted

    return Criterion(NAME, test, "multi-factor sign-in" if wanted else "no multi-factor sign-in")
