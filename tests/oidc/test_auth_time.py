"""auth_time against a step-up login's max_age (OIDC Core 3.1.2.1, 3.1.3.7 item 13)."""

from __future__ import annotations

import pytest

from portcullis.oidc.auth_time import auth_time_problem

NOW = 1_700_000_000.0
SKEW = 60.0


def _problem(claims: dict[str, object], max_age: int = 300) -> str | None:
    return auth_time_problem(claims, max_age=max_age, now=NOW, leeway=SKEW)


@pytest.mark.parametrize(
    ("auth_time", "max_age"),
    [
        (int(NOW), 0),
        (int(NOW) - 300, 300),
        (int(NOW) - 360, 300),  # the leeway's edge
        (int(NOW) - 60, 0),  # max_age=0 still allows the clock skew
        (int(NOW) + 60, 300),  # the provider's clock a little ahead
    ],
)
def test_recent_enough(auth_time: int, max_age: int) -> None:
    assert _problem({"auth_time": auth_time}, max_age) is None


def test_too_old() -> None:
    assert _problem({"auth_time": int(NOW) - 361}) == "auth_time_stale"
    assert _problem({"auth_time": int(NOW) - 61}, max_age=0) == "auth_time_stale"
    assert _problem({"auth_time": 0}) == "auth_time_stale"


def test_missing() -> None:
    assert _problem({}) == "auth_time_missing"
    assert _problem({"auth_time": None}) == "auth_time_missing"


@pytest.mark.parametrize("value", [True, "1700000000", 1_700_000_000.5, -1, [1], {"t": 1}])
def test_not_a_whole_non_negative_number(value: object) -> None:
    assert _problem({"auth_time": value}) == "auth_time_invalid"


def test_in_the_future() -> None:
    assert _problem({"auth_time": int(NOW) + 61}) == "auth_time_future"
