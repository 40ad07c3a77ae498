"""``via: session`` or ``via: bearer``: how the caller proved who they are."""

from __future__ import annotations

from portcullis.policy.criterion import Context, Criterion, PolicyError, PolicyProblem
from portcullis.policy.facts import Facts

NAME = "via"


def compile(value: object, ctx: Context, path: str) -> Criterion:
    if value not in ("session", "bearer"):
        raise PolicyError([PolicyProblem(path, "expected 'session' or 'bearer'")])
    bearer = value == "bearer"

    def test(facts: Facts) -> bool:
        return (facts.token is not None) == bearer

    return Criterion(NAME, test, f"signed in with a {'bearer token' if bearer else 'session'}")
