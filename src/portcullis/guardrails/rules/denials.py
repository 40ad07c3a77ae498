"""``denials``: ``count`` denials for one identity within ``window_minutes``."""

from __future__ import annotations

from portcullis.config.schema import GuardrailRule
from portcullis.guardrails.events import Observation
from portcullis.guardrails.rules.base import Rule, need
from portcullis.guardrails.window import Recent, SlidingCount

__all__ = ["Denials"]


class Denials(Rule):
    __slots__ = ("_count", "_recent", "_span")

    def __init__(self, spec: GuardrailRule, *, max_identities: int, started: float) -> None:
        span = need(spec.window_minutes, "window_minutes") * 60
        super().__init__(spec, outcomes=frozenset({False}), window=span)
        self._count = need(spec.count, "count")
        self._span = span
        self._recent: Recent[SlidingCount] = Recent(max_identities)

    def check(self, obs: Observation) -> str | None:
        counter = self._recent.get(obs.identity)
        if counter is None:
            counter = SlidingCount(self._span)
            self._recent.put(obs.identity, counter)
        if counter.add(obs.time) < self._count:
            return None
        counter.clear()
        return f"{self._count} denials within {self._span / 60:g} min (last: {obs.reason})"
