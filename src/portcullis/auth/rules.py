"""A route's ``allow`` rule applied to an identity: one pure function for sessions and tokens.

Returns ``None`` when the identity may pass, else the denial (a :class:`Decision`).
Machines are never admitted by a valid signature and audience alone: an app-only or
agent token needs one of the route's ``app_roles``, or its client app listed in
``clients`` (optionally scoped to a tenant as ``tenant/appid``).
"""

from __future__ import annotations

import base64

import orjson

from portcullis.bearer.principal import TokenFacts
from portcullis.config.auth_schema import Allow
from portcullis.decision import Decision, Reason
from portcullis.identity import Identity, Kind

__all__ = ["evaluate"]

_PEOPLE = (Kind.USER, Kind.ON_BEHALF_OF)
_ANY_PERSON = Allow()
_GROUPS_UNKNOWN = Decision(
    False, Reason.GROUPS_UNRESOLVED, "group membership could not be resolved"
)


def evaluate(
    identity: Identity, allow: Allow | None, token: TokenFacts | None = None
) -> Decision | None:
    rule = allow or _ANY_PERSON
    denied = Reason.INSUFFICIENT_SCOPE if token is not None else Reason.FORBIDDEN
    client = identity.client_id
    if client is not None and _listed(client, identity.tenant_id, rule.deny_clients):
        return Decision(False, denied, f"The client app {client} is not allowed here.")
    if identity.kind.value not in rule.kinds:
        return Decision(
            False, denied, f"Callers of kind '{identity.kind.value}' are not allowed here."
        )
    if identity.kind in _PEOPLE:
        refusal = _person(identity, rule, token, denied)
    else:
        refusal = _machine(identity, rule, denied)
    if refusal is not None:
        return refusal
    if rule.auth_context:
        if token is None:
            # Sessions carry no authentication context (step-up sign-in comes later): deny.
            return Decision(
                False,
                Reason.FORBIDDEN,
                f"Authentication context {rule.auth_context} is required.",
            )
        if rule.auth_context not in token.auth_contexts:
            return _step_up(rule.auth_context, token)
    return None


def _person(
    identity: Identity, rule: Allow, token: TokenFacts | None, denied: Reason
) -> Decision | None:
    if (
        rule.clients
        and token is not None
        and not _listed(identity.client_id or "", identity.tenant_id, rule.clients)
    ):
        return Decision(False, denied, "This client app may not act for users here.")
    if token is not None and rule.scopes and not any(s in identity.scopes for s in rule.scopes):
        return Decision(False, denied, _need("scope", rule.scopes))
    if rule.roles or rule.groups:
        if any(r in identity.roles for r in rule.roles) or any(
            g in identity.groups for g in rule.groups
        ):
            return None
        if rule.groups and identity.groups_unknown:
            return _GROUPS_UNKNOWN
        return Decision(False, denied, _need_any(rule.roles, rule.groups))
    return None


def _machine(identity: Identity, rule: Allow, denied: Reason) -> Decision | None:
    if rule.clients and _listed(identity.client_id or "", identity.tenant_id, rule.clients):
        return None
    if rule.app_roles and any(r in identity.roles for r in rule.app_roles):
        return None
    if not rule.app_roles and not rule.clients:
        return Decision(False, denied, "App-only tokens are not allowed here.")
    return Decision(False, denied, _need("app role", rule.app_roles))


def _listed(client: str, tenant: str | None, entries: list[str]) -> bool:
    """Whether ``client`` (optionally as ``tenant/client``) is listed; no client id never is."""
    if not client:
        return False
    return client in entries or (tenant is not None and f"{tenant}/{client}" in entries)


def _step_up(context: str, token: TokenFacts) -> Decision:
    """CAE: a client that handles claims challenges (xms_cc cp1) gets one; others a 403."""
    if "cp1" in token.capabilities:
        claims = {"access_token": {"acrs": {"essential": True, "value": context}}}
        encoded = base64.b64encode(orjson.dumps(claims)).decode()
        challenge = (
            f'Bearer error="insufficient_claims", claims="{encoded}", '
            f'error_description="authentication context {context} required"'
        )
        return Decision(
            False,
            Reason.INSUFFICIENT_CLAIMS,
            f"Authentication context {context} is required.",
            challenge=challenge.encode(),
        )
    return Decision(
        False, Reason.INSUFFICIENT_SCOPE, f"Authentication context {context} is required."
    )


def _need(what: str, values: list[str]) -> str:
    return f"You need one of the {what}s: " + ", ".join(values) + "."


def _need_any(roles: list[str], groups: list[str]) -> str:
    wanted = [f"role {r}" for r in roles] + [f"group {g}" for g in groups]
    return "You need one of: " + ", ".join(wanted) + "."
