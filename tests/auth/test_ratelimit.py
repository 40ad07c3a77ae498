"""Starting sign-ins is rate-limited per client address and globally (injected clock)."""

from portcullis.auth.ratelimit import LoginLimiter


def test_one_client_gets_its_burst_then_the_refill_rate() -> None:
    now = [0.0]
    limiter = LoginLimiter(lambda: now[0], per_client_rate=2, per_client_burst=5)
    assert [limiter.allow("10.0.0.1") for _ in range(7)] == [True] * 5 + [False] * 2
    assert limiter.allow("10.0.0.2")  # another address is not affected
    now[0] += 1.0  # two more tokens
    assert [limiter.allow("10.0.0.1") for _ in range(3)] == [True, True, False]


def test_the_global_bucket_bounds_all_sources_together() -> None:
    now = [0.0]
    limiter = LoginLimiter(lambda: now[0], per_client_burst=100, global_rate=10, global_burst=20)
    results = [limiter.allow(f"10.0.{i // 250}.{i % 250}") for i in range(25)]
    assert results.count(True) == 20
    now[0] += 1.0
    assert sum(limiter.allow(f"192.168.0.{i}") for i in range(15)) == 10


def test_memory_stays_bounded_under_many_addresses() -> None:
    limiter = LoginLimiter(lambda: 0.0, max_clients=100, global_burst=10_000)
    for i in range(1_000):
        limiter.allow(f"addr-{i}")
    assert len(limiter._clients) == 100
