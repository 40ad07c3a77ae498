"""The demo tenant, client and users the dev IdP starts with (``--config`` replaces them).

Every identifier is a fixed GUID so tokens are stable across restarts (keys are
not: they are generated at start unless a key file is configured). The client
secret is public knowledge — it is a development value and nothing else.
"""

from __future__ import annotations

import uuid

from portcullis.devidp.model import Client, DevIdpConfig, User
from portcullis.secret import Secret

__all__ = [
    "ALICE_OID",
    "BOB_OID",
    "CAROL_OID",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "DOMAIN",
    "GROUP_ADMINS",
    "GROUP_ENGINEERING",
    "GROUP_STAFF",
    "REDIRECT_URIS",
    "TENANT_ID",
    "default_client",
    "default_config",
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
    return Client(
        client_id=CLIENT_ID,
        name="Portcullis (demo)",
        secret=Secret(CLIENT_SECRET),
        redirect_uris=REDIRECT_URIS,
        post_logout_redirect_uris=POST_LOGOUT_REDIRECT_URIS,
    )


def default_config(*, host: str = "127.0.0.1", port: int = 0) -> DevIdpConfig:
    return DevIdpConfig(
        users=default_users(),
        clients=(default_client(),),
        tenant_id=TENANT_ID,
        host=host,
        port=port,
    )
