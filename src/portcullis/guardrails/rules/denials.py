"""``denials``: ``count`` denials for one identity within ``window_minutes``."""

from __future__ import annotations

from portcullis.config.schema import GuardrailRule
from portcullis.guardrails.events import Observation
from portcullis.guardrails.rules.base import Rule, need
from portcullis.guardrails.window import RecentCounts

__all__ = ["Denials"]


class Denials(Rule):
    __slots__ = ("_count", "_recent")

    def __init__(self, spec: GuardrailRule, *, max_identities: int, started: float) -> None:
        span = need(spec.window_minutes, "window_minutes") * 60
        super().__init__(spec, outcomes=frozenset({False}), window=span)
        self._count = need(spec.count, "count")
        self._recent = RecentCounts(span, max_identities)

    def check(self, obs: Observation) -> str | None:
        if self._recent.add(obs.identity, obs.time) < self._count:
            return None
        self._recent.clear(obs.identity)
        minutes = self._recent.span / 60
        return f"{self._count} denials within {minutes:g} min (last: {obs.reason})"
