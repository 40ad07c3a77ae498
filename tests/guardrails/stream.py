"""Helpers for the guardrails tests: observations on a fixed clock, rules from config."""

from __future__ import annotations

from typing import Any

from portcullis.config.schema import GuardrailRule, GuardrailSettings
from portcullis.guardrails.events import Observation
from portcullis.guardrails.monitor import Guardrails
from portcullis.guardrails.rules import Rule, compile_rule, compile_rules

START = 1_763_978_400.0  # Monday 2025-11-24 10:00 UTC
TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
ALICE = f"{TID}/0c3b2f9e-5f7d-4f57-9a55-6a1f0e1d2c3b"
BOB = f"{TID}/9a1e0f3c-2b4d-4c6e-8f7a-1b2c3d4e5f60"
BOT = f"{TID}/1b730954-1685-4b74-9bfd-dac224a7b894"
AGENT = f"{TID}/5d1c7f0e-8a2b-4e3d-9c4f-0a1b2c3d4e5f"
APP = "00000003-0000-0000-c000-000000000000"


def obs(at: float = 0.0, identity: str = ALICE, **fields: Any) -> Observation:
    """An observation ``at`` seconds after :data:`START` (allowed GET by a user)."""
    values: dict[str, Any] = {
        "time": START + at,
        "identity": identity,
        "kind": "user",
        "allowed": True,
        "reason": "signed-in",
        "route": 1,
        "route_path": "/",
        "method": "GET",
        "path": "/home",
        "tenant_id": TID,
        "client_id": APP,
        "source_ip": "192.0.2.10",
    }
    values.update(fields)
    return Observation(**values)


def denied(at: float = 0.0, identity: str = ALICE, **fields: Any) -> Observation:
    return obs(at, identity, allowed=False, reason="forbidden", **fields)


def spec(kind: str, name: str | None = None, **params: Any) -> GuardrailRule:
    return GuardrailRule.model_validate(
        {"name": name or kind.replace("_", "-"), "kind": kind, **params}
    )


def rule(kind: str, *, started: float = START, **params: Any) -> Rule:
    return compile_rule(spec(kind, **params), max_identities=1000, started=started)


def monitor(*rules: dict[str, Any], max_identities: int = 1000, **kwargs: Any) -> Guardrails:
    settings = GuardrailSettings.model_validate(
        {"rules": list(rules), "max_identities": max_identities}
    )
    compiled = compile_rules(settings.rules, max_identities=max_identities, started=START)
    return Guardrails(compiled, max_identities=max_identities, **kwargs)


def fired(guardrails: Guardrails, observations: list[Observation]) -> list[tuple[float, str]]:
    """(seconds after START, rule) of every violation the observations raise."""
    return [(v.time - START, v.rule) for o in observations for v in guardrails.observe(o)]
