"""An in-process bearer validator against a stubbed Entra (or generic OIDC) provider.

The real :class:`ProviderClient` and :class:`BearerValidator` run; only the network is
replaced: :class:`StubFetcher` serves discovery documents and JWKS from dicts and records
every URL asked for. The clock is a list the test mutates (never sleep). Tokens are built
with ``tests.jose.forge`` (independent of ``portcullis.jose``) so they can be as hostile
as needed.
"""

from __future__ import annotations

import asyncio
import copy
import functools
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portcullis.bearer.principal import Principal
from portcullis.bearer.validator import BearerValidator, TokenRejected
from portcullis.config.auth_schema import Api, Provider
from portcullis.jose import public_jwk
from portcullis.oidc.client_auth import ClientAuth
from portcullis.oidc.fetch import IdpUnavailable
from portcullis.oidc.provider import ProviderClient
from portcullis.secret import Secret
from tests.jose.forge import forge

T = TypeVar("T")

NOW = 1_750_000_000.0
HOST = "https://login.microsoftonline.com"
TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TID2 = "3c1e7f2a-5b4d-4e6f-8a9b-0c1d2e3f4a5b"  # a second allowed tenant (multi-tenant)
EVIL_TID = "deadbeef-0000-4000-8000-00000000beef"  # a tenant nobody allowed
SIGNIN_APP = "11111111-1111-4111-8111-111111111111"  # Portcullis' own sign-in registration
API_GUID = "a2c4e6f8-2222-4222-8222-22222222abcd"  # the protected API's client id
API_URI = "api://contoso-api"
USER_CLIENT = "33333333-3333-4333-8333-333333333333"  # a SPA users call the API through
MIDDLE_TIER = "44444444-4444-4444-8444-444444444444"  # calls the API on a user's behalf
DAEMON = "55555555-5555-4555-8555-555555555555"  # app-only (client credentials)
AGENT_APP = "66666666-6666-4666-8666-666666666666"  # an Entra Agent ID
USER_OID = "77777777-7777-4777-8777-777777777777"
APP_OID = "88888888-8888-4888-8888-888888888888"
GRAPH_APP = "00000003-0000-0000-c000-000000000000"

V2_DISCOVERY = f"{HOST}/{TID}/v2.0/.well-known/openid-configuration"
V2_ISSUER = f"{HOST}/{TID}/v2.0"
V2_JWKS = f"{HOST}/{TID}/discovery/v2.0/keys"
V1_DISCOVERY = f"{HOST}/{TID}/.well-known/openid-configuration"
V1_ISSUER = f"https://sts.windows.net/{TID}/"
V1_JWKS = f"{HOST}/{TID}/discovery/keys"

MT_V2_DISCOVERY = f"{HOST}/organizations/v2.0/.well-known/openid-configuration"
MT_V2_JWKS = f"{HOST}/organizations/discovery/v2.0/keys"
MT_V1_DISCOVERY = f"{HOST}/organizations/.well-known/openid-configuration"
MT_V1_JWKS = f"{HOST}/organizations/discovery/keys"
TEMPLATE_V2 = f"{HOST}/{{tenantid}}/v2.0"
TEMPLATE_V1 = "https://sts.windows.net/{tenantid}/"

OIDC_ISSUER = "https://idp.example"
OIDC_DISCOVERY = f"{OIDC_ISSUER}/.well-known/openid-configuration"
OIDC_JWKS = f"{OIDC_ISSUER}/jwks"
OIDC_AUDIENCE = "https://api.example"

EVIL_URL = "https://evil.example/jwks.json"


# keys ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Keys:
    k1: rsa.RSAPrivateKey  # the issuer's current key (both JWKS)
    k2: rsa.RSAPrivateKey  # a second published key (both JWKS)
    v1only: rsa.RSAPrivateKey  # published only in the v1 JWKS
    v2only: rsa.RSAPrivateKey  # published only in the v2 JWKS
    rotated: rsa.RSAPrivateKey  # the key rolled in later
    ec1: ec.EllipticCurvePrivateKey  # an EC key published (kid "ec1")
    attacker: rsa.RSAPrivateKey
    attacker_ec: ec.EllipticCurvePrivateKey


@functools.cache
def keys() -> Keys:
    def gen() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    return Keys(
        gen(),
        gen(),
        gen(),
        gen(),
        gen(),
        ec.generate_private_key(ec.SECP256R1()),
        gen(),
        ec.generate_private_key(ec.SECP256R1()),
    )


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str, issuer: str | None = None) -> dict[str, Any]:
    jwk = public_jwk(key, kid=kid, alg=None)  # Entra's keys carry no alg
    jwk["x5t"] = kid
    if issuer:
        jwk["issuer"] = issuer
    return jwk


