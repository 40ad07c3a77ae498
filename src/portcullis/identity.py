"""The verified identity of whoever is behind a request.

An :class:`Identity` is built only from validated tokens. Its key is
(tid, oid) for Microsoft Entra ID and (iss, sub) for any other provider;
display attributes (name, email, username) are never used to authorize — they
are mutable in the directory (the "nOAuth" class of bugs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Identity", "Kind"]


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
        )
