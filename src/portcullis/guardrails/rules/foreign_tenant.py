"""``foreign_tenant``: an identity from a tenant outside ``tenants``.

Identities without a tenant id (providers other than Entra ID) are not judged.
"""

from __future__ import annotations

from portcullis.config.schema import GuardrailRule
from portcullis.guardrails.events import Observation
from portcullis.guardrails.rules.base import Rule, need

__all__ = ["ForeignTenant"]


class ForeignTenant(Rule):
    __slots__ = ("_tenants",)

    def __init__(self, spec: GuardrailRule, *, max_identities: int, started: float) -> None:
        super().__init__(spec)
        self._tenants = frozenset(t.lower() for t in need(spec.tenants, "tenants"))

    def check(self, obs: Observation) -> str | None:
        tenant = obs.tenant_id
        if tenant is None or tenant in self._tenants or tenant.lower() in self._tenants:
            return None
        return f"tenant {tenant} is not in the allowed tenants"
