"""``signed_in: true``: any authenticated caller (person or machine) — ``false`` never matches.

Policies run only once a caller is authenticated; anonymous requests are sent to sign in
(or answered 401) before any rule is read.
"""

from __future__ import annotations

from portcullis.policy.criterion import Context, Criterion, flag

NAME = "signed_in"


def compile(value: object, ctx: Context, path: str) -> Criterion:
    wanted = flag(value, path)
    return Criterion(
        NAME,
        lambda facts: wanted,
        "signed in" if wanted else "never (signed_in: false)",
        grants=(("signed in", ("anyone",)),) if wanted else (),
    )
