"""``--config FILE``: YAML or JSON (users, clients, APIs, grants); every problem names its key path.

Shape (every key optional; ``users`` / ``clients`` / ``apis`` / ``grants``
*replace* the demo ones; the demo grants are kept for the clients and APIs
that still exist)::

    tenant_id: 7c3e2f4a-1b5d-4c8e-9f00-2a6b8d4e1c10
    public_url: http://idp.test:9400       # issuer host when not the bound address
    signing_key_file: idp-key.pem          # RSA private key (PEM), relative to this file
    allow_test_lifetimes: false            # true: token requests may send x-test-lifetime
    users:
      - username: dave                     # sign-in page and login_hint
        name: Dave Demo
        oid: 0b6c...                       # GUID; stable per user
        preferred_username: dave@contoso.example   # default: username@contoso.example
        email: dave@contoso.example        # default: preferred_username
        roles: [Portal.Admin]              # app roles in the ID token (the sign-in client)
        groups: [GUID, ...]
        synthetic_groups: 250              # add N generated group ids (overage demos)
        api_roles: {api://portcullis-demo: [Reports.Write]}   # app roles on APIs
        acrs: [c1]                         # auth contexts in delegated access tokens
    clients:
      - client_id: GUID
        client_secret: dev-only            # enables client_secret_basic / _post
        jwks: {keys: [...]}                # or jwks_file: ...; enables private_key_jwt
        redirect_uris: [http://127.0.0.1:4180/.portcullis/callback]   # none: machine client
        post_logout_redirect_uris: [http://127.0.0.1:4180/]
        service_principal_oid: GUID        # oid/sub of app-only tokens (default: derived)
        agent: false                       # true: Entra Agent ID token shape
    apis:
      - app_id: 9d1c4b7e-3a5f-4e2d-8b6a-1c0e7f9a2b53
        app_id_uri: api://portcullis-demo
        app_roles: [Reports.Read, Reports.Write]
        scopes: [Reports.Read.All]         # delegated permissions (scp)
        access_token_version: 2            # 1: v1.0 tokens (aud = App ID URI)
    grants:                                # client id -> API (URI or app id) -> app roles
      reporting-bot: {api://portcullis-demo: [Reports.Read]}
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from portcullis.config.load import parse_yaml
from portcullis.config.validate import ROOT, ConfigError, Problem, describe_type
from portcullis.devidp import defaults
from portcullis.devidp.keys import SigningKeys
from portcullis.devidp.model import Api, Client, DevIdpConfig, User
from portcullis.devidp.readers import Reader, is_guid, is_http_url, join
from portcullis.jose.keys import KeySet
from portcullis.secret import Secret

__all__ = ["load_config"]

_TOP = {"tenant_id", "public_url", "signing_key_file", "users", "clients", "apis", "grants"}
_TOP |= {"allow_test_lifetimes"}
_USER = {"username", "name", "oid", "preferred_username", "email", "roles", "groups"}
_USER |= {"synthetic_groups", "api_roles", "acrs"}
_CLIENT = {"client_id", "client_secret", "jwks", "jwks_file", "redirect_uris"}
_CLIENT |= {"post_logout_redirect_uris", "name", "service_principal_oid", "agent"}
_API = {"app_id", "app_id_uri", "name", "app_roles", "scopes", "access_token_version"}
_MAX_SYNTHETIC_GROUPS = 2000


def load_config(
    path: str | os.PathLike[str], *, host: str, port: int, force_bind: bool
) -> DevIdpConfig:
    """Read ``path`` over the defaults; raise :class:`ConfigError` listing every problem."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError([Problem(str(path), f"cannot read: {reason}")]) from None
    data = parse_yaml(text, source=str(path))
    reader = _Reader(source.parent)
    config = reader.config(data, host=host, port=port, force_bind=force_bind)
    if reader.problems or config is None:
        raise ConfigError(reader.problems)
    return config


