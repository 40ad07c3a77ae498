"""Identities and facts built by hand for policy tests."""

from __future__ import annotations

from typing import Any

from portcullis.bearer.principal import TokenFacts
from portcullis.identity import Identity, Kind
from portcullis.policy import Context, Facts, RoutePolicy, compile_rules

TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TID = "3c1e7f2a-5b4d-4e6f-8a9b-0c1d2e3f4a5b"
OID = "77777777-7777-4777-8777-777777777777"
ADMINS = "9a6c0d1e-0000-4000-8000-000000000001"
STAFF = "9a6c0d1e-0000-4000-8000-000000000002"
CI_APP = "5a5b5c5d-5555-4555-8555-55555555abcd"
SPA = "33333333-3333-4333-8333-333333333333"
NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC, a Friday


def person(**changes: Any) -> Identity:
    base: dict[str, Any] = {
        "issuer": f"https://login.microsoftonline.com/{TID}/v2.0",
        "subject": "alice",
        "kind": Kind.USER,
        "tenant_id": TID,
        "object_id": OID,
        "client_id": SPA,
        "auth_time": int(NOW) - 600,
    }
    return Identity(**{**base, **changes})


def machine(**changes: Any) -> Identity:
    return person(**{"kind": Kind.APP, "subject": CI_APP, "client_id": CI_APP, **changes})


def token(**changes: Any) -> TokenFacts:
    base: dict[str, Any] = {
        "token_id": "uti",
        "issued_at": int(NOW) - 60,
        "expires_at": int(NOW) + 3600,
        "version": "2.0",
        "auth_contexts": (),
        "capabilities": (),
    }
    return TokenFacts(**{**base, **changes})


def facts(identity: Identity | None = None, **changes: Any) -> Facts:
    base: dict[str, Any] = {
        "identity": identity or person(),
        "method": "GET",
        "path": "/",
        "source_ip": "10.1.2.3",
        "now": NOW,
    }
    return Facts(**{**base, **changes})


def policy(rules: list[dict[str, Any]], *, monitor: bool = False, **ctx: Any) -> RoutePolicy:
    return compile_rules(rules, Context(**ctx), "routes[0].rules", monitor=monitor)
