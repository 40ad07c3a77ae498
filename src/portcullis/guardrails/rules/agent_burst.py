"""``agent_burst``: more than ``max_requests`` requests within ``window_seconds`` from one
agent (``kinds`` widens it to other kinds)."""

from __future__ import annotations

from portcullis.config.schema import GuardrailRule
from portcullis.guardrails.events import Observation
from portcullis.guardrails.rules.base import Rule, need
from portcullis.guardrails.window import Recent, SlidingCount

__all__ = ["AgentBurst"]


class AgentBurst(Rule):
    __slots__ = ("_max", "_recent", "_span")

    def __init__(self, spec: GuardrailRule, *, max_identities: int, started: float) -> None:
        span = need(spec.window_seconds, "window_seconds")
        super().__init__(spec, kinds=("agent",), window=span)
        self._max = need(spec.max_requests, "max_requests")
        self._span = span
        self._recent: Recent[SlidingCount] = Recent(max_identities)

    def check(self, obs: Observation) -> str | None:
        counter = self._recent.get(obs.identity)
        if counter is None:
            counter = SlidingCount(self._span)
            self._recent.put(obs.identity, counter)
        if counter.add(obs.time) <= self._max:
            return None
        counter.clear()
        return f"more than {self._max} requests within {self._span:g} s"
