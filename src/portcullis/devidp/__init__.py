"""A development OpenID Provider shaped like Microsoft Entra ID — for demos and tests only.

It signs anyone in as a demo user (``alice``, ``bob``, ``carol``) for the demo
client, so it binds to loopback unless told otherwise. Modules:

* ``model`` / ``defaults`` / ``load`` — configuration values, the demo set, ``--config``;
* ``keys`` — RSA signing keys and the JWKS; ``claims`` — Entra-shaped token claims;
* ``authorize`` / ``token`` / ``clientauth`` — the code flow with PKCE and client auth;
* ``app`` — routing and metadata; ``pages`` — HTML; ``wire`` — request/response values;
* ``server`` — :class:`DevIdp` on ``http.server`` in a thread; ``cli`` — ``portcullis dev-idp``.
"""

from __future__ import annotations

from portcullis.devidp.defaults import (
    ALICE_OID,
    BOB_OID,
    CAROL_OID,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URIS,
    TENANT_ID,
    default_config,
)
from portcullis.devidp.load import load_config
from portcullis.devidp.model import BindRefused, Client, DevIdpConfig, User
from portcullis.devidp.server import DevIdp

__all__ = [
    "ALICE_OID",
    "BOB_OID",
    "CAROL_OID",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "REDIRECT_URIS",
    "TENANT_ID",
    "BindRefused",
    "Client",
    "DevIdp",
    "DevIdpConfig",
    "User",
    "default_config",
    "load_config",
]
