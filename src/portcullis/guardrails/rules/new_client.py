"""``new_client``: a client application never seen before.

Apps in ``known_clients`` are never new. Apps seen during the first
``warmup_minutes`` (default 60) after the guardrails start are learned
silently; after that, the first request from an unknown app is a violation
and the app is learned. The learned set lives in memory, per worker: it is
bounded by ``max_identities`` (the least recently seen apps are forgotten) and
starts empty after a restart, which is what the warm-up is for.
"""

from __future__ import annotations

from portcullis.config.schema import GuardrailRule
from portcullis.guardrails.events import Observation
from portcullis.guardrails.rules.base import Rule
from portcullis.guardrails.window import Recent

__all__ = ["DEFAULT_WARMUP", "NewClient"]

DEFAULT_WARMUP = 60.0  # minutes


class NewClient(Rule):
    __slots__ = ("_known", "_learn_until", "_seen")

    def __init__(self, spec: GuardrailRule, *, max_identities: int, started: float) -> None:
        super().__init__(spec)
        warmup = spec.warmup_minutes if spec.warmup_minutes is not None else DEFAULT_WARMUP
        self._learn_until = started + warmup * 60
        self._known = frozenset(spec.known_clients or ())
        self._seen: Recent[bool] = Recent(max_identities)

    def check(self, obs: Observation) -> str | None:
        client = obs.client_id
        if client is None or client in self._known or self._seen.get(client) is not None:
            return None
        self._seen.put(client, True)
        if obs.time < self._learn_until:
            return None
        return f"client app {client} not seen before"
