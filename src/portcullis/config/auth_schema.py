"""Configuration schema for sign-in: identity providers, sessions, identity headers.

Shape only; the cross-field rules (e.g. a multi-tenant Entra app needs a tenant
allowlist) live in :mod:`portcullis.config.validate`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from portcullis.config.schema import SecretSources, _Model
from portcullis.ids import GUID_RE, is_loopback

__all__ = [
    "Allow",
    "Api",
    "AssertionSettings",
    "Auth",
    "Graph",
    "IdentityHeaders",
    "Introspection",
    "Provider",
    "SessionSettings",
]

_HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


def _check_base_url(value: str) -> str:
    """https, or http on a loopback host (development IdPs and demos)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError("must use https (plain http is allowed only on loopback)")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("must not carry credentials, a query or a fragment")
    return value.rstrip("/")


def _check_guid(value: str) -> str:
    lowered = value.lower()
    if not GUID_RE.match(lowered):
        raise ValueError(f"{value!r} is not a tenant id (GUID)")
    return lowered


def _check_header_name(value: str) -> str:
    if not _HEADER_NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a valid header name")
    return value


SigningAlg = Literal["RS256", "PS256", "ES256"]


def _default_algorithms() -> list[SigningAlg]:
    return ["RS256"]  # Entra signs with RS256 only


BaseUrl = Annotated[str, AfterValidator(_check_base_url)]
Guid = Annotated[str, AfterValidator(_check_guid)]
HeaderName = Annotated[str, AfterValidator(_check_header_name)]


