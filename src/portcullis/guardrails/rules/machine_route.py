"""``machine_on_human_route``: an app-only or agent token on a path meant for people.

``paths`` are patterns as in the policy's ``paths`` criterion (``*`` within a
segment, ``**`` any number of segments). By default a request there is a
violation whether it was allowed or denied: a denied one is a machine probing
where it has no business, an allowed one means the policy let it through.
``allowed_only: true`` keeps only the second. ``kinds`` defaults to app and agent.
"""

from __future__ import annotations

import re

from portcullis.config.schema import GuardrailRule
from portcullis.guardrails.events import Observation
from portcullis.guardrails.rules.base import Rule, need
from portcullis.policy.criteria.paths import glob_regex

__all__ = ["MachineOnHumanRoute"]


class MachineOnHumanRoute(Rule):
    __slots__ = ("_match", "_prefixes")

    def __init__(self, spec: GuardrailRule, *, max_identities: int, started: float) -> None:
        outcomes = frozenset({True}) if spec.allowed_only else frozenset({True, False})
        super().__init__(spec, kinds=("app", "agent"), outcomes=outcomes)
        patterns = need(spec.paths, "paths")
        self._match = re.compile("|".join(f"(?:{glob_regex(p)})" for p in patterns)).fullmatch
        # The literal part before the first '*': a cheap test that rules most paths out.
        self._prefixes = tuple(p.partition("*")[0].removesuffix("/") or "/" for p in patterns)

    def check(self, obs: Observation) -> str | None:
        if not obs.path.startswith(self._prefixes) or self._match(obs.path) is None:
            return None
        outcome = "allowed" if obs.allowed else "denied"
        return f"{obs.kind} token on a human-only path ({outcome})"
