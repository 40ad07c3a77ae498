"""``agent_burst``: more than N requests within S seconds from one agent."""

from __future__ import annotations

from typing import Any

from portcullis.guardrails.events import Observation
from tests.guardrails.stream import AGENT, BOT, fired, monitor, obs, rule

BURST = {"name": "burst", "kind": "agent_burst", "max_requests": 10, "window_seconds": 1}


def agent(at: float, identity: str = AGENT, **fields: Any) -> Observation:
    return obs(at, identity, **{"kind": "agent", "reason": "bearer", **fields})


def test_fires_on_the_request_past_the_limit() -> None:
    check = rule("agent_burst", max_requests=10, window_seconds=1)
    assert [check.check(agent(n * 0.05)) for n in range(10)] == [None] * 10
    assert check.check(agent(0.5)) == "more than 10 requests within 1 s"


def test_denied_requests_count_too() -> None:
    guardrails = monitor(BURST)
    stream = [agent(n / 16, allowed=n % 2 == 0, reason="forbidden") for n in range(11)]
    assert fired(guardrails, stream) == [(10 / 16, "burst")]


def test_only_agents_by_default() -> None:
    guardrails = monitor(BURST)
    users = [obs(n * 0.01) for n in range(50)]
    apps = [obs(n * 0.01, BOT, kind="app") for n in range(50)]
    assert fired(guardrails, users + apps) == []


def test_kinds_widen_it() -> None:
    guardrails = monitor({**BURST, "kinds": ["app", "agent"]})
    apps = [obs(n / 32, BOT, kind="app") for n in range(11)]
    assert fired(guardrails, apps) == [(10 / 32, "burst")]


def test_a_steady_rate_within_the_limit_never_fires() -> None:
    guardrails = monitor(BURST)
    steady = [agent(n * 0.11) for n in range(1000)]  # 9 per second
    assert fired(guardrails, steady) == []
