"""The token endpoint: client authentication, then the grant.

Client authentication comes first, for every grant (a failure leaves the code
alone). ``authorization_code``: the code is *taken* — single-use from here on,
even if a later check fails — then it must belong to this client,
``redirect_uri`` must equal the one of the authorization request, and
SHA-256(``code_verifier``) must equal the stored S256 challenge; the access
token is for the API the authorization request named, else for the client
itself. ``client_credentials`` and on-behalf-of: :mod:`.machine`. Any grant
may send ``claims`` (CAE) and, when allowed, ``x-test-lifetime``
(:mod:`.requested`). Errors are OAuth JSON (RFC 6749 §5.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Collection

from portcullis.devidp.apitokens import (
    Issuers,
    TokenFacts,
    delegated_claims,
    sign_access_token,
)
from portcullis.devidp.authorize import Grant
from portcullis.devidp.claims import LIFETIME, access_token_claims, id_token_claims, new_uti
from portcullis.devidp.clientauth import ClientAuthenticator, ClientAuthError
from portcullis.devidp.keys import SigningKeys
from portcullis.devidp.machine import JWT_BEARER, MachineGrants, TokenCall, token_response
from portcullis.devidp.model import DevIdpConfig
from portcullis.devidp.requested import parse_claims, parse_lifetime
from portcullis.devidp.stores import OneTimeStore
from portcullis.devidp.wire import (
    BadParams,
    Request,
    Response,
    oauth_error,
    parse_params,
)

__all__ = ["GRANT_TYPES", "TokenEndpoint", "s256"]

GRANT_TYPES = ("authorization_code", "client_credentials", JWT_BEARER)
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of ``verifier`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TokenEndpoint:
    def __init__(
        self,
        *,
        config: DevIdpConfig,
        codes: OneTimeStore[Grant],
        clients: ClientAuthenticator,
        keys: SigningKeys,
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._tenant_id = config.tenant_id
        self._codes = codes
        self._clients = clients
        self._keys = keys
        self._clock = clock
        self._machine = MachineGrants(config, keys)

    def handle(self, request: Request, *, issuers: Issuers, audiences: Collection[str]) -> Response:
        """``audiences``: the token endpoint URLs a client assertion may name as ``aud``."""
        if not request.is_form():
            return oauth_error(400, "invalid_request", "send application/x-www-form-urlencoded")
        try:
            form = parse_params(request.body)
        except BadParams as exc:
            return oauth_error(400, "invalid_request", str(exc))
        now = self._clock()
        try:
            client, credential = self._clients.authenticate(
                form, request.header("authorization"), audiences=audiences, now=now
            )
        except ClientAuthError as exc:
            status = 401 if exc.error == "invalid_client" else 400
            challenge = (("WWW-Authenticate", 'Basic realm="portcullis-dev-idp"'),)
            return oauth_error(status, exc.error, exc.description, extra=challenge * exc.basic)
        grant_type = form.get("grant_type")
        if grant_type not in GRANT_TYPES:
            supported = ", ".join(GRANT_TYPES)
            return oauth_error(400, "unsupported_grant_type", f"supported: {supported}")
        try:
            requested = parse_claims(form.get("claims"))
            lifetime = parse_lifetime(form, allowed=self._config.allow_test_lifetimes)
        except ValueError as exc:
            return oauth_error(400, "invalid_request", str(exc))
        call = TokenCall(client, credential, form, int(now), lifetime or LIFETIME, requested)
        if grant_type == "client_credentials":
            return self._machine.client_credentials(call, issuers)
        if grant_type == JWT_BEARER:
            return self._machine.on_behalf_of(call, issuers)
        return self._authorization_code(call, issuers)

    def _authorization_code(self, call: TokenCall, issuers: Issuers) -> Response:
        form = call.form
        code = form.get("code")
        if not code:
            return oauth_error(400, "invalid_request", "code is required")
        grant = self._codes.take(code)
        if grant is None:
            return _invalid_grant("the code is unknown, expired or already used")
        if grant.sign_in.client_id != call.client.client_id:
            return _invalid_grant("the code was issued to another client")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _invalid_grant("redirect_uri does not match the authorization request")
        verifier = form.get("code_verifier", "")
        if not _VERIFIER.fullmatch(verifier):
            return _invalid_grant("code_verifier missing or not 43-128 unreserved characters")
        if not hmac.compare_digest(s256(verifier), grant.code_challenge):
            return _invalid_grant("PKCE verification failed")
        sign_in = grant.sign_in
        requested = sign_in.requested.merge(call.requested)
        id_claims = id_token_claims(
            sign_in, issuer=issuers.v2, tenant_id=self._tenant_id, now=call.now, uti=new_uti()
        )
        if sign_in.api is None:
            at_claims = access_token_claims(
                sign_in,
                issuer=issuers.v2,
                tenant_id=self._tenant_id,
                now=call.now,
                uti=new_uti(),
                client_auth=call.credential,
                lifetime=call.lifetime,
                requested=requested,
            )
            access_token = self._keys.sign(at_claims)
        else:
            facts = TokenFacts(
                api=sign_in.api,
                tenant_id=self._tenant_id,
                issuers=issuers,
                now=call.now,
                lifetime=call.lifetime,
                uti=new_uti(),
                client_id=call.client.client_id,
                credential=call.credential,
                requested=requested,
            )
            at_claims = delegated_claims(facts, user=sign_in.user, scopes=sign_in.api_scopes)
            access_token = sign_access_token(self._keys, at_claims, sign_in.api)
        return token_response(
            access_token,
            call.lifetime,
            scope=" ".join(sign_in.scopes),
            id_token=self._keys.sign(id_claims),
        )


def _invalid_grant(description: str) -> Response:
    return oauth_error(400, "invalid_grant", description)
