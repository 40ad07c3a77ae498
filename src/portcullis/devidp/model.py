"""The dev IdP's configuration as frozen values: users, clients, APIs, grants, where to listen.

Nothing here reads files or the clock; :mod:`portcullis.devidp.load` builds
these from YAML/JSON, :mod:`portcullis.devidp.defaults` holds the demo set.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from portcullis.ids import is_loopback
from portcullis.secret import Secret

__all__ = ["Api", "BindRefused", "Client", "DevIdpConfig", "User", "is_loopback"]

_SP_NAMESPACE = uuid.UUID("3f6e8a1c-5b7d-4f9e-8a2c-4d6f8b0a2c15")


@dataclass(frozen=True, slots=True)
class User:
    """A demo account. ``username`` is what the sign-in page and ``login_hint`` use."""

    username: str
    name: str
    oid: str
    preferred_username: str
    email: str | None = None
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    api_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    acrs: tuple[str, ...] = ()

    def roles_for(self, api: Api) -> tuple[str, ...]:
        """The app roles this user is assigned on ``api`` (``api_roles`` is keyed by app id)."""
        return self.api_roles.get(api.app_id, ())

    def matches_hint(self, hint: str) -> bool:
        """``alice`` and ``alice@contoso.example`` (any case) both name Alice."""
        folded = hint.casefold()
        return folded in (self.username.casefold(), self.preferred_username.casefold())


@dataclass(frozen=True, slots=True)
class Client:
    """A registered application (an Entra app registration, reduced to what a login needs).

    ``jwks`` is the client's *public* JWK Set (``{"keys": [...]}``) for
    ``private_key_jwt``; ``secret`` enables ``client_secret_basic``/``_post``.
    A client without redirect URIs is a machine client (client credentials
    only). ``service_principal_oid`` is the ``oid``/``sub`` of its app-only
    tokens (derived from the client id when not set); ``agent`` marks an
    Entra Agent ID identity, whose app-only tokens carry the facet claims.
    """

    client_id: str
    redirect_uris: tuple[str, ...] = ()
    secret: Secret[str] | None = None
    post_logout_redirect_uris: tuple[str, ...] = ()
    jwks: Mapping[str, Any] | None = None
    name: str = ""
    service_principal_oid: str | None = None
    agent: bool = False

    @property
    def sp_oid(self) -> str:
        """The service principal's object id: configured, or a stable GUID from the client id."""
        if self.service_principal_oid is not None:
            return self.service_principal_oid
        return str(uuid.uuid5(_SP_NAMESPACE, self.client_id))


@dataclass(frozen=True, slots=True)
class Api:
    """A resource (an app registration that exposes an API).

    ``app_roles`` are the values of its ``appRoles`` (granted to clients and
    users); ``scopes`` its delegated permissions (``scp``).
    ``access_token_version`` is the manifest's ``accessTokenAcceptedVersion``:
    v2 tokens carry ``aud`` = ``app_id``, v1 tokens ``aud`` = ``app_id_uri``.
    ``graph`` reproduces Microsoft Graph's quirks: ``aud`` is the app id even
    in v1 tokens, and the JOSE header carries a ``nonce``.
    """

    app_id: str
    app_id_uri: str
    app_roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    access_token_version: Literal[1, 2] = 2
    name: str = ""
    graph: bool = False

    @property
    def audience(self) -> str:
        if self.access_token_version == 2 or self.graph:
            return self.app_id
        return self.app_id_uri

    def names(self, resource: str) -> bool:
        """Whether ``resource`` (from a scope, before ``/``) identifies this API."""
        return resource.lower() == self.app_id or resource.rstrip("/") == self.app_id_uri


@dataclass(frozen=True, slots=True)
class DevIdpConfig:
    """Everything a :class:`~portcullis.devidp.DevIdp` needs.

    ``port=0`` picks a free port (tests). ``public_url`` (``http://host:port``)
    replaces the bound address in the issuer and endpoint URLs, for when the
    IdP is reached under another name. ``signing_key_pem`` is a PKCS#8 or
    PKCS#1 RSA private key; without it a 2048-bit key is generated at start.
    ``grants`` is the app-role table: client id → API app id → role values.
    ``allow_test_lifetimes`` lets token requests set ``x-test-lifetime``.
    """

    users: tuple[User, ...]
    clients: tuple[Client, ...]
    tenant_id: str
    host: str = "127.0.0.1"
    port: int = 0
    force_bind: bool = False
    public_url: str | None = None
    signing_key_pem: Secret[bytes] | None = field(default=None)
    apis: tuple[Api, ...] = ()
    grants: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict, hash=False)
    allow_test_lifetimes: bool = False

    def client(self, client_id: str) -> Client | None:
        return next((c for c in self.clients if c.client_id == client_id), None)

    def api(self, resource: str) -> Api | None:
        """The API named by an app id or App ID URI (``None`` if not registered here)."""
        return next((a for a in self.apis if a.names(resource)), None)

    def granted_roles(self, client_id: str, api: Api) -> tuple[str, ...]:
        """App roles granted to ``client_id`` on ``api`` — empty means no ``roles`` claim."""
        return tuple(self.grants.get(client_id, {}).get(api.app_id, ()))

    def user(self, hint: str) -> User | None:
        return next((u for u in self.users if u.matches_hint(hint)), None)


class BindRefused(ValueError):
    """A non-loopback address was asked for without ``force_bind``."""
