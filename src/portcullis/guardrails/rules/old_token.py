"""``old_token``: a bearer token issued more than ``max_age_minutes`` ago, or valid for
more than ``max_lifetime_minutes`` in all (the observation's token age and lifetime).

Requests without a token age (browser sessions, tokens without ``iat``) are not judged.
"""

from __future__ import annotations

from portcullis.config.schema import GuardrailRule
from portcullis.guardrails.events import Observation
from portcullis.guardrails.rules.base import Rule

__all__ = ["OldToken"]

_NEVER = float("inf")


class OldToken(Rule):
    __slots__ = ("_max_age", "_max_lifetime")

    def __init__(self, spec: GuardrailRule, *, max_identities: int, started: float) -> None:
        super().__init__(spec)
        age, lifetime = spec.max_age_minutes, spec.max_lifetime_minutes
        if age is None and lifetime is None:
            raise ValueError("give max_age_minutes, max_lifetime_minutes or both")
        self._max_age = age * 60 if age is not None else _NEVER
        self._max_lifetime = lifetime * 60 if lifetime is not None else _NEVER

    def check(self, obs: Observation) -> str | None:
        age, lifetime = obs.token_age, obs.token_lifetime
        if age is not None and age > self._max_age:
            return f"token issued {age / 60:.0f} min ago (at most {self._max_age / 60:g})"
        if lifetime is not None and lifetime > self._max_lifetime:
            return f"token valid for {lifetime / 60:.0f} min (at most {self._max_lifetime / 60:g})"
        return None