def v2_jwks() -> dict[str, Any]:
    k = keys()
    return {
        "keys": [
            rsa_jwk(k.k1, "k1", V2_ISSUER),
            rsa_jwk(k.k2, "k2", V2_ISSUER),
            rsa_jwk(k.v2only, "v2only", V2_ISSUER),
            public_jwk(k.ec1, kid="ec1", alg=None),
        ]
    }


def v1_jwks() -> dict[str, Any]:
    k = keys()
    return {
        "keys": [
            rsa_jwk(k.k1, "k1"),
            rsa_jwk(k.k2, "k2"),
            rsa_jwk(k.v1only, "v1only"),
        ]
    }


def _discovery(issuer: str, base: str, jwks_uri: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "jwks_uri": jwks_uri,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "id_token_signing_alg_values_supported": ["RS256"],
    }


# the network --------------------------------------------------------------------------------------
class StubFetcher:
    """``get_json`` from a dict of URL → document (or exception); every URL is recorded."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.urls: list[str] = []
        self.calls: Counter[str] = Counter()

    async def get_json(self, url: str) -> dict[str, Any]:
        self.urls.append(url)
        self.calls[url] += 1
        await asyncio.sleep(0)  # a real request yields to the event loop
        document = self.documents.get(url)
        if document is None:
            raise IdpUnavailable(f"GET {url}: HTTP 404")
        if isinstance(document, BaseException):
            raise document
        return copy.deepcopy(document)

    async def post_form(self, url: str, form: Any, *, headers: Any = None) -> Any:
        raise AssertionError(f"no POST expected, got {url}")

    async def close(self) -> None:
        return None


def entra_documents(*, multi_tenant: bool = False) -> dict[str, Any]:
    if multi_tenant:
        return {
            MT_V2_DISCOVERY: _discovery(TEMPLATE_V2, f"{HOST}/organizations", MT_V2_JWKS),
            MT_V1_DISCOVERY: _discovery(TEMPLATE_V1, f"{HOST}/organizations", MT_V1_JWKS),
            MT_V2_JWKS: v2_jwks(),
            MT_V1_JWKS: v1_jwks(),
        }
    return {
        V2_DISCOVERY: _discovery(V2_ISSUER, f"{HOST}/{TID}", V2_JWKS),
        V1_DISCOVERY: _discovery(V1_ISSUER, f"{HOST}/{TID}", V1_JWKS),
        V2_JWKS: v2_jwks(),
        V1_JWKS: v1_jwks(),
    }


def oidc_documents() -> dict[str, Any]:
    k = keys()
    return {
        OIDC_DISCOVERY: _discovery(OIDC_ISSUER, OIDC_ISSUER, OIDC_JWKS),
        OIDC_JWKS: {"keys": [public_jwk(k.k1, kid="k1", alg="RS256")]},
    }


KNOWN_URLS = frozenset(
    {
        V2_DISCOVERY,
        V1_DISCOVERY,
        V2_JWKS,
        V1_JWKS,
        MT_V2_DISCOVERY,
        MT_V1_DISCOVERY,
        MT_V2_JWKS,
        MT_V1_JWKS,
        OIDC_DISCOVERY,
        OIDC_JWKS,
    }
)


# the validator ------------------------------------------------------------------------------------
def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


@dataclass
class Env:
    validator: BearerValidator
    fetcher: StubFetcher
    now: list[float] = field(default_factory=lambda: [NOW])

    def check(self, token: str) -> Principal:
        """What the gate does: the cache first, else a full validation."""
        return run(self.acheck(token))

    async def acheck(self, token: str) -> Principal:
        key, principal = self.validator.cached(token)
        if principal is not None:
            return principal
        return await self.validator.validate(token, key)

    def reject(self, token: str) -> TokenRejected:
        """The token must be refused with TokenRejected and nothing else."""
        try:
            principal = self.check(token)
        except TokenRejected as exc:
            _no_token_in(str(exc), token)
            return exc
        except BaseException as exc:  # pragma: no cover - the failure path
            pytest.fail(f"{type(exc).__name__} escaped instead of TokenRejected: {exc!r}")
        pytest.fail(f"token accepted: {principal!r}")

    @property
    def jwks_fetches(self) -> int:
        return sum(n for url, n in self.fetcher.calls.items() if "keys" in url or "jwks" in url)


def _no_token_in(text: str, token: str) -> None:
    for part in token.split("."):
        if len(part) >= 8:
            assert part not in text, "the error message echoes the token"


def make_env(
    kind: str = "entra",
    *,
    token_versions: tuple[int, ...] = (1, 2),
    audiences: tuple[str, ...] = (API_GUID, API_URI),
    documents: dict[str, Any] | None = None,
    user_clients: tuple[str, ...] = (SIGNIN_APP, USER_CLIENT),
) -> Env:
    now = [NOW]
    if kind == "oidc":
        config: dict[str, Any] = {"type": "oidc", "issuer": OIDC_ISSUER, "client_id": "px"}
        audiences = (OIDC_AUDIENCE,)
        docs = oidc_documents()
    else:
        config = {
            "type": "entra",
            "tenant": "organizations" if kind == "multi" else TID,
            "authority_host": HOST,
            "client_id": SIGNIN_APP,
        }
        if kind == "multi":
            config["allowed_tenants"] = [TID, TID2]
        docs = entra_documents(multi_tenant=kind == "multi")
    config["client_secret"] = [{"value": "sign-in-secret"}]
    fetcher = StubFetcher(documents if documents is not None else docs)
    provider = ProviderClient(
        Provider.model_validate(config),
        client_auth=[ClientAuth(config["client_id"], "client_secret_basic", Secret("s"))],
        redirect_uri="https://proxy.example/.portcullis/callback",
        fetcher=fetcher,  # type: ignore[arg-type]
        clock=lambda: now[0],
    )
    api = Api.model_validate(
        {
            "name": "contoso",
            "provider": "default",
            "audiences": list(audiences),
            "token_versions": list(token_versions),
        }
    )
    validator = BearerValidator(
        api,
        provider,
        fetcher=fetcher,  # type: ignore[arg-type]
        clock=lambda: now[0],
        user_clients=user_clients,
    )
    return Env(validator, fetcher, now)


# tokens -------------------------------------------------------------------------------------------
def _apply(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` overrides ``base``; a value of ``DROP`` removes the member."""
    result = dict(base)
    for name, value in changes.items():
        if value is DROP:
            result.pop(name, None)
        else:
            result[name] = value
    return result


