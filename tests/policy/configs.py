"""Validated configurations for the policy tools' tests (explain, who-can, test)."""

from __future__ import annotations

from typing import Any

from portcullis.config import Config, validate
from portcullis.policy.explain import PolicySetup

TID = "7c3e2f4a-1b5d-4c8e-9f00-2a6b8d4e1c10"
OID = "4f1a9c2e-6b3d-4e8a-9c71-0d2e5f8a1b01"
SIGN_IN_CLIENT = "2f8a6c1e-9d4b-4e7a-8c3f-5b1d7e9a0c42"
SPA = "33333333-3333-4333-8333-333333333333"
MIDDLE_TIER = "6a4c2e0f-8d6b-4a9c-b7e5-3f1d9b7c5a31"
ADMINS = "1b8f4d62-3e5a-4c7b-8f9d-2a4b6c8e0d12"
NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC, a Friday

AUTH: dict[str, Any] = {
    "external_url": "https://portal.example.com",
    "providers": [
        {
            "name": "entra",
            "type": "entra",
            "tenant": TID,
            "client_id": SIGN_IN_CLIENT,
            "client_secret": [{"env": "UNSET_IN_TESTS"}],
        }
    ],
    "apis": [{"name": "api", "provider": "entra", "audiences": ["api://x"], "user_clients": [SPA]}],
    "session": {"keys": [{"env": "UNSET_IN_TESTS"}]},
}


def config(*routes: dict[str, Any], auth: bool = True, **extra: Any) -> Config:
    data: dict[str, Any] = {
        "routes": [{"upstream": "http://127.0.0.1:8080", **route} for route in routes],
        **extra,
    }
    if auth:
        data["auth"] = AUTH
    return validate(data)


def setup(*routes: dict[str, Any], auth: bool = True, **extra: Any) -> PolicySetup:
    return PolicySetup.of(config(*routes, auth=auth, **extra))


def claims(**changes: Any) -> dict[str, Any]:
    """An ID token's (or, with scp/azp, an access token's) claims for a person."""
    return {"tid": TID, "oid": OID, "sub": "alice", **changes}
