"""``outside_hours``: requests outside {days, from, to, zone} (the policy's time window)."""

from __future__ import annotations

from tests.guardrails.stream import ALICE, BOB, fired, monitor, obs, rule

OFFICE = {
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "from": "08:00",
    "to": "18:00",
    "zone": "Europe/Paris",
}
HOUR = 3600.0  # START is Monday 10:00 UTC, 11:00 in Paris


def test_inside_and_outside() -> None:
    check = rule("outside_hours", hours=OFFICE)
    assert check.check(obs(0)) is None  # Monday 11:00 Paris
    early = check.check(obs(-4 * HOUR))  # 07:00 Paris
    assert early == "request outside within mon,tue,wed,thu,fri 08:00-18:00 Europe/Paris"
    assert check.check(obs(-3 * HOUR)) is None  # 08:00: 'from' is inclusive
    assert check.check(obs(7 * HOUR - 60)) is None  # 17:59
    assert check.check(obs(7 * HOUR)) is not None  # 18:00: 'to' is exclusive
    assert check.check(obs(5 * 24 * HOUR)) is not None  # Saturday 11:00


def test_the_answer_changes_on_the_minute() -> None:
    check = rule("outside_hours", hours=OFFICE)
    last_second = 7 * HOUR - 1  # 17:59:59 Paris
    assert check.check(obs(last_second - 30)) is None
    assert check.check(obs(last_second)) is None
    assert check.check(obs(last_second + 1)) is not None
    assert check.check(obs(last_second)) is None  # the clock is the observation's


def test_overnight_window() -> None:
    check = rule("outside_hours", hours={"from": "22:00", "to": "06:00"})  # UTC, every day
    assert check.check(obs(13 * HOUR)) is None  # 23:00
    assert check.check(obs(19 * HOUR)) is None  # Tuesday 05:00
    assert check.check(obs(21 * HOUR)) is not None  # Tuesday 07:00


def test_once_per_identity_per_cooldown() -> None:
    guardrails = monitor({"name": "night", "kind": "outside_hours", "hours": OFFICE})
    night = 12 * HOUR
    stream = [obs(night + n * 60, ALICE) for n in range(30)] + [obs(night + 5, BOB)]
    assert fired(guardrails, stream) == [(night, "night"), (night + 5, "night")]
