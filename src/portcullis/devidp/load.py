"""``--config FILE``: YAML or JSON with users and clients, every problem reported with its key path.

Shape (every key optional; ``users`` / ``clients`` *replace* the demo ones)::

    tenant_id: 7c3e2f4a-1b5d-4c8e-9f00-2a6b8d4e1c10
    public_url: http://idp.test:9400       # issuer host when not the bound address
    signing_key_file: idp-key.pem          # RSA private key (PEM), relative to this file
    users:
      - username: dave                     # sign-in page and login_hint
        name: Dave Demo
        oid: 0b6c...                       # GUID; stable per user
        preferred_username: dave@contoso.example   # default: username@contoso.example
        email: dave@contoso.example        # default: preferred_username
        roles: [Portal.Admin]
        groups: [GUID, ...]
        synthetic_groups: 250              # add N generated group ids (overage demos)
    clients:
      - client_id: GUID
        client_secret: dev-only            # enables client_secret_basic / _post
        jwks: {keys: [...]}                # or jwks_file: ...; enables private_key_jwt
        redirect_uris: [http://127.0.0.1:4180/.portcullis/callback]
        post_logout_redirect_uris: [http://127.0.0.1:4180/]
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from portcullis.config.load import parse_yaml
from portcullis.config.validate import ROOT, ConfigError, Problem, describe_type
from portcullis.devidp import defaults
from portcullis.devidp.keys import SigningKeys
from portcullis.devidp.model import Client, DevIdpConfig, User
from portcullis.jose.keys import KeySet
from portcullis.secret import Secret

__all__ = ["load_config"]

_TOP = {"tenant_id", "public_url", "signing_key_file", "users", "clients"}
_USER = {"username", "name", "oid", "preferred_username", "email", "roles", "groups"}
_USER |= {"synthetic_groups"}
_CLIENT = {"client_id", "client_secret", "jwks", "jwks_file", "redirect_uris"}
_CLIENT |= {"post_logout_redirect_uris", "name"}
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


@dataclass
class _Reader:
    base: Path
    problems: list[Problem] = field(default_factory=list)

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def config(
        self, data: object, *, host: str, port: int, force_bind: bool
    ) -> DevIdpConfig | None:
        top = self.mapping(data, ROOT, _TOP)
        if top is None:
            return None
        tenant_id = self.guid(top, "tenant_id", "", default=defaults.TENANT_ID)
        public_url = self.text(top, "public_url", "")
        if public_url is not None and not _is_http_url(public_url, bare=True):
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
        users = defaults.default_users()
        if "users" in top:
            users = tuple(self.each(top["users"], "users", self.user))
            self.unique([u.username.casefold() for u in users], "users", "username")
            self.unique([u.oid for u in users], "users", "oid")
        clients = (defaults.default_client(),)
        if "clients" in top:
            clients = tuple(self.each(top["clients"], "clients", self.client))
            self.unique([c.client_id for c in clients], "clients", "client_id")
        return DevIdpConfig(
            users=users,
            clients=clients,
            tenant_id=tenant_id or defaults.TENANT_ID,
            host=host,
            port=port,
            force_bind=force_bind,
            public_url=public_url.rstrip("/") if public_url else None,
            signing_key_pem=key_pem,
        )

    def user(self, data: object, path: str) -> User | None:
        item = self.mapping(data, path, _USER)
        if item is None:
            return None
        username = self.text(item, "username", path, required=True) or ""
        preferred = self.text(item, "preferred_username", path) or f"{username}@{defaults.DOMAIN}"
        groups = self.strings(item, "groups", path)
        for i, group in enumerate(groups):
            if not _is_guid(group):
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
        if not redirects:
            self.fail(f"{path}.redirect_uris", "register at least one redirect URI")
        logouts = self.strings(item, "post_logout_redirect_uris", path)
        for key, uris in (("redirect_uris", redirects), ("post_logout_redirect_uris", logouts)):
            for i, uri in enumerate(uris):
                if not _is_http_url(uri):
                    self.fail(f"{path}.{key}[{i}]", "expected an absolute http(s) URL, no fragment")
        return Client(
            client_id=client_id,
            name=self.text(item, "name", path) or "",
            secret=Secret(secret) if secret is not None else None,
            jwks=jwks,
            redirect_uris=redirects,
            post_logout_redirect_uris=logouts,
        )

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

    # -- small typed readers --------------------------------------------------

    def mapping(self, data: object, path: str, allowed: set[str]) -> dict[str, Any] | None:
        if data is None and path == ROOT:
            return {}
        if not isinstance(data, dict):
            self.fail(path, f"expected a mapping, got {describe_type(data)}")
            return None
        for key in data:
            if key not in allowed:
                self.fail(_join(path, str(key)), f"unknown key; expected one of {sorted(allowed)}")
        return data

    def each(self, data: object, path: str, read: Any) -> list[Any]:
        if not isinstance(data, list):
            self.fail(path, f"expected a list, got {describe_type(data)}")
            return []
        return [v for i, item in enumerate(data) if (v := read(item, f"{path}[{i}]")) is not None]

    def text(
        self, item: Mapping[str, Any], key: str, path: str, *, required: bool = False
    ) -> str | None:
        value = item.get(key)
        if value is None:
            if required:
                self.fail(_join(path, key), "required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(_join(path, key), f"expected a non-empty string, got {describe_type(value)}")
            return None
        return value

    def strings(self, item: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(_join(path, key), "expected a list of non-empty strings")
            return ()
        return tuple(value)

    def guid(self, item: Mapping[str, Any], key: str, path: str, *, default: str) -> str | None:
        value = self.text(item, key, path)
        if value is None:
            return None if key in item else default
        if not _is_guid(value):
            self.fail(_join(path, key), "expected a GUID like 7c3e2f4a-1b5d-4c8e-9f00-2a6b8d4e1c10")
            return None
        return value.lower()

    def read_bytes(self, name: str, where: str) -> Secret[bytes] | None:
        try:
            return Secret((self.base / name).read_bytes())
        except OSError as exc:
            self.fail(where, f"cannot read {name!r}: {exc.strerror}")
            return None

    def unique(self, values: list[str], path: str, key: str) -> None:
        seen: set[str] = set()
        for i, value in enumerate(values):
            if value in seen:
                self.fail(f"{path}[{i}].{key}", "duplicate")
            seen.add(value)


def _join(path: str, key: str) -> str:
    return key if path in ("", ROOT) else f"{path}.{key}"


def _is_guid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _is_http_url(value: str, *, bare: bool = False) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        return False
    return not bare or (parts.path in ("", "/") and not parts.query)
