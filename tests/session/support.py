"""Shared helpers for the session tests: a settable clock, sample values, a loop runner."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from portcullis.identity import Identity, Kind
from portcullis.session.model import PendingLogin, Session, new_pending_login, new_session

T = TypeVar("T")

START = 1_700_000_000.0


class FakeClock:
    """A clock the test moves by hand; tests never sleep."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def entra_identity(oid: str = "oid-1", **extra: Any) -> Identity:
    fields: dict[str, Any] = {
        "issuer": "https://login.microsoftonline.com/tid-1/v2.0",
        "subject": f"sub-{oid}",
        "kind": Kind.USER,
        "tenant_id": "tid-1",
        "object_id": oid,
        "name": "Zoë Ångström 🛡",
        "email": "zoe@example.com",
        "username": "zoe@example.com",
        "roles": ("Reader", "Writer"),
        "groups": tuple(f"group-{i:04d}" for i in range(200)),
        "groups_unknown": False,
        "client_id": "client-1",
        "auth_time": 1_699_999_000,
        "amr": ("pwd", "mfa"),
    }
    fields.update(extra)
    return Identity(**fields)


def oidc_identity(sub: str = "alice") -> Identity:
    return Identity(issuer="https://idp.example.com", subject=sub, kind=Kind.APP)


def make_session(identity: Identity | None = None, *, now: float = START) -> Session:
    return new_session(
        identity or entra_identity(),
        provider="entra",
        now=now,
        absolute_timeout=8 * 3600,
        id_token="eyJhbGciOi.secret-id-token.sig",
    )


def make_pending(*, now: float = START, binding: str = "browser-1") -> PendingLogin:
    return new_pending_login(
        provider="entra", return_to="/after?x=1", binding_value=binding, now=now
    )
