"""The rule kinds, one module each, registered by name (the schema's ``kind``).

:func:`compile_rules` turns the configured rules into :class:`Rule` objects.
"""

from __future__ import annotations

from collections.abc import Sequence

from portcullis.config.schema import GuardrailRule
from portcullis.guardrails.rules.agent_burst import AgentBurst
from portcullis.guardrails.rules.base import Compiler, Rule
from portcullis.guardrails.rules.denials import Denials
from portcullis.guardrails.rules.foreign_tenant import ForeignTenant
from portcullis.guardrails.rules.machine_route import MachineOnHumanRoute
from portcullis.guardrails.rules.new_client import NewClient
from portcullis.guardrails.rules.old_token import OldToken
from portcullis.guardrails.rules.outside_hours import OutsideHours

__all__ = ["KINDS", "Rule", "compile_rule", "compile_rules"]

KINDS: dict[str, Compiler] = {
    "denials": Denials,
    "machine_on_human_route": MachineOnHumanRoute,
    "outside_hours": OutsideHours,
    "new_client": NewClient,
    "foreign_tenant": ForeignTenant,
    "old_token": OldToken,
    "agent_burst": AgentBurst,
}


def compile_rule(spec: GuardrailRule, *, max_identities: int, started: float) -> Rule:
    """One rule; ``started`` (epoch seconds) begins the new-client warm-up."""
    return KINDS[spec.kind](spec, max_identities=max_identities, started=started)


def compile_rules(
    specs: Sequence[GuardrailRule], *, max_identities: int, started: float
) -> tuple[Rule, ...]:
    return tuple(
        compile_rule(spec, max_identities=max_identities, started=started) for spec in specs
    )
