"""Assemble sign-in from the configuration: providers, session store, cookies, the gate."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from portcullis.assertion import AssertionSigner, generate_key, load_private_key
from portcullis.audit.writer import AuditLog
from portcullis.auth.endpoints import SignInEndpoints
from portcullis.auth.gate import AuthGate
from portcullis.auth.upstream_headers import IdentityHeaderBuilder
from portcullis.bearer.introspection import Introspector
from portcullis.bearer.validator import BearerValidator
from portcullis.config.auth_schema import Auth
from portcullis.config.load import resolve_secrets
from portcullis.control import Handler
from portcullis.graph import GraphHttp, GraphTokens, GroupResolver
from portcullis.guardrails.monitor import Guardrails
from portcullis.http.headers import canonical
from portcullis.ids import GUID_RE
from portcullis.oidc.client_auth import ClientAuth
from portcullis.oidc.fetch import Fetcher
from portcullis.oidc.provider import ProviderClient
from portcullis.session.cache import CachedStore
from portcullis.session.cookie import CookieCodec, cookie_name
from portcullis.session.memory import MemoryStore
from portcullis.session.sqlite import SqliteStore
from portcullis.session.store import SessionStore

__all__ = ["SignIn", "assertion_keys", "build_sign_in"]


@dataclass
class SignIn:
    gate: AuthGate
    endpoints: dict[str, Handler]
    strip_headers: frozenset[bytes]  # configured identity header names, never taken from clients
    store: CachedStore
    fetcher: Fetcher
    graph_http: GraphHttp | None = None

    async def close(self) -> None:
        await self.fetcher.close()
        await self.store.close()
        if self.graph_http is not None:
            await self.graph_http.close()


def assertion_keys(auth: Auth) -> list[ec.EllipticCurvePrivateKey]:
    """The assertion keys from config, or one generated now (call before forking workers)."""
    if auth.assertion.keys is None:
        return [generate_key()]
    secrets = resolve_secrets(auth.assertion.keys, key_path="auth.assertion.keys")
    return [load_private_key(s.reveal().encode()) for s in secrets]


def build_sign_in(
    auth: Auth,
    *,
    keys: Sequence[ec.EllipticCurvePrivateKey],
    audit: Callable[[], AuditLog | None] = lambda: None,
    guardrails: Callable[[], Guardrails | None] = lambda: None,
) -> SignIn:
    clock = time.time
    settings = auth.session
    secure = (
        settings.secure if settings.secure is not None else auth.external_url.startswith("https://")
    )
    codec = CookieCodec.from_secrets(resolve_secrets(settings.keys, key_path="auth.session.keys"))
    inner: SessionStore
    if settings.store == "sqlite":
        inner = SqliteStore(Path(settings.sqlite_path), clock)
    else:
        inner = MemoryStore(clock)
    store = CachedStore(inner, ttl=settings.cache_ttl, clock=clock)
    signer = AssertionSigner(keys, issuer=auth.external_url, lifetime=auth.assertion.lifetime)
    headers = IdentityHeaderBuilder(auth.headers, signer)
    fetcher = Fetcher()
    redirect_uri = auth.external_url + "/.portcullis/callback"
    providers: dict[str, ProviderClient] = {}
    credentials: dict[str, tuple[ClientAuth, ...]] = {}
    for index, config in enumerate(auth.providers):
        where = f"auth.providers[{index}]"
        secrets = (
            resolve_secrets(config.client_secret, key_path=f"{where}.client_secret")
            if config.client_secret
            else ()
        )
        private = (
            resolve_secrets(config.private_key, key_path=f"{where}.private_key")
            if config.private_key
            else ()
        )
        certificate = (
            Path(config.certificate_file).read_bytes() if config.certificate_file else None
        )
        client_auth = ClientAuth.from_config(
            config.client_id, config.client_auth, secrets, private, certificate
        )
        credentials[config.name] = client_auth
        providers[config.name] = ProviderClient(
            config, client_auth=client_auth, redirect_uri=redirect_uri, fetcher=fetcher, clock=clock
        )
    sign_in_clients = {p.client_id for p in auth.providers}
    validators = {}
    for index, api in enumerate(auth.apis):
        provider = providers[api.provider]
        user_clients = sign_in_clients | set(api.user_clients)
        introspector = None
        if api.introspection is not None:
            where = f"auth.apis[{index}].introspection.client_secret"
            introspector = Introspector(
                api.introspection,
                resolve_secrets(api.introspection.client_secret, key_path=where)[0],
                issuer=provider.config.issuer or "",
                audiences=api.audiences,
                user_clients=user_clients,
                fetcher=fetcher,
                clock=clock,
            )
        validators[api.name] = BearerValidator(
            api,
            provider,
            fetcher=fetcher,
            clock=clock,
            user_clients=user_clients,
            introspector=introspector,
        )
    groups, graph_http = _group_resolver(auth, providers, credentials, fetcher, clock)
    session_cookie = cookie_name(settings.cookie_name, secure=secure)
    binding_cookie = cookie_name(settings.cookie_name + "_login", secure=secure)
    gate = AuthGate(
        codec=codec,
        store=store,
        settings=settings,
        cookie=session_cookie,
        strip_cookies=(session_cookie, binding_cookie),
        headers=headers,
        validators=validators,
        groups=groups,
        clock=clock,
        guardrails=guardrails,
    )
    endpoints = SignInEndpoints(
        auth,
        providers=providers,
        store=store,
        codec=codec,
        signer=signer,
        headers=headers,
        session_cookie=session_cookie,
        binding_cookie=binding_cookie,
        secure=secure,
        clock=clock,
        audit=audit,
    )
    strip = frozenset(canonical(name) for name in headers.names)
    return SignIn(gate, endpoints.handlers(), strip, store, fetcher, graph_http)


def _group_resolver(
    auth: Auth,
    providers: dict[str, ProviderClient],
    credentials: dict[str, tuple[ClientAuth, ...]],
    fetcher: Fetcher,
    clock: Callable[[], float],
) -> tuple[GroupResolver | None, GraphHttp | None]:
    """Microsoft Graph for groups overage, with the named provider's own credentials."""
    if auth.graph is None:
        return None, None
    provider = providers[auth.graph.provider].config
    tenants = set(provider.allowed_tenants)
    if provider.tenant and GUID_RE.match(provider.tenant.lower()):
        tenants.add(provider.tenant.lower())
    client_auth = credentials[provider.name]
    if auth.graph.client_id is not None and auth.graph.client_secret is not None:
        secrets = resolve_secrets(auth.graph.client_secret, key_path="auth.graph.client_secret")
        client_auth = ClientAuth.from_config(
            auth.graph.client_id, "client_secret_basic", secrets, (), None
        )
    tokens = GraphTokens(
        authority_host=auth.graph.authority_host or provider.authority_host,
        graph_base=auth.graph.base_url,
        client_auth=client_auth,
        fetcher=fetcher,
        clock=clock,
    )
    http = GraphHttp()
    resolver = GroupResolver(
        graph_base=auth.graph.base_url,
        tokens=tokens,
        http=http,
        clock=clock,
        ttl=auth.graph.ttl,
        negative_ttl=auth.graph.negative_ttl,
        allowed_tenants=frozenset(tenants) or None,
    )
    return resolver, http
