"""The demo tenant, clients, APIs, grants and users the dev IdP starts with.

Every identifier is a fixed GUID so tokens are stable across restarts (keys are
not: they are generated at start unless a key file is configured) — except the
machine client ``reporting-bot``, whose id the demo wants readable. The client
secrets are public knowledge: development values and nothing else.
``--config`` replaces each section it names.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from portcullis.devidp.model import Api, Client, DevIdpConfig, User
from portcullis.secret import Secret

__all__ = [
    "AGENT_CLIENT_ID",
    "AGENT_CLIENT_SECRET",
    "AGENT_SP_OID",
    "ALICE_OID",
    "BOB_OID",
    "BOT_CLIENT_ID",
    "BOT_CLIENT_SECRET",
    "BOT_SP_OID",
    "CAROL_OID",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "CLIENT_SP_OID",
    "DEMO_API_ID",
    "DEMO_API_URI",
    "DOMAIN",
    "GROUP_ADMINS",
    "GROUP_ENGINEERING",
    "GROUP_STAFF",
    "LEGACY_API_ID",
    "LEGACY_API_URI",
    "REDIRECT_URIS",
    "TENANT_ID",
    "default_apis",
    "default_client",
    "default_clients",
    "default_config",
    "default_grants",
    "default_users",
    "synthetic_groups",
]

TENANT_ID = "7c3e2f4a-1b5d-4c8e-9f00-2a6b8d4e1c10"
DOMAIN = "contoso.example"

CLIENT_ID = "2f8a6c1e-9d4b-4e7a-8c3f-5b1d7e9a0c42"
CLIENT_SECRET = "portcullis-demo-secret"  # noqa: S105 - a published development value
REDIRECT_URIS = (
    "http://127.0.0.1:4180/.portcullis/callback",
    "http://localhost:4180/.portcullis/callback",
)
POST_LOGOUT_REDIRECT_URIS = ("http://127.0.0.1:4180/", "http://localhost:4180/")
CLIENT_SP_OID = "a4c6e8f0-2b4d-4f6a-8c0e-1a3c5e7f9b31"

DEMO_API_ID = "9d1c4b7e-3a5f-4e2d-8b6a-1c0e7f9a2b53"
DEMO_API_URI = "api://portcullis-demo"
LEGACY_API_ID = "5b7d9f1a-3c5e-4a7b-9d1f-2e4a6c8b0d35"
LEGACY_API_URI = "api://portcullis-legacy"

BOT_CLIENT_ID = "reporting-bot"  # not a GUID (Entra's would be): the demo wants the name
BOT_CLIENT_SECRET = "reporting-bot-secret"  # noqa: S105 - a published development value
BOT_SP_OID = "b5d7f9a1-3c5e-4a7b-8d9f-2b4d6f8a0c32"
AGENT_CLIENT_ID = "6e3f1a9c-2b4d-4c8e-9f1a-3d5b7c9e1f64"
AGENT_CLIENT_SECRET = "report-agent-secret"  # noqa: S105 - a published development value
AGENT_SP_OID = "c6e8a0b2-4d6f-4b8c-9e0a-3c5e7a9b1d33"

ALICE_OID = "4f1a9c2e-6b3d-4e8a-9c71-0d2e5f8a1b01"
BOB_OID = "8b2d4e6f-1a3c-4d5e-8f70-9a1b2c3d4e02"
CAROL_OID = "c3a1e5b7-9d2f-4a6c-8e10-3f5b7d9a1c03"

GROUP_STAFF = "0a7e3c51-2d4f-4b6a-9e8c-1f3a5b7d9c11"
GROUP_ADMINS = "1b8f4d62-3e5a-4c7b-8f9d-2a4b6c8e0d12"
GROUP_ENGINEERING = "2c9a5e73-4f6b-4d8c-9a0e-3b5c7d9f1e13"

_GROUP_NAMESPACE = uuid.UUID("5d0b6f84-5a7c-4e9d-8b1f-4c6d8e0a2f14")


def synthetic_groups(label: str, count: int) -> tuple[str, ...]:
    """``count`` stable group object ids for ``label`` (for the overage demo)."""
    return tuple(str(uuid.uuid5(_GROUP_NAMESPACE, f"{label}/{i}")) for i in range(count))


def default_users() -> tuple[User, ...]:
    return (
        User(
            username="alice",
            name="Alice Admin",
            oid=ALICE_OID,
            preferred_username=f"alice@{DOMAIN}",
            email=f"alice@{DOMAIN}",
            roles=("Portal.Admin",),
            groups=(GROUP_STAFF, GROUP_ADMINS),
            api_roles={DEMO_API_ID: ("Reports.Read", "Reports.Write")},
            acrs=("c1",),
        ),
        User(
            username="bob",
            name="Bob Builder",
            oid=BOB_OID,
            preferred_username=f"bob@{DOMAIN}",
            email=f"bob@{DOMAIN}",
            groups=(GROUP_STAFF,),
        ),
        User(
            username="carol",
            name="Carol Many-Groups",
            oid=CAROL_OID,
            preferred_username=f"carol@{DOMAIN}",
            email=f"carol@{DOMAIN}",
            groups=(GROUP_STAFF, GROUP_ENGINEERING, *synthetic_groups("carol", 248)),
        ),
    )


def default_client() -> Client:
    """Portcullis itself: signs users in (code flow); no app roles granted."""
    return Client(
        client_id=CLIENT_ID,
        name="Portcullis (demo)",
        secret=Secret(CLIENT_SECRET),
        redirect_uris=REDIRECT_URIS,
        post_logout_redirect_uris=POST_LOGOUT_REDIRECT_URIS,
        service_principal_oid=CLIENT_SP_OID,
    )


def default_clients() -> tuple[Client, ...]:
    """Portcullis first (``clients[0]`` is the sign-in client), then the machine clients."""
    return (
        default_client(),
        Client(
            client_id=BOT_CLIENT_ID,
            name="Reporting bot (machine)",
            secret=Secret(BOT_CLIENT_SECRET),
            service_principal_oid=BOT_SP_OID,
        ),
        Client(
            client_id=AGENT_CLIENT_ID,
            name="Report agent (Agent ID)",
            secret=Secret(AGENT_CLIENT_SECRET),
            service_principal_oid=AGENT_SP_OID,
            agent=True,
        ),
    )


def default_apis() -> tuple[Api, ...]:
    return (
        Api(
            app_id=DEMO_API_ID,
            app_id_uri=DEMO_API_URI,
            name="Portcullis demo API",
            app_roles=("Reports.Read", "Reports.Write"),
            scopes=("Reports.Read.All",),
            access_token_version=2,
        ),
        Api(
            app_id=LEGACY_API_ID,
            app_id_uri=LEGACY_API_URI,
            name="Portcullis legacy API (v1 tokens)",
            app_roles=("Legacy.Read",),
            scopes=("Legacy.Access",),
            access_token_version=1,
        ),
    )


def default_grants() -> Mapping[str, Mapping[str, tuple[str, ...]]]:
    """Client id → API app id → app roles (application permissions, admin-consented)."""
    return {
        BOT_CLIENT_ID: {DEMO_API_ID: ("Reports.Read",), LEGACY_API_ID: ("Legacy.Read",)},
        AGENT_CLIENT_ID: {DEMO_API_ID: ("Reports.Read",)},
    }


def default_config(*, host: str = "127.0.0.1", port: int = 0) -> DevIdpConfig:
    return DevIdpConfig(
        users=default_users(),
        clients=default_clients(),
        tenant_id=TENANT_ID,
        host=host,
        port=port,
        apis=default_apis(),
        grants=default_grants(),
    )
