"""A route's rule in the shape Apache can check: who may pass, and what cannot be said.

Follows the meaning of ``allow`` (:mod:`portcullis.policy.legacy`): people (kinds
``user``/``obo``) need one of ``roles``/``groups`` when listed; machines (``app``/
``agent``) need one of ``app_roles`` or a listed client app, and are refused otherwise;
``scopes``, ``clients``, ``deny_clients`` and ``auth_context`` restrict further.
Apache sees only headers (front mode) or token claims (openidc mode), so each
generator decides which of these parts it can express; the ones it cannot are
reported, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from portcullis.config.auth_schema import Allow
from portcullis.config.schema import Route
from portcullis.ids import GUID_RE

__all__ = ["Requirement", "requirement"]

_PEOPLE = ("user", "obo")
_MACHINES = ("app", "agent")


@dataclass(frozen=True, slots=True)
class Requirement:
    """Who may pass one route (``public``, or people and machines with their conditions)."""

    public: bool
    policy_rules: bool  # the route uses `rules:` (the policy language): not translated
    people: tuple[str, ...]  # admitted person kinds
    roles: tuple[str, ...]  # people: any of these app roles...
    groups: tuple[str, ...]  # ...or any of these groups (object ids; aliases resolved)
    machines: tuple[str, ...]  # admitted machine kinds (empty: machines refused)
    app_roles: tuple[str, ...]  # machines: any of these app roles...
    clients: tuple[str, ...]  # ...or these client apps ('appid' or 'tenant/appid')
    scopes: tuple[str, ...]  # delegated tokens: any of these scopes
    people_clients: tuple[str, ...]  # tokens from people: through one of these client apps
    deny_clients: tuple[str, ...]
    auth_context: str | None
    unknown_groups: tuple[str, ...]  # entries neither an object id nor a policy.groups alias

    @property
    def any_person(self) -> bool:
        return bool(self.people) and not self.roles and not self.groups


def requirement(route: Route, group_aliases: Mapping[str, str]) -> Requirement:
    if route.public:
        return Requirement(True, False, (), (), (), (), (), (), (), (), (), None, ())
    if getattr(route, "rules", None):
        return Requirement(False, True, (), (), (), (), (), (), (), (), (), None, ())
    allow = route.allow or Allow()
    kinds = tuple(allow.kinds)
    groups: list[str] = []
    unknown: list[str] = []
    for entry in allow.groups:
        resolved = group_aliases.get(entry) or (
            entry.lower() if GUID_RE.match(entry.lower()) else None
        )
        (groups if resolved else unknown).append(resolved or entry)
    machines = tuple(k for k in _MACHINES if k in kinds)
    machine_grant = bool(allow.app_roles or allow.clients)
    return Requirement(
        public=False,
        policy_rules=False,
        people=tuple(k for k in _PEOPLE if k in kinds),
        roles=tuple(allow.roles),
        groups=tuple(groups),
        machines=machines if machine_grant else (),
        app_roles=tuple(allow.app_roles),
        clients=tuple(allow.clients),
        scopes=tuple(allow.scopes),
        people_clients=tuple(allow.clients),
        deny_clients=tuple(allow.deny_clients),
        auth_context=allow.auth_context,
        unknown_groups=tuple(unknown),
    )
