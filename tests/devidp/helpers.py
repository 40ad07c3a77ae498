"""Test helpers for the dev IdP: urllib without redirects, PKCE, and token checks.

:func:`verify_rs256` uses ``cryptography`` directly (not ``portcullis.jose``), so
the code-flow tests do not trust the code they are testing. Access tokens for
APIs are checked the way a resource server (Portcullis) will check them:
:func:`check_access_token` finds the issuer and keys by discovery (v1 or v2)
and runs :mod:`portcullis.jose`'s signature and claims checks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from portcullis.devidp import CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS, DevIdp
from portcullis.jose import IssuerRule, KeySet, parse, validate_claims, verify

REDIRECT_URI = REDIRECT_URIS[0]


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def location(self) -> str:
        value = self.headers.get("Location")
        assert value is not None, f"no Location header (status {self.status})"
        return value

    def redirect_params(self) -> dict[str, str]:
        """The query of the Location header, each parameter exactly once."""
        parsed = parse_qs(urlsplit(self.location).query, keep_blank_values=True)
        assert all(len(v) == 1 for v in parsed.values())
        return {k: v[0] for k, v in parsed.items()}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def fetch(
    url: str,
    *,
    data: dict[str, str] | bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> Reply:
    body = urlencode(data).encode() if isinstance(data, dict) else data
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    if body is not None and "Content-Type" not in (headers or {}):
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with _OPENER.open(request, timeout=10) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, exc.headers, exc.read())


def get_json(url: str) -> Any:
    reply = fetch(url)
    assert reply.status == 200, reply.body
    return reply.json()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class Login:
    """One authorization request and what came back."""

    verifier: str
    challenge: str
    state: str
    nonce: str
    params: dict[str, str] = field(default_factory=dict)
    reply: Reply | None = None

    @property
    def code(self) -> str:
        assert self.reply is not None
        return self.reply.redirect_params()["code"]


def authorize(idp: DevIdp, user: str | None = "alice", **overrides: str | None) -> Login:
    verifier, challenge = pkce()
    login = Login(verifier, challenge, secrets.token_urlsafe(12), secrets.token_urlsafe(12))
    params: dict[str, str | None] = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": login.state,
        "nonce": login.nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": user,
    }
    params.update(overrides)
    login.params = {k: v for k, v in params.items() if v is not None}
    login.reply = fetch(f"{idp.endpoint('authorize')}?{urlencode(login.params)}")
    return login


def redeem(
    idp: DevIdp,
    login: Login,
    *,
    how: str = "basic",
    code: str | None = None,
    **overrides: str | None,
) -> Reply:
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code if code is not None else login.code,
        "redirect_uri": login.params.get("redirect_uri", REDIRECT_URI),
        "code_verifier": login.verifier,
    }
    headers: dict[str, str] = {}
    if how == "basic":
        headers = basic()
    elif how == "post":
        form |= {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    form.update(overrides)
    data = {k: v for k, v in form.items() if v is not None}
    return fetch(idp.endpoint("token"), data=data, headers=headers)


def verify_rs256(token: str, jwks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of ``token`` after checking its RS256 signature against ``jwks``."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header["alg"] == "RS256"
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    numbers = rsa.RSAPublicNumbers(
        int.from_bytes(b64url_decode(jwk["e"]), "big"),
        int.from_bytes(b64url_decode(jwk["n"]), "big"),
    )
    numbers.public_key().verify(  # raises InvalidSignature
        b64url_decode(signature_b64),
        f"{header_b64}.{payload_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return header, json.loads(b64url_decode(payload_b64))


def jwks_of(idp: DevIdp) -> dict[str, Any]:
    return get_json(f"{idp.url}/{idp.tenant_id}/discovery/v2.0/keys")  # type: ignore[no-any-return]


def tokens(idp: DevIdp, user: str = "alice", **overrides: str | None) -> tuple[Login, Any]:
    """A whole login for ``user``: (the login, the token response JSON)."""
    login = authorize(idp, user, **overrides)
    reply = redeem(idp, login)
    assert reply.status == 200, reply.body
    return login, reply.json()


class Clock:
    """A settable clock for expiry tests (no sleeping)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def discovered(idp: DevIdp, *, v1: bool = False) -> tuple[str, dict[str, Any]]:
    """(issuer, JWKS) found through the v1 or v2 discovery document."""
    document = get_json(idp.discovery_url_v1 if v1 else idp.discovery_url)
    return document["issuer"], get_json(document["jwks_uri"])


def check_access_token(
    idp: DevIdp, token: str, *, audience: str, v1: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) after portcullis.jose's signature and claims checks, keys by discovery."""
    issuer, jwks = discovered(idp, v1=v1)
    jws = parse(token)
    claims = verify(jws, KeySet.from_jwks(jwks), algorithms=frozenset({"RS256"}))
    validate_claims(
        claims,
        now=time.time(),
        issuer=IssuerRule.exact(issuer, ver="1.0" if v1 else "2.0"),
        audiences=frozenset({audience}),
        require_iat=True,
    )
    return jws.header, claims


def token_request(
    idp: DevIdp,
    client_id: str,
    secret: str | None,
    *,
    how: str = "post",
    url: str | None = None,
    **form: str,
) -> Reply:
    """A token request authenticated with a client secret (Basic or in the body)."""
    headers: dict[str, str] = {}
    data = dict(form)
    if secret is not None and how == "basic":
        headers = basic(client_id, secret)
    elif secret is not None:
        data |= {"client_id": client_id, "client_secret": secret}
    return fetch(url or idp.endpoint("token"), data=data, headers=headers)


def client_credentials(
    idp: DevIdp,
    client_id: str,
    secret: str | None,
    scope: str,
    *,
    how: str = "post",
    url: str | None = None,
    **extra: str,
) -> Reply:
    return token_request(
        idp,
        client_id,
        secret,
        how=how,
        url=url,
        grant_type="client_credentials",
        scope=scope,
        **extra,
    )
