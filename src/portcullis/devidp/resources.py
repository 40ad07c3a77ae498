"""Which API a ``scope`` names, and which of its permissions: Entra's v2.0 scope syntax.

A scope is ``<resource>/<permission>``, where the resource is an API's App ID
URI or app id (``api://portcullis-demo/.default``,
``9d1c…/Reports.Read.All``); everything before the *last* ``/`` is the
resource. One token is for one resource. ``.default`` means "everything
granted": the app roles for client credentials, all delegated scopes otherwise.
Microsoft Graph is always known (``https://graph.microsoft.com`` or its app
id) so that tests can obtain Graph-shaped tokens. Errors mirror Entra's:
``invalid_resource`` for an unknown API (AADSTS500011), ``invalid_scope``
for anything else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portcullis.devidp.claims import OIDC_SCOPES
from portcullis.devidp.model import Api, DevIdpConfig

__all__ = [
    "DEFAULT",
    "GRAPH",
    "GRAPH_APP_ID",
    "Delegated",
    "ScopeError",
    "app_only_api",
    "delegated",
    "find_api",
]

DEFAULT = ".default"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH = Api(
    app_id=GRAPH_APP_ID,
    app_id_uri="https://graph.microsoft.com",
    name="Microsoft Graph",
    app_roles=("User.Read.All",),
    scopes=("User.Read", "openid", "profile", "email"),
    access_token_version=1,
    graph=True,
)


@dataclass(frozen=True, slots=True)
class ScopeError(Exception):
    """``error`` is ``invalid_scope`` or ``invalid_resource``."""

    error: str
    description: str


@dataclass(frozen=True, slots=True)
class Delegated:
    """A delegated request: the API and the ``scp`` values it will carry."""

    api: Api
    scopes: tuple[str, ...]


def find_api(config: DevIdpConfig, resource: str) -> Api | None:
    """A registered API, or Microsoft Graph; ``None`` if the tenant has no such resource."""
    if GRAPH.names(resource):
        return GRAPH
    return config.api(resource)


def app_only_api(config: DevIdpConfig, scope: str | None) -> Api:
    """Client credentials: ``scope`` must be exactly ``<resource>/.default``."""
    values = (scope or "").split()
    if len(values) != 1:
        raise ScopeError(
            "invalid_scope", "client credentials take exactly one scope: <resource>/.default"
        )
    resource, _, permission = values[0].rpartition("/")
    if not resource or permission != DEFAULT:
        raise ScopeError(
            "invalid_scope",
            "client credentials need a scope of the form <App ID URI or app id>/.default",
        )
    return _api(config, resource)


def delegated(config: DevIdpConfig, scopes: Iterable[str]) -> Delegated | None:
    """The API a user-delegated request names, or ``None`` when every scope is unqualified.

    Unqualified scopes other than the OpenID Connect ones (``openid``,
    ``profile``, ``email``, ``offline_access``) cannot be mixed with an API's.
    """
    qualified = [s for s in scopes if "/" in s]
    if not qualified:
        return None
    others = [s for s in scopes if "/" not in s and s not in OIDC_SCOPES]
    if others:
        raise ScopeError("invalid_scope", f"scopes for more than one resource: {others[0]!r}")
    apis: dict[str, Api] = {}
    names: list[str] = []
    for value in qualified:
        resource, _, permission = value.rpartition("/")
        api = _api(config, resource)
        apis[api.app_id] = api
        names.append(permission)
    if len(apis) > 1:
        raise ScopeError("invalid_scope", "a token is for one resource; request one at a time")
    (api,) = apis.values()
    if DEFAULT in names:
        if len(names) > 1:
            raise ScopeError("invalid_scope", ".default cannot be combined with other scopes")
        names = [s for s in api.scopes if s not in OIDC_SCOPES]
        if not names:
            raise ScopeError("invalid_scope", f"{api.app_id_uri} exposes no delegated scopes")
    elif not api.graph:
        unknown = [n for n in names if n not in api.scopes]
        if unknown:
            raise ScopeError(
                "invalid_scope", f"{api.app_id_uri} has no delegated scope {unknown[0]!r}"
            )
    return Delegated(api, tuple(dict.fromkeys(names)))


def _api(config: DevIdpConfig, resource: str) -> Api:
    api = find_api(config, resource)
    if api is None:
        raise ScopeError(
            "invalid_resource", f"the resource {resource!r} is not registered in this tenant"
        )
    return api
