"""``auth_context: c1``: the token carries this Conditional Access authentication context.

Tokens get it in ``acrs``. A client that handles claims challenges (``xms_cc`` contains
``cp1``) failing only this gets a CAE ``insufficient_claims`` challenge to step up.
"""

from __future__ import annotations

import re

from portcullis.policy.criterion import Context, Criterion, Hint, PolicyError, PolicyProblem
from portcullis.policy.facts import Facts

NAME = "auth_context"
_CONTEXT = re.compile(r"^c([1-9]|[1-9][0-9])$")


def compile(value: object, ctx: Context, path: str) -> Criterion:
    if not isinstance(value, str) or not _CONTEXT.match(value):
        raise PolicyError([PolicyProblem(path, "expected an authentication context id, c1..c99")])
    context = value

    def test(facts: Facts) -> bool:
        token = facts.token
        if facts.fresh:
            return True
        return token is not None and context in token.auth_contexts

    return Criterion(
        NAME,
        test,
        f"authentication context {context}",
        hint=Hint("auth-context", context),
    )