class _Reader(Reader):
    def config(
        self, data: object, *, host: str, port: int, force_bind: bool
    ) -> DevIdpConfig | None:
        top = self.mapping(data, ROOT, _TOP)
        if top is None:
            return None
        tenant_id = self.guid(top, "tenant_id", "", default=defaults.TENANT_ID)
        public_url = self.text(top, "public_url", "")
        if public_url is not None and not is_http_url(public_url, bare=True):
            self.fail(
                "public_url", "expected http(s)://host[:port] with no path, query or fragment"
            )
        key_pem: Secret[bytes] | None = None
        key_file = self.text(top, "signing_key_file", "")
        if key_file is not None:
            key_pem = self.read_bytes(key_file, "signing_key_file")
            try:
                SigningKeys(key_pem) if key_pem is not None else None
            except ValueError as exc:
                self.fail("signing_key_file", f"{key_file!r}: {exc}")
        apis = defaults.default_apis()
        if "apis" in top:
            apis = tuple(self.each(top["apis"], "apis", self.api))
            self.unique([a.app_id for a in apis], "apis", "app_id")
            self.unique([a.app_id_uri for a in apis], "apis", "app_id_uri")
        users = defaults.default_users()
        if "users" in top:
            users = tuple(self.each(top["users"], "users", partial(self.user, apis=apis)))
            self.unique([u.username.casefold() for u in users], "users", "username")
            self.unique([u.oid for u in users], "users", "oid")
        clients = defaults.default_clients()
        if "clients" in top:
            clients = tuple(self.each(top["clients"], "clients", self.client))
            self.unique([c.client_id for c in clients], "clients", "client_id")
        grants = _known_grants(defaults.default_grants(), clients, apis)
        if "grants" in top:
            grants = self.grants(top["grants"], clients, apis)
        return DevIdpConfig(
            users=users,
            clients=clients,
            tenant_id=tenant_id or defaults.TENANT_ID,
            host=host,
            port=port,
            force_bind=force_bind,
            public_url=public_url.rstrip("/") if public_url else None,
            signing_key_pem=key_pem,
            apis=apis,
            grants=grants,
            allow_test_lifetimes=self.flag(top, "allow_test_lifetimes", ""),
        )

    def user(self, data: object, path: str, *, apis: tuple[Api, ...]) -> User | None:
        item = self.mapping(data, path, _USER)
        if item is None:
            return None
        username = self.text(item, "username", path, required=True) or ""
        preferred = self.text(item, "preferred_username", path) or f"{username}@{defaults.DOMAIN}"
        groups = self.strings(item, "groups", path)
        for i, group in enumerate(groups):
            if not is_guid(group):
                self.fail(f"{path}.groups[{i}]", "expected a group object id (GUID)")
        count = item.get("synthetic_groups", 0)
        if (
            not isinstance(count, int)
            or isinstance(count, bool)
            or not 0 <= count <= _MAX_SYNTHETIC_GROUPS
        ):
            self.fail(f"{path}.synthetic_groups", f"expected a number 0..{_MAX_SYNTHETIC_GROUPS}")
            count = 0
        oid = self.guid(item, "oid", path, default=str(uuid.uuid5(uuid.NAMESPACE_URL, username)))
        return User(
            username=username,
            name=self.text(item, "name", path) or username,
            oid=oid or "",
            preferred_username=preferred,
            email=self.text(item, "email", path) or preferred,
            roles=self.strings(item, "roles", path),
            groups=groups + defaults.synthetic_groups(username, count),
            api_roles=self.role_table(item.get("api_roles", {}), f"{path}.api_roles", apis),
            acrs=self.names(item, "acrs", path),
        )

    def client(self, data: object, path: str) -> Client | None:
        item = self.mapping(data, path, _CLIENT)
        if item is None:
            return None
        client_id = self.text(item, "client_id", path, required=True) or ""
        secret = self.text(item, "client_secret", path)
        jwks = self.jwks(item, path)
        if secret is None and jwks is None:
            self.fail(path, "give client_secret, jwks or jwks_file (how the client authenticates)")
        redirects = self.strings(item, "redirect_uris", path)
        if "redirect_uris" in item and not redirects:
            self.fail(f"{path}.redirect_uris", "register at least one (or leave it out: machine)")
        logouts = self.strings(item, "post_logout_redirect_uris", path)
        for key, uris in (("redirect_uris", redirects), ("post_logout_redirect_uris", logouts)):
            for i, uri in enumerate(uris):
                if not is_http_url(uri):
                    self.fail(f"{path}.{key}[{i}]", "expected an absolute http(s) URL, no fragment")
        return Client(
            client_id=client_id,
            name=self.text(item, "name", path) or "",
            secret=Secret(secret) if secret is not None else None,
            jwks=jwks,
            redirect_uris=redirects,
            post_logout_redirect_uris=logouts,
            service_principal_oid=self.guid(item, "service_principal_oid", path, default=None),
            agent=self.flag(item, "agent", path),
        )

    def api(self, data: object, path: str) -> Api | None:
        item = self.mapping(data, path, _API)
        if item is None:
            return None
        app_id = self.guid(item, "app_id", path, default=None)
        if app_id is None and "app_id" not in item:
            self.fail(join(path, "app_id"), "required")
        uri = self.text(item, "app_id_uri", path, required=True) or ""
        if uri and ("://" not in uri or uri.endswith("/") or uri != uri.strip()):
            self.fail(f"{path}.app_id_uri", "expected a URI like api://my-api (no trailing /)")
        version = item.get("access_token_version", 2)
        if version not in (1, 2) or isinstance(version, bool):
            self.fail(f"{path}.access_token_version", "expected 1 or 2")
            version = 2
        return Api(
            app_id=app_id or "",
            app_id_uri=uri,
            name=self.text(item, "name", path) or "",
            app_roles=self.names(item, "app_roles", path),
            scopes=self.names(item, "scopes", path),
            access_token_version=1 if version == 1 else 2,
        )

    def grants(
        self, data: object, clients: tuple[Client, ...], apis: tuple[Api, ...]
    ) -> dict[str, dict[str, tuple[str, ...]]]:
        if not isinstance(data, dict):
            self.fail("grants", f"expected a mapping, got {describe_type(data)}")
            return {}
        known = {c.client_id for c in clients}
        table: dict[str, dict[str, tuple[str, ...]]] = {}
        for client_id, roles in data.items():
            path = f"grants.{client_id}"
            if client_id not in known:
                self.fail(path, "no such client_id under clients")
            table[str(client_id)] = self.role_table(roles, path, apis)
        return table

    def role_table(
        self, data: object, path: str, apis: tuple[Api, ...]
    ) -> dict[str, tuple[str, ...]]:
        """``{API (App ID URI or app id): [app role, ...]}`` → keyed by app id, roles checked."""
        if not isinstance(data, dict):
            self.fail(path, f"expected a mapping of API to app roles, got {describe_type(data)}")
            return {}
        table: dict[str, tuple[str, ...]] = {}
        for resource, roles in data.items():
            where = f"{path}.{resource}"
            api = next((a for a in apis if a.names(str(resource))), None)
            if api is None:
                self.fail(where, "no such API (give an app_id_uri or app_id under apis)")
                continue
            if (
                not isinstance(roles, list)
                or not roles
                or not all(isinstance(r, str) for r in roles)
            ):
                self.fail(where, "expected a non-empty list of app role values")
                continue
            for i, role in enumerate(roles):
                if role not in api.app_roles:
                    self.fail(f"{where}[{i}]", f"{role!r} is not an app role of {api.app_id_uri}")
            table[api.app_id] = tuple(roles)
        return table

    def jwks(self, item: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
        if "jwks" in item and "jwks_file" in item:
            self.fail(path, "give jwks or jwks_file, not both")
            return None
        value: object = item.get("jwks")
        where = f"{path}.jwks"
        if "jwks_file" in item:
            where = f"{path}.jwks_file"
            name = self.text(item, "jwks_file", path)
            raw = self.read_bytes(name, where) if name else None
            if raw is None:
                return None
            try:
                value = json.loads(raw.reveal())
            except ValueError:
                self.fail(where, "not a JSON document")
                return None
        if value is None:
            return None
        keys = value.get("keys") if isinstance(value, dict) else None
        if not isinstance(keys, list) or not keys:
            self.fail(where, 'expected a JWK Set: {"keys": [...]} with at least one key')
            return None
        for i, jwk in enumerate(keys):
            if not isinstance(jwk, dict) or "d" in jwk:
                self.fail(f"{where}.keys[{i}]", "expected a public JWK (no private members)")
            elif not KeySet.from_jwks({"keys": [jwk]}):
                self.fail(f"{where}.keys[{i}]", "not a usable RSA (>= 2048 bits) or EC signing key")
        return {"keys": list(keys)}


def _known_grants(
    grants: Mapping[str, Mapping[str, tuple[str, ...]]],
    clients: tuple[Client, ...],
    apis: tuple[Api, ...],
) -> dict[str, dict[str, tuple[str, ...]]]:
    """The demo grants whose client and API are still configured."""
    client_ids = {c.client_id for c in clients}
    app_ids = {a.app_id for a in apis}
    return {
        client_id: {api: roles for api, roles in table.items() if api in app_ids}
        for client_id, table in grants.items()
        if client_id in client_ids
    }
