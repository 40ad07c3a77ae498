"""``old_token``: tokens issued too long ago, or valid too long."""

from __future__ import annotations

from portcullis.guardrails.events import Observation
from tests.guardrails.stream import BOT, obs, rule


def token(age: float | None, lifetime: float | None = 3600.0) -> Observation:
    return obs(0, BOT, kind="app", reason="bearer", token_age=age, token_lifetime=lifetime)


def test_age_past_the_maximum() -> None:
    check = rule("old_token", max_age_minutes=60)
    assert check.check(token(3600)) is None
    assert check.check(token(3601)) == "token issued 60 min ago (at most 60)"


def test_lifetime_past_the_maximum() -> None:
    check = rule("old_token", max_lifetime_minutes=90)
    assert check.check(token(10, 5400)) is None
    assert check.check(token(10, 86400)) == "token valid for 1440 min (at most 90)"


def test_requests_without_a_token_are_not_judged() -> None:
    check = rule("old_token", max_age_minutes=1, max_lifetime_minutes=1)
    assert check.check(token(None, None)) is None
