"""The claims of Entra-shaped v2.0 ID and access tokens (pure: the caller passes ``now``).

Shapes follow Microsoft's id-token and access-token claims references:
``iat``/``nbf`` back-dated five minutes and ``exp`` one hour after now
(``exp - iat == 3900``); ``sub`` pairwise per client; ``oid``/``tid`` as the
identity key; past 200 groups the ``groups`` claim is replaced by the overage
form (``_claim_names`` / ``_claim_sources``), exactly as Entra does.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from portcullis.devidp.model import Api, User
from portcullis.devidp.requested import NO_CLAIMS, ClaimsRequest

__all__ = [
    "BACKDATE",
    "GROUPS_LIMIT",
    "LIFETIME",
    "OIDC_SCOPES",
    "SignIn",
    "access_token_claims",
    "group_claims",
    "id_token_claims",
    "new_uti",
    "pairwise_sub",
]

BACKDATE = 300  # seconds iat/nbf lie in the past
LIFETIME = 3600  # seconds from now to exp
GROUPS_LIMIT = 200  # JWT group overage threshold
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
_GRAPH_MEMBER_OBJECTS = "https://graph.microsoft.com/v1.0/users/{oid}/getMemberObjects"


@dataclass(frozen=True, slots=True)
class SignIn:
    """One completed sign-in, carried by an authorization code to the token endpoint."""

    user: User
    client_id: str
    auth_time: int
    sid: str
    scopes: tuple[str, ...] = ("openid",)
    nonce: str | None = None
    api: Api | None = None  # the API a resource-qualified scope named, if any
    api_scopes: tuple[str, ...] = ()  # its delegated scopes granted (``scp``)
    requested: ClaimsRequest = NO_CLAIMS  # the authorization request's ``claims``


def new_uti() -> str:
    """A token id shaped like Entra's ``uti`` (22 base64url characters)."""
    return _b64url(secrets.token_bytes(16))


def pairwise_sub(oid: str, client_id: str) -> str:
    """Per-application subject: base64url(SHA-256(oid + client_id)), like Entra's opaque ``sub``."""
    return _b64url(hashlib.sha256(f"{oid.lower()}{client_id.lower()}".encode()).digest())


def group_claims(user: User) -> dict[str, Any]:
    """``groups`` — or, past :data:`GROUPS_LIMIT`, the distributed-claim overage form instead."""
    if len(user.groups) > GROUPS_LIMIT:
        return {
            "_claim_names": {"groups": "src1"},
            "_claim_sources": {"src1": {"endpoint": _GRAPH_MEMBER_OBJECTS.format(oid=user.oid)}},
        }
    return {"groups": list(user.groups)} if user.groups else {}


def _common(sign_in: SignIn, *, issuer: str, tenant_id: str, now: int, uti: str) -> dict[str, Any]:
    user = sign_in.user
    claims: dict[str, Any] = {
        "aud": sign_in.client_id,
        "iss": issuer,
        "iat": now - BACKDATE,
        "nbf": now - BACKDATE,
        "exp": now + LIFETIME,
        "name": user.name,
        "oid": user.oid,
        "preferred_username": user.preferred_username,
        "sub": pairwise_sub(user.oid, sign_in.client_id),
        "tid": tenant_id,
        "uti": uti,
        "ver": "2.0",
        "idtyp": "user",
    }
    if user.roles:
        claims["roles"] = list(user.roles)
    claims.update(group_claims(user))
    return claims


def id_token_claims(
    sign_in: SignIn, *, issuer: str, tenant_id: str, now: int, uti: str
) -> dict[str, Any]:
    claims = _common(sign_in, issuer=issuer, tenant_id=tenant_id, now=now, uti=uti)
    claims["auth_time"] = sign_in.auth_time
    claims["amr"] = ["pwd"]
    claims["sid"] = sign_in.sid
    if sign_in.user.email:
        claims["email"] = sign_in.user.email
    if sign_in.nonce is not None:
        claims["nonce"] = sign_in.nonce
    return claims


def access_token_claims(
    sign_in: SignIn,
    *,
    issuer: str,
    tenant_id: str,
    now: int,
    uti: str,
    client_auth: Literal["secret", "certificate"],
    lifetime: int = LIFETIME,
    requested: ClaimsRequest = NO_CLAIMS,
) -> dict[str, Any]:
    """A v2 access token for the client itself (``aud`` = client id), delegated (``scp``).

    What a sign-in without an API scope yields; the client may use it as the
    assertion of an on-behalf-of request. API tokens: :mod:`.apitokens`.
    """
    claims = _common(sign_in, issuer=issuer, tenant_id=tenant_id, now=now, uti=uti)
    claims["exp"] = now + lifetime
    claims["azp"] = sign_in.client_id
    claims["azpacr"] = "1" if client_auth == "secret" else "2"
    claims["scp"] = " ".join(s for s in sign_in.scopes if s not in OIDC_SCOPES) or "access_as_user"
    acrs = tuple(dict.fromkeys((*sign_in.user.acrs, *requested.acrs)))
    if acrs:
        claims["acrs"] = list(acrs)
    if requested.xms_cc:
        claims["xms_cc"] = list(requested.xms_cc)
    return claims


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
