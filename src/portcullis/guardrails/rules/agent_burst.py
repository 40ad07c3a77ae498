"""``agent_burst``: more than ``max_requests`` requests within ``window_seconds`` from one
agent (``kinds`` widens it to other kinds)."""

from __future__ import annotations

from portcullis.config.schema import GuardrailRule
from portcullis.guardrails.events import Observation
from portcullis.guardrails.rules.base import Rule, need
from portcullis.guardrails.window import RecentCounts

__all__ = ["AgentBurst"]


class AgentBurst(Rule):
    __slots__ = ("_max", "_recent")

    def __init__(self, spec: GuardrailRule, *, max_identities: int, started: float) -> None:
        span = need(spec.window_seconds, "window_seconds")
        super().__init__(spec, kinds=("agent",), window=span)
        self._max = need(spec.max_requests, "max_requests")
        self._recent = RecentCounts(span, max_identities)

    def check(self, obs: Observation) -> str | None:
        if self._recent.add(obs.identity, obs.time) <= self._max:
            return None
        self._recent.clear(obs.identity)
        return f"more than {self._max} requests within {self._recent.span:g} s"
