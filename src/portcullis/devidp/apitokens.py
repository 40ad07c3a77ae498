"""Access-token claims for APIs: app-only and delegated, v1.0 and v2.0 (pure: ``now`` is passed).

The shape follows the *resource's* ``accessTokenAcceptedVersion``, not the
endpoint called, as at Entra:

========  ==========================  ==========================
          v2.0                        v1.0
========  ==========================  ==========================
``iss``   ``{base}/{tid}/v2.0``       ``{base}/{tid}/`` (Entra: ``https://sts.windows.net/{tid}/``)
``aud``   the API's app id            the API's App ID URI (Graph: its app id)
client    ``azp`` + ``azpacr``        ``appid`` + ``appidacr``
header    ``typ``, ``alg``, ``kid``   the same plus ``x5t``
========  ==========================  ==========================

``azpacr``/``appidacr``: ``"1"`` client secret, ``"2"`` certificate
(``private_key_jwt``). ``iat``/``nbf`` lie five minutes in the past and
``exp`` is ``lifetime`` seconds from now (``exp - iat == 3900`` by default).
App-only tokens: ``idtyp: app``, ``oid`` = ``sub`` = the client's service
principal, ``roles`` only when app roles are granted (no grant, no claim).
Agent ID tokens add the facet claims and ``scp: "/"``. Delegated tokens:
``idtyp: user``, the user's ``oid``, ``scp``, the user's app roles on the API,
groups (or the overage form) and ``acrs`` when there are any.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portcullis.devidp.claims import BACKDATE, group_claims, pairwise_sub
from portcullis.devidp.clientauth import Credential
from portcullis.devidp.keys import SigningKeys
from portcullis.devidp.model import Api, Client, User
from portcullis.devidp.requested import NO_CLAIMS, ClaimsRequest

__all__ = [
    "AGENT_FACET",
    "AGENT_SCP",
    "Issuers",
    "TokenFacts",
    "app_only_claims",
    "delegated_claims",
    "sign_access_token",
]

AGENT_FACET = "11"  # facet values are space-separated lists at Entra, e.g. "3 9 11"
AGENT_SCP = "/"


@dataclass(frozen=True, slots=True)
class Issuers:
    """The tenant's two issuer shapes (v1 ends with a slash, v2 with ``/v2.0``)."""

    v2: str
    v1: str

    def for_api(self, api: Api) -> str:
        return self.v1 if api.access_token_version == 1 else self.v2


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """What every access token for an API starts from."""

    api: Api
    tenant_id: str
    issuers: Issuers
    now: int
    lifetime: int
    uti: str
    client_id: str
    credential: Credential
    requested: ClaimsRequest = NO_CLAIMS


def _base(facts: TokenFacts) -> dict[str, Any]:
    api = facts.api
    claims: dict[str, Any] = {
        "aud": api.audience,
        "iss": facts.issuers.for_api(api),
        "iat": facts.now - BACKDATE,
        "nbf": facts.now - BACKDATE,
        "exp": facts.now + facts.lifetime,
    }
    acr = "1" if facts.credential == "secret" else "2"
    if api.access_token_version == 1:
        claims |= {"appid": facts.client_id, "appidacr": acr}
    else:
        claims |= {"azp": facts.client_id, "azpacr": acr}
    return claims


def _tail(facts: TokenFacts, claims: dict[str, Any]) -> dict[str, Any]:
    claims["tid"] = facts.tenant_id
    claims["uti"] = facts.uti
    claims["ver"] = "1.0" if facts.api.access_token_version == 1 else "2.0"
    if facts.requested.xms_cc:
        claims["xms_cc"] = list(facts.requested.xms_cc)
    return claims


def app_only_claims(facts: TokenFacts, *, client: Client, roles: tuple[str, ...]) -> dict[str, Any]:
    """Client credentials: the application itself is the subject."""
    claims = _base(facts)
    if facts.api.access_token_version == 1:
        claims["idp"] = claims["iss"]
    claims["idtyp"] = "app"
    claims["oid"] = client.sp_oid
    if roles:
        claims["roles"] = list(roles)
    if client.agent:
        claims["scp"] = AGENT_SCP
    claims["sub"] = client.sp_oid
    if client.agent:
        claims["xms_act_fct"] = AGENT_FACET
        claims["xms_sub_fct"] = AGENT_FACET
    return _tail(facts, claims)


def delegated_claims(facts: TokenFacts, *, user: User, scopes: tuple[str, ...]) -> dict[str, Any]:
    """A user's token for the API, obtained by ``client_id`` (code flow or on-behalf-of)."""
    claims = _base(facts)
    v1 = facts.api.access_token_version == 1
    if v1:
        claims |= {"acr": "1", "amr": ["pwd"]}
    claims["idtyp"] = "user"
    claims["name"] = user.name
    claims["oid"] = user.oid
    if not v1:
        claims["preferred_username"] = user.preferred_username
    roles = user.roles_for(facts.api)
    if roles:
        claims["roles"] = list(roles)
    claims["scp"] = " ".join(scopes)
    claims["sub"] = pairwise_sub(user.oid, facts.api.app_id)
    if v1:
        claims |= {"unique_name": user.preferred_username, "upn": user.preferred_username}
    claims.update(group_claims(user))
    acrs = tuple(dict.fromkeys((*user.acrs, *facts.requested.acrs)))
    if acrs:
        claims["acrs"] = list(acrs)
    return _tail(facts, claims)


def sign_access_token(keys: SigningKeys, claims: dict[str, Any], api: Api) -> str:
    """v1 tokens name the key by ``x5t`` too; Graph tokens carry a header ``nonce``."""
    return keys.sign(claims, x5t=api.access_token_version == 1, nonce=api.graph)
