"""``max_token_lifetime: 8h``: a bearer token lives at most this long (``exp`` - ``iat``).

For sensitive routes that must not accept long-lived tokens (Entra's CAE tokens can live
up to 28 hours). A token without ``iat`` never satisfies it; sessions are not tokens and
never satisfy it either (combine with ``via: bearer``, or use ``max_auth_age`` for people).
"""

from __future__ import annotations

from portcullis.policy.criterion import Context, Criterion, duration
from portcullis.policy.facts import Facts

NAME = "max_token_lifetime"


def compile(value: object, ctx: Context, path: str) -> Criterion:
    limit = duration(value, path)

    def test(facts: Facts) -> bool:
        token = facts.token
        if token is None or token.issued_at is None:
            return False
        return token.expires_at - token.issued_at <= limit

    return Criterion(NAME, test, f"a token living at most {limit} s")