DROP: Any = object()


def v2_claims(**changes: Any) -> dict[str, Any]:
    """An Entra v2 delegated access token for the API, issued 5 minutes ago."""
    now = int(NOW)
    base = {
        "aud": API_GUID,
        "iss": V2_ISSUER,
        "iat": now - 300,
        "nbf": now - 300,
        "exp": now + 3600,
        "aio": "AXQAi/8TAAAA",
        "azp": USER_CLIENT,
        "azpacr": "0",
        "name": "Alice",
        "oid": USER_OID,
        "preferred_username": "alice@contoso.example",
        "rh": "0.AAAA",
        "scp": "Reports.Read",
        "sub": "pairwise-alice",
        "tid": TID,
        "uti": "uti-v2",
        "ver": "2.0",
    }
    return _apply(base, changes)


def v1_claims(**changes: Any) -> dict[str, Any]:
    """An Entra v1 delegated access token (App ID URI audience, ``appid``)."""
    now = int(NOW)
    base = {
        "aud": API_URI,
        "iss": V1_ISSUER,
        "iat": now - 300,
        "nbf": now - 300,
        "exp": now + 3600,
        "acr": "1",
        "amr": ["pwd", "mfa"],
        "appid": USER_CLIENT,
        "appidacr": "0",
        "name": "Alice",
        "oid": USER_OID,
        "scp": "Reports.Read",
        "sub": "pairwise-alice",
        "tid": TID,
        "unique_name": "alice@contoso.example",
        "upn": "alice@contoso.example",
        "uti": "uti-v1",
        "ver": "1.0",
    }
    return _apply(base, changes)


def app_claims(**changes: Any) -> dict[str, Any]:
    """An Entra v2 app-only token (client credentials)."""
    base = v2_claims(
        azp=DAEMON,
        azpacr="1",
        idtyp="app",
        oid=APP_OID,
        sub=APP_OID,
        roles=["Reports.Read.All"],
        scp=DROP,
        name=DROP,
        preferred_username=DROP,
        uti="uti-app",
    )
    return _apply(base, changes)


def agent_claims(**changes: Any) -> dict[str, Any]:
    """An Entra Agent ID token: agent facets, ``scp`` of ``/``."""
    base = v2_claims(
        azp=AGENT_APP,
        idtyp="app",
        oid=APP_OID,
        sub=APP_OID,
        scp="/",
        xms_act_fct="11 9",
        xms_sub_fct="11 9",
        name=DROP,
        preferred_username=DROP,
    )
    return _apply(base, changes)


def oidc_claims(**changes: Any) -> dict[str, Any]:
    now = int(NOW)
    base = {
        "iss": OIDC_ISSUER,
        "aud": OIDC_AUDIENCE,
        "sub": "bot",
        "client_id": "bot",
        "iat": now - 10,
        "exp": now + 600,
        "jti": "jti-1",
        "scope": "reports",
    }
    return _apply(base, changes)


def token(
    claims: dict[str, Any] | bytes,
    *,
    key: Any = None,
    kid: str | None = "k1",
    alg: str = "RS256",
    typ: str | None = "JWT",
    signature: bytes | None = None,
    **header: Any,
) -> str:
    """A compact JWS; by default signed RS256 by the issuer's key ``k1``."""
    head: dict[str, Any] = {"typ": typ, "alg": alg, "kid": kid, **header}
    head = {name: value for name, value in head.items() if value is not None}
    return forge(head, claims, key=keys().k1 if key is None else key, signature=signature)


Make = Callable[[], str]
