"""The dev IdP's configuration as frozen values: users, clients, where to listen.

Nothing here reads files or the clock; :mod:`portcullis.devidp.load` builds
these from YAML/JSON, :mod:`portcullis.devidp.defaults` holds the demo set.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portcullis.secret import Secret

__all__ = ["BindRefused", "Client", "DevIdpConfig", "User", "is_loopback"]


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

    def matches_hint(self, hint: str) -> bool:
        """``alice`` and ``alice@contoso.example`` (any case) both name Alice."""
        folded = hint.casefold()
        return folded in (self.username.casefold(), self.preferred_username.casefold())


@dataclass(frozen=True, slots=True)
class Client:
    """A registered application (an Entra app registration, reduced to what a login needs).

    ``jwks`` is the client's *public* JWK Set (``{"keys": [...]}``) for
    ``private_key_jwt``; ``secret`` enables ``client_secret_basic``/``_post``.
    """

    client_id: str
    redirect_uris: tuple[str, ...]
    secret: Secret[str] | None = None
    post_logout_redirect_uris: tuple[str, ...] = ()
    jwks: Mapping[str, Any] | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class DevIdpConfig:
    """Everything a :class:`~portcullis.devidp.DevIdp` needs.

    ``port=0`` picks a free port (tests). ``public_url`` (``http://host:port``)
    replaces the bound address in the issuer and endpoint URLs, for when the
    IdP is reached under another name. ``signing_key_pem`` is a PKCS#8 or
    PKCS#1 RSA private key; without it a 2048-bit key is generated at start.
    """

    users: tuple[User, ...]
    clients: tuple[Client, ...]
    tenant_id: str
    host: str = "127.0.0.1"
    port: int = 0
    force_bind: bool = False
    public_url: str | None = None
    signing_key_pem: Secret[bytes] | None = field(default=None)

    def client(self, client_id: str) -> Client | None:
        return next((c for c in self.clients if c.client_id == client_id), None)

    def user(self, hint: str) -> User | None:
        return next((u for u in self.users if u.matches_hint(hint)), None)


class BindRefused(ValueError):
    """A non-loopback address was asked for without ``force_bind``."""


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` and the name ``localhost``; anything else is not."""
    if host.casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
