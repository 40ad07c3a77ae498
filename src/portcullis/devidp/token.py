"""The token endpoint: ``grant_type=authorization_code`` with client authentication and PKCE.

Order: client authentication first (a failure leaves the code alone), then
the code is *taken* — single-use from here on, even if a later check fails —
then it must belong to this client, ``redirect_uri`` must equal the one of
the authorization request, and SHA-256(``code_verifier``) must equal the
stored S256 challenge. Errors are OAuth JSON (RFC 6749 §5.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Collection

from portcullis.devidp.authorize import Grant
from portcullis.devidp.claims import LIFETIME, access_token_claims, id_token_claims, new_uti
from portcullis.devidp.clientauth import ClientAuthenticator, ClientAuthError
from portcullis.devidp.keys import SigningKeys
from portcullis.devidp.stores import OneTimeStore
from portcullis.devidp.wire import (
    BadParams,
    Request,
    Response,
    json_response,
    oauth_error,
    parse_params,
)

__all__ = ["TokenEndpoint", "s256"]

_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of ``verifier`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TokenEndpoint:
    def __init__(
        self,
        *,
        tenant_id: str,
        codes: OneTimeStore[Grant],
        clients: ClientAuthenticator,
        keys: SigningKeys,
        clock: Callable[[], float],
    ) -> None:
        self._tenant_id = tenant_id
        self._codes = codes
        self._clients = clients
        self._keys = keys
        self._clock = clock

    def handle(self, request: Request, *, issuer: str, audiences: Collection[str]) -> Response:
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
        if grant_type != "authorization_code":
            return oauth_error(
                400, "unsupported_grant_type", "only authorization_code is supported"
            )
        code = form.get("code")
        if not code:
            return oauth_error(400, "invalid_request", "code is required")
        grant = self._codes.take(code)
        if grant is None:
            return _invalid_grant("the code is unknown, expired or already used")
        if grant.sign_in.client_id != client.client_id:
            return _invalid_grant("the code was issued to another client")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _invalid_grant("redirect_uri does not match the authorization request")
        verifier = form.get("code_verifier", "")
        if not _VERIFIER.fullmatch(verifier):
            return _invalid_grant("code_verifier missing or not 43-128 unreserved characters")
        if not hmac.compare_digest(s256(verifier), grant.code_challenge):
            return _invalid_grant("PKCE verification failed")
        sign_in = grant.sign_in
        id_claims = id_token_claims(
            sign_in, issuer=issuer, tenant_id=self._tenant_id, now=int(now), uti=new_uti()
        )
        at_claims = access_token_claims(
            sign_in,
            issuer=issuer,
            tenant_id=self._tenant_id,
            now=int(now),
            uti=new_uti(),
            client_auth=credential,
        )
        id_token, access_token = self._keys.sign(id_claims), self._keys.sign(at_claims)
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "scope": " ".join(sign_in.scopes),
                "expires_in": LIFETIME,
                "ext_expires_in": LIFETIME,
                "access_token": access_token,
                "id_token": id_token,
            },
        )


def _invalid_grant(description: str) -> Response:
    return oauth_error(400, "invalid_grant", description)
