"""The verified identity of whoever is behind a request.

An :class:`Identity` is built only from validated tokens. Its key is
(tid, oid) for Microsoft Entra ID and (iss, sub) for any other provider;
display attributes (name, email, username) are never used to authorize — they
are mutable in the directory (the "nOAuth" class of bugs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "Identity",
    "Kind",
    "claim_strings",
    "claim_text",
    "identity_from_claims",
    "policy_claims",
]


class Kind(StrEnum):
    """What sort of principal an identity is."""

    USER = "user"
    APP = "app"
    AGENT = "agent"
    ON_BEHALF_OF = "obo"


@dataclass(frozen=True, slots=True)
class Identity:
    issuer: str
    subject: str
    kind: Kind = Kind.USER
    tenant_id: str | None = None  # Entra `tid`
    object_id: str | None = None  # Entra `oid`
    name: str | None = None  # display only
    email: str | None = None  # display only
    username: str | None = None  # preferred_username / upn, display only
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    groups_unknown: bool = False  # group overage: the token did not carry the groups
    client_id: str | None = None  # azp / appid: the application the token was issued to
    scopes: tuple[str, ...] = ()  # delegated scopes (`scp`) of a bearer token
    auth_time: int | None = None
    amr: tuple[str, ...] = field(default_factory=tuple)
    acr: tuple[str, ...] = ()  # `acr` and the CAE authentication contexts in `acrs`
    # The token's other claims, for policy `claim` criteria (never used as the identity's key).
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """The stable, immutable identifier: ``tid/oid`` (Entra) or ``iss#sub``."""
        if self.tenant_id and self.object_id:
            return f"{self.tenant_id}/{self.object_id}"
        return f"{self.issuer}#{self.subject}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for session storage."""
        data = asdict(self)
        data["kind"] = self.kind.value
        data["roles"] = list(self.roles)
        data["groups"] = list(self.groups)
        data["amr"] = list(self.amr)
        data["scopes"] = list(self.scopes)
        data["acr"] = list(self.acr)
        data["claims"] = dict(self.claims)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Identity:
        return cls(
            issuer=str(data["issuer"]),
            subject=str(data["subject"]),
            kind=Kind(data.get("kind", "user")),
            tenant_id=data.get("tenant_id"),
            object_id=data.get("object_id"),
            name=data.get("name"),
            email=data.get("email"),
            username=data.get("username"),
            roles=tuple(data.get("roles", ())),
            groups=tuple(data.get("groups", ())),
            groups_unknown=bool(data.get("groups_unknown", False)),
            client_id=data.get("client_id"),
            auth_time=data.get("auth_time"),
            amr=tuple(data.get("amr", ())),
            scopes=tuple(data.get("scopes", ())),
            acr=tuple(data.get("acr", ())),
            claims=dict(data.get("claims") or {}),
        )


def identity_from_claims(
    claims: Mapping[str, Any],
    *,
    kind: Kind,
    client_id: str | None,
    scopes: tuple[str, ...] = (),
) -> Identity:
    """The identity a validated token (ID or access token) speaks for.

    A groups overage (``_claim_names.groups``) makes the groups *unknown*, never empty.
    """
    names = claims.get("_claim_names")
    overage = isinstance(names, dict) and "groups" in names
    auth_time = claims.get("auth_time")
    return Identity(
        issuer=str(claims.get("iss", "")),
        subject=str(claims.get("sub", "")),
        kind=kind,
        tenant_id=claim_text(claims.get("tid")),
        object_id=claim_text(claims.get("oid")),
        name=claim_text(claims.get("name")),
        email=claim_text(claims.get("email")),
        username=claim_text(claims.get("preferred_username") or claims.get("upn")),
        roles=claim_strings(claims.get("roles")),
        groups=() if overage else claim_strings(claims.get("groups")),
        groups_unknown=overage,
        client_id=client_id,
        auth_time=auth_time if isinstance(auth_time, int) else None,
        amr=claim_strings(claims.get("amr")),
        scopes=scopes,
        acr=claim_strings(claims.get("acr")) + claim_strings(claims.get("acrs")),
        claims=policy_claims(claims),
    )


# Claims that only serve the protocol (or are large and useless to a policy).
_PROTOCOL_CLAIMS = frozenset(
    {"nonce", "at_hash", "c_hash", "s_hash", "_claim_names", "_claim_sources", "aio", "rh"}
)
_MAX_CLAIM_TEXT = 1024


def policy_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The claims a policy may test: scalars and lists of scalars, protocol claims dropped."""
    kept: dict[str, Any] = {}
    for name, value in claims.items():
        if name in _PROTOCOL_CLAIMS:
            continue
        if (
            isinstance(value, bool | int | float)
            or (isinstance(value, str) and len(value) <= _MAX_CLAIM_TEXT)
            or (isinstance(value, list) and all(isinstance(v, str | int | bool) for v in value))
        ):
            kept[name] = value
    return kept


def claim_text(value: object) -> str | None:
    """A non-empty string claim, else None."""
    return value if isinstance(value, str) and value else None


def claim_strings(value: object) -> tuple[str, ...]:
    """A string or list-of-strings claim as a tuple (other members dropped)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()
