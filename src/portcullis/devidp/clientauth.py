"""Token-endpoint client authentication: secret (Basic or in the body) or ``private_key_jwt``.

Exactly one method per request (RFC 6749 §2.3). ``private_key_jwt``
(RFC 7523, Entra "certificate credentials"): the assertion's signature is
checked with :mod:`portcullis.jose` against the client's *registered* JWKS
(RS256 or ES256), then ``iss`` = ``sub`` = client id, ``aud`` = the token
endpoint URL, ``exp`` in the future and at most 10 minutes away, and a
``jti`` never seen before (kept until the assertion expires).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard
from urllib.parse import unquote_plus

from portcullis.devidp.model import Client, DevIdpConfig
from portcullis.devidp.stores import OneTimeStore
from portcullis.jose import TokenError
from portcullis.jose.jws import parse, verify
from portcullis.jose.keys import KeySet

__all__ = [
    "ASSERTION_ALGORITHMS",
    "ASSERTION_TYPE",
    "MAX_ASSERTION_LIFETIME",
    "ClientAuthError",
    "ClientAuthenticator",
    "Credential",
]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = frozenset({"RS256", "ES256"})
MAX_ASSERTION_LIFETIME = 600
_LEEWAY = 60

Credential = Literal["secret", "certificate"]


@dataclass(frozen=True, slots=True)
class ClientAuthError(Exception):
    """``error`` is the OAuth error code; ``basic`` asks for a ``WWW-Authenticate: Basic`` 401."""

    error: str
    description: str
    basic: bool = False


class ClientAuthenticator:
    def __init__(self, config: DevIdpConfig, jtis: OneTimeStore[str]) -> None:
        self._config = config
        self._jtis = jtis

    def authenticate(
        self,
        form: Mapping[str, str],
        authorization: str | None,
        *,
        audiences: Collection[str],
        now: float,
    ) -> tuple[Client, Credential]:
        """Who is calling, and with what kind of credential; raises :class:`ClientAuthError`."""
        basic = _basic_credentials(authorization)
        methods = [
            basic is not None,
            "client_secret" in form,
            "client_assertion" in form or "client_assertion_type" in form,
        ]
        if sum(methods) > 1:
            raise ClientAuthError("invalid_request", "use exactly one client authentication method")
        if basic is not None:
            client_id, secret = basic
            if form.get("client_id", client_id) != client_id:
                raise ClientAuthError("invalid_request", "client_id differs from the Basic user")
            return self._by_secret(client_id, secret, basic=True), "secret"
        if "client_secret" in form:
            return self._by_secret(form.get("client_id", ""), form["client_secret"]), "secret"
        if methods[2]:
            return self._by_assertion(form, audiences=audiences, now=now), "certificate"
        raise ClientAuthError("invalid_client", "client authentication required")

    def _by_secret(self, client_id: str, secret: str, *, basic: bool = False) -> Client:
        client = self._config.client(client_id)
        if client is not None and client.secret is not None:
            expected = client.secret.reveal().encode()
            if hmac.compare_digest(expected, secret.encode()):
                return client
        raise ClientAuthError("invalid_client", "client authentication failed", basic=basic)

    def _by_assertion(
        self, form: Mapping[str, str], *, audiences: Collection[str], now: float
    ) -> Client:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise ClientAuthError(
                "invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}"
            )
        failed = ClientAuthError("invalid_client", "client assertion rejected")
        try:
            jws = parse(form.get("client_assertion", ""))
            issuer = jws.unverified_claims().get("iss")
        except TokenError:
            raise failed from None
        client = self._config.client(issuer) if isinstance(issuer, str) else None
        if client is None or client.jwks is None:
            raise failed
        if form.get("client_id", client.client_id) != client.client_id:
            raise ClientAuthError("invalid_request", "client_id differs from the assertion's iss")
        try:
            claims = verify(
                jws, _keys_for(client.jwks, jws.header), algorithms=ASSERTION_ALGORITHMS
            )
        except (TokenError, ValueError):
            raise failed from None
        if not self._claims_ok(claims, client.client_id, audiences=audiences, now=now):
            raise failed
        return client

    def _claims_ok(
        self, claims: Mapping[str, Any], client_id: str, *, audiences: Collection[str], now: float
    ) -> bool:
        aud = claims.get("aud")
        aud_list = aud if isinstance(aud, list) else [aud]
        exp, nbf, jti = claims.get("exp"), claims.get("nbf", now), claims.get("jti")
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            return False
        if not any(isinstance(a, str) and a in audiences for a in aud_list):
            return False
        if not _number(exp) or not now < exp <= now + MAX_ASSERTION_LIFETIME + _LEEWAY:
            return False
        if not _number(nbf) or nbf > now + _LEEWAY:
            return False
        iat = claims.get("iat", exp)
        if not _number(iat) or exp - iat > MAX_ASSERTION_LIFETIME:
            return False
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            return False
        return self._jtis.add(f"{client_id}\x00{jti}", jti, expires_at=exp)


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _keys_for(jwks: Mapping[str, Any], header: Mapping[str, Any]) -> KeySet:
    """The client's keys; without a ``kid``, narrowed by ``x5t#S256`` / ``x5t`` like Entra does."""
    keys = [k for k in jwks.get("keys", []) if isinstance(k, Mapping)]
    if "kid" not in header:
        for member in ("x5t#S256", "x5t"):
            if isinstance(header.get(member), str):
                keys = [k for k in keys if k.get(member) == header[member]]
                break
    return KeySet.from_jwks({"keys": keys})


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic`` → (client_id, secret), each form-urlencoded (RFC 6749 §2.3.1)."""
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise ClientAuthError("invalid_client", "unsupported authorization scheme", basic=True)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ClientAuthError("invalid_client", "malformed Basic credentials", basic=True) from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise ClientAuthError("invalid_client", "malformed Basic credentials", basic=True)
    return unquote_plus(user), unquote_plus(password)
