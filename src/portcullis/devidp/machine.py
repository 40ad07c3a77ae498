"""The token endpoint's machine grants: client credentials and on-behalf-of.

Both run after client authentication (:mod:`.clientauth`), so ``client`` and
its credential kind are known.

* ``grant_type=client_credentials``, ``scope=<API>/.default`` → an app-only
  token for that API carrying the app roles the grants table gives the client
  (none → no ``roles`` claim, as at Entra).
* ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` with
  ``requested_token_use=on_behalf_of`` and ``assertion`` = a user's access
  token *for the calling app* (``aud`` = its client id, or an API whose app id
  is the client id) → a delegated token for the API in ``scope``: the same
  user's ``oid``, ``azp``/``appid`` = the calling (middle-tier) app. The
  assertion is verified with :mod:`portcullis.jose` against this IdP's keys
  and its own issuer (v1 or v2, by its ``ver``); it must be a user token
  (``idtyp: user``) of this tenant for a user who still exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portcullis.devidp.apitokens import (
    Issuers,
    TokenFacts,
    app_only_claims,
    delegated_claims,
    sign_access_token,
)
from portcullis.devidp.claims import new_uti
from portcullis.devidp.clientauth import Credential
from portcullis.devidp.keys import ALG, SigningKeys
from portcullis.devidp.model import Api, Client, DevIdpConfig, User
from portcullis.devidp.requested import ClaimsRequest
from portcullis.devidp.resources import ScopeError, app_only_api, delegated
from portcullis.devidp.wire import Response, json_response, oauth_error
from portcullis.jose import IssuerRule, KeySet, TokenError, parse, validate_claims, verify

__all__ = ["JWT_BEARER", "MachineGrants", "TokenCall", "token_response"]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ASSERTION_LEEWAY = 60


@dataclass(frozen=True, slots=True)
class TokenCall:
    """One authenticated token request."""

    client: Client
    credential: Credential
    form: Mapping[str, str]
    now: int
    lifetime: int
    requested: ClaimsRequest


def token_response(access_token: str, lifetime: int, **extra: str) -> Response:
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        **extra,
        "access_token": access_token,
    }
    return json_response(200, body)


class MachineGrants:
    def __init__(self, config: DevIdpConfig, keys: SigningKeys) -> None:
        self._config = config
        self._keys = keys

    def _facts(self, call: TokenCall, api: Api, issuers: Issuers) -> TokenFacts:
        return TokenFacts(
            api=api,
            tenant_id=self._config.tenant_id,
            issuers=issuers,
            now=call.now,
            lifetime=call.lifetime,
            uti=new_uti(),
            client_id=call.client.client_id,
            credential=call.credential,
            requested=call.requested,
        )

    def client_credentials(self, call: TokenCall, issuers: Issuers) -> Response:
        try:
            api = app_only_api(self._config, call.form.get("scope"))
        except ScopeError as exc:
            return oauth_error(400, exc.error, exc.description)
        roles = self._config.granted_roles(call.client.client_id, api)
        claims = app_only_claims(self._facts(call, api, issuers), client=call.client, roles=roles)
        return token_response(sign_access_token(self._keys, claims, api), call.lifetime)

    def on_behalf_of(self, call: TokenCall, issuers: Issuers) -> Response:
        form = call.form
        if form.get("requested_token_use") != "on_behalf_of":
            return oauth_error(400, "invalid_request", "requested_token_use must be on_behalf_of")
        assertion = form.get("assertion")
        if not assertion:
            return oauth_error(400, "invalid_request", "assertion is required")
        try:
            target = delegated(self._config, form.get("scope", "").split())
        except ScopeError as exc:
            return oauth_error(400, exc.error, exc.description)
        if target is None:
            return oauth_error(
                400, "invalid_scope", "name the API: <resource>/.default or <resource>/<scope>"
            )
        user = self._assertion_user(assertion, call, issuers)
        if user is None:
            return oauth_error(
                400, "invalid_grant", "the assertion is not a valid user token for this client"
            )
        facts = self._facts(call, target.api, issuers)
        claims = delegated_claims(facts, user=user, scopes=target.scopes)
        scope = " ".join(f"{target.api.app_id_uri}/{s}" for s in target.scopes)
        token = sign_access_token(self._keys, claims, target.api)
        return token_response(token, call.lifetime, scope=scope)

    def _assertion_user(self, assertion: str, call: TokenCall, issuers: Issuers) -> User | None:
        try:
            jws = parse(assertion)
            v1 = jws.unverified_claims().get("ver") == "1.0"
            issuer = issuers.v1 if v1 else issuers.v2
            claims = verify(
                jws, KeySet.from_jwks(self._keys.jwks(issuer)), algorithms=frozenset({ALG})
            )
            validate_claims(
                claims,
                now=call.now,
                issuer=IssuerRule.exact(issuer, ver="1.0" if v1 else "2.0"),
                audiences=self._audiences(call.client),
                leeway=_ASSERTION_LEEWAY,
                require_iat=True,
            )
        except (TokenError, ValueError):
            return None
        if claims.get("idtyp") != "user" or not isinstance(claims.get("scp"), str):
            return None
        if claims.get("tid") != self._config.tenant_id:
            return None
        oid = claims.get("oid")
        return next((u for u in self._config.users if u.oid == oid), None)

    def _audiences(self, client: Client) -> frozenset[str]:
        """The calling app's own identifiers: its client id and those of the API it exposes."""
        own = {client.client_id}
        for api in self._config.apis:
            if api.app_id == client.client_id.lower():
                own |= {api.app_id, api.app_id_uri}
        return frozenset(own)
