"""``outside_hours``: a request outside ``hours: {days, from, to, zone}``.

The window is the policy's ``time`` criterion
(:mod:`portcullis.policy.criteria.time_window`), compiled by it, so both read
the same way. Its answer only changes on a minute boundary, so it is computed
once per minute and the other requests of that minute cost a comparison.
"""

from __future__ import annotations

from portcullis.config.schema import GuardrailRule
from portcullis.guardrails.events import Observation
from portcullis.guardrails.rules.base import Rule, need
from portcullis.identity import Identity
from portcullis.policy.criteria.time_window import compile as time_window
from portcullis.policy.criterion import Context
from portcullis.policy.facts import Facts

__all__ = ["OutsideHours"]

_NOBODY = Identity(issuer="", subject="")  # the time criterion reads only the clock


class OutsideHours(Rule):
    __slots__ = ("_hi", "_inside", "_lo", "_summary", "_test")

    def __init__(self, spec: GuardrailRule, *, max_identities: int, started: float) -> None:
        super().__init__(spec)
        criterion = time_window(need(spec.hours, "hours"), Context(), "hours")
        self._test = criterion.test
        self._summary = criterion.summary.removeprefix("time ")
        self._lo = self._hi = 0.0  # the minute [lo, hi) the answer holds for
        self._inside = True

    def check(self, obs: Observation) -> str | None:
        if not self._lo <= obs.time < self._hi:
            self._inside = bool(self._test(Facts(_NOBODY, now=obs.time)))
            self._lo = obs.time // 60 * 60
            self._hi = self._lo + 60
        return None if self._inside else f"request outside {self._summary}"