class Provider(_Model):
    """One identity provider: Microsoft Entra ID (``entra``) or any OpenID Provider (``oidc``)."""

    name: str = Field("default", pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    type: Literal["entra", "oidc"]
    tenant: str | None = Field(
        None, description="entra: tenant GUID, verified domain, 'organizations' or 'common'."
    )
    authority_host: BaseUrl = Field(
        "https://login.microsoftonline.com",
        description="entra: the login host (national clouds use their own).",
    )
    allowed_tenants: list[Guid] = Field(
        default_factory=list,
        description="entra: tenants whose users may sign in; required for organizations/common.",
    )
    issuer: BaseUrl | None = Field(None, description="oidc: the issuer URL (discovery base).")
    client_id: str = Field(min_length=1, description="The application (client) id.")
    client_secret: SecretSources | None = Field(
        None, description="Client secrets; the first is used (list them to rotate)."
    )
    client_auth: Literal["client_secret_basic", "client_secret_post", "private_key_jwt"] = (
        "client_secret_basic"
    )
    private_key: SecretSources | None = Field(
        None, description="private_key_jwt: PEM private keys; the first signs."
    )
    certificate_file: str | None = Field(
        None, description="private_key_jwt: the PEM certificate of the first key (x5t#S256)."
    )
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    response_mode: Literal["query", "form_post"] = "query"
    algorithms: list[SigningAlg] = Field(default_factory=_default_algorithms, min_length=1)
    clock_skew: float = Field(60.0, ge=0, le=300, description="Seconds of leeway (≤ 300).")


class SessionSettings(_Model):
    """The browser session: one small encrypted cookie naming a server-side session."""

    cookie_name: str = Field("portcullis", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    secure: bool | None = Field(
        None, description="Secure cookies with the __Host- prefix; default: external_url is https."
    )
    keys: SecretSources = Field(description="Cookie keys (≥ 32 chars); the first encrypts.")
    idle_timeout: float = Field(8 * 3600, gt=0, le=30 * 86400)
    absolute_timeout: float = Field(24 * 3600, gt=0, le=90 * 86400)
    store: Literal["sqlite", "memory"] = "sqlite"
    sqlite_path: str = Field("portcullis-sessions.db", description="Shared by local workers.")
    cache_ttl: float = Field(
        2.0, ge=0, le=60, description="Seconds a worker trusts its cached copy of a session."
    )


class AssertionSettings(_Model):
    """The signed identity assertion sent upstream (ES256)."""

    keys: SecretSources | None = Field(
        None,
        description="PEM EC P-256 private keys; the first signs, all are published. "
        "Without keys one is generated at start (assertions then change keys on restart).",
    )
    lifetime: int = Field(300, ge=120, le=3600, description="Seconds an assertion is valid.")


class IdentityHeaders(_Model):
    """Names of the headers that carry the verified identity to the upstream."""

    user: HeaderName = "X-Portcullis-User"
    email: HeaderName = "X-Portcullis-Email"
    name: HeaderName = "X-Portcullis-Name"
    roles: HeaderName = "X-Portcullis-Roles"
    groups: HeaderName = "X-Portcullis-Groups"
    group_names: HeaderName = "X-Portcullis-Group-Names"
    tenant: HeaderName = "X-Portcullis-Tenant"
    kind: HeaderName = "X-Portcullis-Kind"
    client: HeaderName = "X-Portcullis-Client"
    assertion: HeaderName = "X-Portcullis-Assertion"


class Graph(_Model):
    """Microsoft Graph, to resolve the groups of users and apps whose tokens had an overage."""

    provider: str = Field(
        description="The entra provider whose tenants (and by default "
        "credentials and authority host) to use."
    )
    client_id: str | None = Field(
        None, description="A separate app registration for Graph (default: the provider's)."
    )
    client_secret: SecretSources | None = Field(
        None, description="Its secrets (required with client_id)."
    )
    authority_host: BaseUrl | None = Field(
        None, description="Where Graph tokens are requested (default: the provider's)."
    )
    base_url: BaseUrl = Field(
        "https://graph.microsoft.com", description="National clouds use their own Graph host."
    )
    ttl: float = Field(600.0, gt=0, le=86400, description="Seconds resolved groups are reused.")
    negative_ttl: float = Field(
        30.0, gt=0, le=3600, description="Seconds a failed lookup is remembered."
    )


class Auth(_Model):
    """Sign-in: who may be asked, how sessions are kept, what reaches the upstream."""

    external_url: BaseUrl = Field(
        description="The public base URL of Portcullis; the redirect URI is "
        "external_url + '/.portcullis/callback'."
    )
    providers: list[Provider] = Field(min_length=1)
    session: SessionSettings
    assertion: AssertionSettings = Field(default_factory=AssertionSettings)
    headers: IdentityHeaders = Field(default_factory=IdentityHeaders)
    allowed_redirect_hosts: list[str] = Field(
        default_factory=list, description="Hosts an absolute return URL (rd=) may name."
    )
    apis: list[Api] = Field(
        default_factory=list, description="APIs whose bearer tokens routes may accept."
    )
    graph: Graph | None = Field(
        None,
        description="Resolve groups overage through Microsoft Graph; without it, "
        "group rules fail closed for such identities.",
    )


class Allow(_Model):
    """Who may pass a route that is not public.

    People (browser sessions and delegated tokens): any signed-in user, or holders of any
    of ``roles`` / ``groups``; delegated tokens also need any of ``scopes`` when listed.
    Machines (app-only and agent tokens) are never admitted by a valid signature alone:
    they need any of ``app_roles``, or their client app in ``clients``.
    """

    roles: list[str] = Field(default_factory=list, description="User app roles (any of).")
    groups: list[str] = Field(default_factory=list, description="Group object ids (any of).")
    scopes: list[str] = Field(
        default_factory=list, description="Delegated tokens: scopes (any of), from `scp`."
    )
    app_roles: list[str] = Field(
        default_factory=list, description="App-only and agent tokens: app roles (any of)."
    )
    kinds: list[Literal["user", "app", "agent", "obo"]] = Field(
        default_factory=lambda: ["user", "app", "agent", "obo"],  # type: ignore[arg-type]
        description="Identity kinds admitted at all.",
    )
    clients: list[str] = Field(
        default_factory=list,
        description="Client apps (azp/appid) admitted: 'appid' or 'tenant/appid'. App-only "
        "tokens from a listed client pass without app_roles.",
    )
    deny_clients: list[str] = Field(
        default_factory=list, description="Client apps refused whatever else holds."
    )
    auth_context: str | None = Field(
        None,
        description="An Entra authentication context (acrs value, e.g. c1) the token must carry.",
    )


class Introspection(_Model):
    """RFC 7662 introspection for opaque access tokens of a generic provider."""

    endpoint: BaseUrl
    client_id: str
    client_secret: SecretSources
    cache_seconds: float = Field(60.0, ge=0, le=3600)


class Api(_Model):
    """An API whose bearer tokens Portcullis accepts (an app registration exposing an API)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    provider: str = Field(description="The auth.providers entry whose issuer signs the tokens.")
    audiences: list[str] = Field(
        min_length=1,
        description="Accepted `aud` values, compared exactly: the API's client id and/or App "
        "ID URI (with or without the trailing slash, as Entra issues it).",
    )
    token_versions: list[Literal[1, 2]] = Field(
        default_factory=lambda: [2],  # type: ignore[arg-type]
        description="entra: accepted access-token versions; each is checked against its own "
        "issuer and keys.",
    )
    user_clients: list[str] = Field(
        default_factory=list,
        description="Client apps through which users call this API directly; a delegated "
        "token from any other client is on-behalf-of (kind obo). Sign-in clients count.",
    )
    introspection: Introspection | None = None
