"""``denials``: N denials for one identity within M minutes."""

from __future__ import annotations

from tests.guardrails.stream import ALICE, BOB, denied, fired, monitor, obs, rule

FIVE_IN_TEN = {"name": "probing", "kind": "denials", "count": 5, "window_minutes": 10}


def test_fires_at_the_threshold_not_before() -> None:
    check = rule("denials", count=5, window_minutes=10)
    results = [check.check(denied(at)) for at in (0, 60, 120, 180)]
    assert results == [None] * 4
    detail = check.check(denied(240))
    assert detail == "5 denials within 10 min (last: forbidden)"


def test_allowed_requests_do_not_count() -> None:
    guardrails = monitor(FIVE_IN_TEN)
    stream = [obs(at) for at in range(0, 100, 10)] + [denied(at) for at in (100, 110, 120, 130)]
    assert fired(guardrails, stream) == []
    assert fired(guardrails, [denied(140)]) == [(140, "probing")]


def test_the_window_slides() -> None:
    guardrails = monitor(FIVE_IN_TEN)
    # One denial every 151 s: never five within 600 s.
    assert fired(guardrails, [denied(151 * n) for n in range(20)]) == []
    # Five within 9 minutes, starting after the old ones left the window.
    burst = [denied(4000 + 135 * n) for n in range(5)]
    assert fired(guardrails, burst) == [(4540, "probing")]


def test_identities_are_counted_apart() -> None:
    guardrails = monitor(FIVE_IN_TEN)
    stream = [denied(n, ALICE if n % 2 else BOB) for n in range(8)]
    assert fired(guardrails, stream) == []
    assert fired(guardrails, [denied(9, BOB)]) == [(9, "probing")]


def test_cooldown_is_the_window_by_default() -> None:
    guardrails = monitor(FIVE_IN_TEN)
    first = [denied(n) for n in range(5)]
    again = [denied(10 + n) for n in range(5)]  # another five, within the cooldown
    after = [denied(700 + n) for n in range(5)]  # cooldown (600 s) over
    assert fired(guardrails, first + again + after) == [(4, "probing"), (704, "probing")]


def test_cooldown_minutes_overrides() -> None:
    guardrails = monitor({**FIVE_IN_TEN, "cooldown_minutes": 60})
    stream = [denied(n) for n in range(5)] + [denied(700 + n) for n in range(5)]
    stream += [denied(3700 + n) for n in range(5)]
    assert fired(guardrails, stream) == [(4, "probing"), (3704, "probing")]
