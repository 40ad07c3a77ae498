"""Who a verified access token speaks for: the identity kind and the token's facts.

Pure: claims in, :class:`Principal` out. Kinds (ENTRA.md):

- ``agent``: Entra Agent ID claims (``xms_act_fct`` / ``xms_sub_fct``), whatever ``scp`` says
  (agents may carry an empty or ``/`` scope);
- ``app``: ``idtyp == "app"``, no delegated scope at all (app-only, client credentials), or
  (RFC 9068) ``sub`` equal to the client id;
- ``obo``: a delegated (user) token whose client app is not one the user calls the API
  through directly: a middle tier acting on the user's behalf;
- ``user``: a delegated token from a client listed as a direct user client.

``idtyp`` is the most accurate signal; "has ``scp``" alone is not (agents).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from portcullis.identity import Identity, Kind, claim_strings, claim_text, identity_from_claims

__all__ = ["Principal", "TokenFacts", "principal_from_claims"]

_CLIENT_CLAIMS = ("azp", "appid", "client_id")  # v2, v1, RFC 9068


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """What the audit log and the CAE check need to know about the token itself."""

    token_id: str | None  # uti (Entra) or jti
    issued_at: int | None
    expires_at: int
    version: str | None
    auth_contexts: tuple[str, ...]  # acrs
    capabilities: tuple[str, ...]  # xms_cc, e.g. ("cp1",): the client handles claims challenges


@dataclass(frozen=True, slots=True)
class Principal:
    identity: Identity
    token: TokenFacts


def principal_from_claims(claims: Mapping[str, Any], *, user_clients: Collection[str]) -> Principal:
    # Entra puts delegated scopes in `scp`; RFC 9068 (generic providers) in `scope`.
    scopes = _scopes(claims.get("scp")) or _scopes(claims.get("scope"))
    client = (
        claim_text(claims.get("azp"))
        or claim_text(claims.get("appid"))
        or claim_text(claims.get("client_id"))
    )
    idtyp = claims.get("idtyp")
    if "xms_act_fct" in claims or "xms_sub_fct" in claims:
        kind = Kind.AGENT
    elif idtyp == "app" or (idtyp != "user" and not scopes):
        kind = Kind.APP
    elif "scp" not in claims and client is not None and claims.get("sub") == client:
        kind = Kind.APP  # RFC 9068 2.2: no resource owner, so `sub` names the client
    elif client is not None and client not in user_clients:
        kind = Kind.ON_BEHALF_OF
    else:
        kind = Kind.USER
    identity = identity_from_claims(
        claims,
        kind=kind,
        client_id=client,
        scopes=scopes if kind in (Kind.USER, Kind.ON_BEHALF_OF) else (),
    )
    facts = TokenFacts(
        token_id=claim_text(claims.get("uti")) or claim_text(claims.get("jti")),
        issued_at=claims["iat"] if isinstance(claims.get("iat"), int) else None,
        expires_at=int(claims["exp"]),
        version=claim_text(claims.get("ver")),
        auth_contexts=claim_strings(claims.get("acrs")),
        capabilities=claim_strings(claims.get("xms_cc")),
    )
    return Principal(identity, facts)


def _scopes(value: object) -> tuple[str, ...]:
    """``scp`` is space-separated; agents may send ``""`` or ``"/"``: no scope at all."""
    if not isinstance(value, str):
        return ()
    return tuple(s for s in value.split() if s and s != "/")
