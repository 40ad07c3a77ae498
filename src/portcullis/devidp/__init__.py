"""A development OpenID Provider shaped like Microsoft Entra ID — for demos and tests only.

It signs anyone in as a demo user (``alice``, ``bob``, ``carol``) for the demo
client and hands app-only tokens to machine and agent clients
(``reporting-bot``, ``report-agent``), so it binds to loopback unless told
otherwise. Modules:

* ``model`` / ``defaults`` / ``load`` (+ ``readers``) — configuration values, the demo set,
  ``--config``;
* ``keys`` — RSA signing keys, their certificates and the JWKS;
* ``claims`` — ID tokens and the client's own access token; ``apitokens`` — access
  tokens for APIs (app-only / delegated, v1 / v2, Agent ID, Graph);
* ``resources`` — which API a scope names; ``requested`` — ``claims`` (CAE) and test lifetimes;
* ``authorize`` / ``token`` / ``clientauth`` — the code flow with PKCE and client auth;
  ``machine`` — client credentials and on-behalf-of;
* ``app`` — routing and metadata; ``pages`` — HTML; ``wire`` — request/response values;
* ``server`` — :class:`DevIdp` on ``http.server`` in a thread; ``cli`` — ``portcullis dev-idp``.
"""

from __future__ import annotations

from portcullis.devidp.defaults import (
    AGENT_CLIENT_ID,
    AGENT_CLIENT_SECRET,
    ALICE_OID,
    BOB_OID,
    BOT_CLIENT_ID,
    BOT_CLIENT_SECRET,
    CAROL_OID,
    CLIENT_ID,
    CLIENT_SECRET,
    DEMO_API_ID,
    DEMO_API_URI,
    LEGACY_API_ID,
    LEGACY_API_URI,
    REDIRECT_URIS,
    TENANT_ID,
    default_config,
)
from portcullis.devidp.load import load_config
from portcullis.devidp.model import Api, BindRefused, Client, DevIdpConfig, User
from portcullis.devidp.resources import GRAPH_APP_ID
from portcullis.devidp.server import DevIdp

__all__ = [
    "AGENT_CLIENT_ID",
    "AGENT_CLIENT_SECRET",
    "ALICE_OID",
    "BOB_OID",
    "BOT_CLIENT_ID",
    "BOT_CLIENT_SECRET",
    "CAROL_OID",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "DEMO_API_ID",
    "DEMO_API_URI",
    "GRAPH_APP_ID",
    "LEGACY_API_ID",
    "LEGACY_API_URI",
    "REDIRECT_URIS",
    "TENANT_ID",
    "Api",
    "BindRefused",
    "Client",
    "DevIdp",
    "DevIdpConfig",
    "User",
    "default_config",
    "load_config",
]
