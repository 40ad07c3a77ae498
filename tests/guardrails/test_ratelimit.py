"""Token buckets per identity with an injected clock: burst, refill, wait times, the LRU bound."""

from __future__ import annotations

import pytest

from portcullis.guardrails.ratelimit import RateLimiter, TokenBucket

T0 = 1_800_000_000.0


def test_a_burst_passes_then_the_next_request_waits_for_one_token() -> None:
    limiter = RateLimiter(requests=6, per=60, burst=3)  # one token every 10 s
    assert [limiter.take("agent", T0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("agent", T0) == pytest.approx(10.0)
    assert limiter.take("agent", T0 + 4) == pytest.approx(6.0)  # a refused request takes nothing


def test_the_bucket_refills_at_requests_per_period_and_no_higher_than_burst() -> None:
    limiter = RateLimiter(requests=6, per=60, burst=3)
    for _ in range(3):
        limiter.take("agent", T0)
    assert limiter.take("agent", T0 + 10) == 0.0  # one token came back
    assert limiter.take("agent", T0 + 10) > 0
    # An hour idle fills the bucket to burst, not to 360 tokens.
    later = T0 + 3600
    assert [limiter.take("agent", later) for _ in range(4)][:3] == [0.0, 0.0, 0.0]
    assert limiter.take("agent", later) > 0


def test_burst_defaults_to_requests() -> None:
    limiter = RateLimiter(requests=5, per=1)
    assert [limiter.take("a", T0) for _ in range(5)] == [0.0] * 5
    assert limiter.take("a", T0) == pytest.approx(0.2)


def test_each_identity_has_its_own_bucket() -> None:
    limiter = RateLimiter(requests=1, per=60)
    assert limiter.take("agent-1", T0) == 0.0
    assert limiter.take("agent-1", T0) > 0
    assert limiter.take("agent-2", T0) == 0.0


def test_at_most_max_keys_buckets_least_recently_used_forgotten_first() -> None:
    limiter = RateLimiter(requests=1, per=60, max_keys=2)
    limiter.take("a", T0)
    limiter.take("b", T0)
    assert limiter.take("a", T0 + 1) > 0  # "a" is now the most recently used
    limiter.take("c", T0 + 2)  # evicts "b"
    assert len(limiter) == 2
    assert limiter.take("a", T0 + 3) > 0  # still remembered: still empty
    assert limiter.take("b", T0 + 3) == 0.0  # forgotten: a full bucket again


def test_a_clock_that_steps_back_refills_nothing() -> None:
    bucket = TokenBucket(1.0, T0)
    assert bucket.take(T0, rate=1.0, capacity=1.0) == 0.0
    assert bucket.take(T0 - 100, rate=1.0, capacity=1.0) == pytest.approx(1.0)
    assert bucket.take(T0 + 1, rate=1.0, capacity=1.0) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"requests": 0, "per": 1},
        {"requests": 1, "per": 0},
        {"requests": 1, "per": 1, "burst": 0},
        {"requests": 1, "per": 1, "max_keys": 0},
    ],
)
def test_nonsense_limits_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(**kwargs)
