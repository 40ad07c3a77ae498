"""A route's ``allow`` shorthand as policy rules.

``allow: {roles, groups, scopes, app_roles, kinds, clients, deny_clients, auth_context}``
(and no ``allow`` at all: any signed-in person) keeps its meaning: people need one of
``roles``/``groups`` when listed, delegated tokens one of ``scopes``, tokens from people
a listed client app when ``clients`` is set; machines one of ``app_roles`` or a listed
client app; ``deny_clients`` refuses whatever else holds.
"""

from __future__ import annotations

from typing import Any

from portcullis.config.auth_schema import Allow

__all__ = ["rules_from_allow"]

_ALL_KINDS = ("user", "app", "agent", "obo")


def rules_from_allow(allow: Allow | None) -> list[dict[str, Any]]:
    rule = allow or Allow()
    rules: list[dict[str, Any]] = []
    if rule.deny_clients:
        rules.append(
            {
                "name": "deny-clients",
                "deny": {"clients": list(rule.deny_clients)},
                "message": "This client app is not allowed here.",
            }
        )
    kinds = [k for k in _ALL_KINDS if k in rule.kinds]
    if len(kinds) < len(_ALL_KINDS):
        rules.append(
            {
                "name": "kinds",
                "deny": {"not": {"kinds": kinds}},
                "message": "Callers of this kind are not allowed here.",
            }
        )
    people = [k for k in kinds if k in ("user", "obo")]
    if people:
        person: dict[str, Any] = {"kinds": people}
        parts: list[dict[str, Any]] = []
        if rule.clients:
            parts.append({"any": [{"via": "session"}, {"clients": list(rule.clients)}]})
        if rule.scopes:
            parts.append({"any": [{"via": "session"}, {"scopes": list(rule.scopes)}]})
        if rule.roles or rule.groups:
            either: list[dict[str, Any]] = []
            if rule.roles:
                either.append({"roles": list(rule.roles)})
            if rule.groups:
                either.append({"groups": list(rule.groups)})
            parts.append(either[0] if len(either) == 1 else {"any": either})
        if rule.auth_context:
            parts.append({"auth_context": rule.auth_context})
        if parts:
            person["all"] = parts
        rules.append({"name": "people", "allow": person})
    machines = [k for k in kinds if k in ("app", "agent")]
    if machines and (rule.app_roles or rule.clients):
        grant: list[dict[str, Any]] = []
        if rule.app_roles:
            grant.append({"app_roles": list(rule.app_roles)})
        if rule.clients:
            grant.append({"clients": list(rule.clients)})
        machine: dict[str, Any] = {"kinds": machines, "any": grant}
        if rule.auth_context:
            machine["auth_context"] = rule.auth_context
        rules.append({"name": "machines", "allow": machine})
    return rules
