"""``max_auth_age: 1h``: the person signed in (``auth_time``) at most this long ago.

Failing only this, a browser is sent to sign in again (``max_age``, ``prompt=login``)
and a token caller gets RFC 9470's ``insufficient_user_authentication`` challenge.
An identity without ``auth_time`` never satisfies it.
"""

from __future__ import annotations

from portcullis.policy.criterion import Context, Criterion, Hint, duration
from portcullis.policy.facts import Facts

NAME = "max_auth_age"


def compile(value: object, ctx: Context, path: str) -> Criterion:
    limit = duration(value, path)

    def test(facts: Facts) -> bool:
        if facts.fresh:
            return True
        signed_in = facts.identity.auth_time
        return signed_in is not None and facts.now - signed_in <= limit

    return Criterion(
        NAME,
        test,
        f"signed in within the last {limit} s",
        hint=Hint("step-up", str(limit)),
    )
