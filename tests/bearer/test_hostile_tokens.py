"""Hostile bearer tokens against the real validator (SECURITY.md 1-7, ENTRA.md).

Each row of :data:`REJECTED` is one attack and the exact ``TokenRejected.code`` it must
produce; nothing but ``TokenRejected`` may escape, the message never echoes the token,
and nothing a token names is ever fetched. :data:`ACCEPTED` holds the near misses that
must pass, so the table cannot be satisfied by refusing everything. :data:`DENIED` are
valid tokens that the route's rule must refuse (the ``Decision`` reason from ``evaluate``).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from portcullis.auth.rules import evaluate
from portcullis.bearer.validator import MAX_TOKEN_BYTES, TokenRejected
from portcullis.config.auth_schema import Allow
from portcullis.decision import Reason
from portcullis.identity import Kind
from portcullis.jose import public_jwk
from portcullis.oidc.fetch import IdpUnavailable
from tests.bearer.harness import (
    API_GUID,
    API_URI,
    DAEMON,
    DROP,
    EVIL_TID,
    EVIL_URL,
    GRAPH_APP,
    HOST,
    KNOWN_URLS,
    MIDDLE_TIER,
    NOW,
    SIGNIN_APP,
    TEMPLATE_V1,
    TEMPLATE_V2,
    TID,
    TID2,
    USER_CLIENT,
    V1_ISSUER,
    V1_JWKS,
    V2_DISCOVERY,
    V2_ISSUER,
    V2_JWKS,
    Env,
    agent_claims,
    app_claims,
    keys,
    make_env,
    oidc_claims,
    rsa_jwk,
    run,
    token,
    v1_claims,
    v2_claims,
)
from tests.jose.forge import b64, forge

# helpers ------------------------------------------------------------------------------------------


def _public_bytes(encoding: Encoding, fmt: PublicFormat) -> bytes:
    return keys().k1.public_key().public_bytes(encoding, fmt)


def _hs256(secret: bytes) -> str:
    return token(v2_claims(), alg="HS256", key=secret)


def _attacker_cert_b64() -> str:
    key = keys().attacker
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "login.microsoftonline.com")])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(Encoding.DER)).decode()


def _attacker_jwk(kid: str) -> dict[str, Any]:
    return public_jwk(keys().attacker, kid=kid, alg="RS256")


def _segments(text: str) -> list[str]:
    return text.split(".")


def _replace(tok: str, index: int, segment: str) -> str:
    parts = _segments(tok)
    parts[index] = segment
    return ".".join(parts)


def _tampered_payload() -> str:
    """The issuer's signature over one payload, sent with another (a role added)."""
    good = token(v2_claims())
    evil = b64(json.dumps(v2_claims(roles=["Admin"]), separators=(",", ":")).encode())
    return _replace(good, 1, evil)


def _raw(header: bytes, payload: bytes, signature: bytes = b"x" * 256) -> str:
    return f"{b64(header)}.{b64(payload)}.{b64(signature)}"


def _nested(depth: int) -> bytes:
    return b'{"aud":' + b"[" * depth + b"]" * depth + b"}"


def _oversize() -> str:
    return token(v2_claims(padding="x" * (MAX_TOKEN_BYTES + 1)))


def _with_raw_exp(exp: bytes) -> bytes:
    """The claims as JSON with ``exp`` spelled exactly as given (e.g. 1e400, which is inf)."""
    text = json.dumps(v2_claims(exp="EXP"), separators=(",", ":")).encode()
    return text.replace(b'"EXP"', exp)


def _mt(tenant: str, *, v1: bool = False, **changes: Any) -> dict[str, Any]:
    """Claims from ``tenant`` of a multi-tenant app (``tid`` and the issuer's segment)."""
    template = TEMPLATE_V1 if v1 else TEMPLATE_V2
    claims = v1_claims if v1 else v2_claims
    return claims(**{"tid": tenant, "iss": template.replace("{tenantid}", tenant), **changes})


# the table ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[], str]
    code: str
    env: str = "entra"  # entra | v2only | v1only | multi | oidc
    fetches_nothing: bool = False  # refused before any discovery or JWKS request


def _c(id: str, make: Callable[[], str], code: str, **kw: Any) -> Any:
    return pytest.param(Case(id, make, code, **kw), id=id)


def _early(id: str, make: Callable[[], str], code: str, **kw: Any) -> Any:
    return _c(id, make, code, fetches_nothing=True, **kw)


K = keys  # short alias for the table
SIG = b"x" * 256  # a signature-sized blob

REJECTED = [
    # --- algorithms (SECURITY 1) --------------------------------------------------------------
    _c("alg-none-unsigned", lambda: token(v2_claims(), alg="none", kid=None, signature=b""),
       "alg_not_allowed"),
    _c("alg-none-unsigned-with-kid", lambda: token(v2_claims(), alg="none", signature=b""),
       "alg_not_allowed"),
    _c("alg-none-with-signature", lambda: token(v2_claims(), alg="none"), "alg_not_allowed"),
    _c("alg-None-mixed-case", lambda: token(v2_claims(), alg="None", signature=b""),
       "alg_not_allowed"),
    _c("alg-NONE-upper", lambda: token(v2_claims(), alg="NONE", signature=b""),
       "alg_not_allowed"),
    _early("alg-empty", lambda: token(v2_claims(), alg="", signature=b""), "malformed"),
    _early("alg-missing", lambda: forge({"typ": "JWT", "kid": "k1"}, v2_claims(), signature=SIG),
           "malformed"),
    _early("alg-list", lambda: forge({"alg": ["RS256"], "kid": "k1"}, v2_claims(), signature=SIG),
           "malformed"),
    _c("hs256-rsa-public-pem-spki",
       lambda: _hs256(_public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)),
       "alg_not_allowed"),
    _c("hs256-rsa-public-pem-pkcs1",
       lambda: _hs256(_public_bytes(Encoding.PEM, PublicFormat.PKCS1)), "alg_not_allowed"),
    _c("hs256-rsa-public-der-spki",
       lambda: _hs256(_public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)),
       "alg_not_allowed"),
    _c("hs256-rsa-public-der-pkcs1",
       lambda: _hs256(_public_bytes(Encoding.DER, PublicFormat.PKCS1)), "alg_not_allowed"),
    _c("hs256-no-kid",
       lambda: token(v2_claims(), alg="HS256", kid=None,
                     key=_public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)),
       "alg_not_allowed"),
    _c("hs512-jwk-modulus-as-secret",
       lambda: token(v2_claims(), alg="HS512", key=rsa_jwk(K().k1, "k1")["n"].encode()),
       "alg_not_allowed"),
    _c("rs256-header-kid-of-published-ec-key", lambda: token(v2_claims(), kid="ec1", key=K().ec1),
       "key_mismatch"),
    _c("rs256-header-signed-with-attacker-ec-key",
       lambda: token(v2_claims(), key=K().attacker_ec), "bad_signature"),
    _c("es256-not-on-allowlist", lambda: token(v2_claims(), alg="ES256", kid="ec1", key=K().ec1),
       "alg_not_allowed"),
    _c("ps256-not-on-allowlist", lambda: token(v2_claims(), alg="PS256"), "alg_not_allowed"),
    _c("rs512-not-on-allowlist", lambda: token(v2_claims(), alg="RS512"), "alg_not_allowed"),
    _c("rs256-signed-by-attacker", lambda: token(v2_claims(), key=K().attacker), "bad_signature"),
    # --- keys only from the issuer's JWKS (SECURITY 2, 3) -------------------------------------
    _c("unknown-kid", lambda: token(v2_claims(), kid="nope", key=K().attacker), "unknown_kid"),
    _c("kid-case-variant", lambda: token(v2_claims(), kid="K1"), "unknown_kid"),
    _c("kid-path-traversal", lambda: token(v2_claims(), kid="../../k1"), "unknown_kid"),
    _c("kid-is-a-url", lambda: token(v2_claims(), kid=EVIL_URL), "unknown_kid"),
    _c("kid-sql", lambda: token(v2_claims(), kid="' OR '1'='1"), "unknown_kid"),
    _early("kid-not-a-string", lambda: token(v2_claims(), kid=1), "malformed"),  # type: ignore[arg-type]
    _c("no-kid-several-keys", lambda: token(v2_claims(), kid=None), "ambiguous_key"),
    _c("embedded-jwk-attacker-kid",
       lambda: token(v2_claims(), kid="evil", key=K().attacker, jwk=_attacker_jwk("evil")),
       "unknown_kid"),
    _c("embedded-jwk-known-kid",
       lambda: token(v2_claims(), key=K().attacker, jwk=_attacker_jwk("k1")), "bad_signature"),
    _c("embedded-jwk-no-kid",
       lambda: token(v2_claims(), kid=None, key=K().attacker, jwk=_attacker_jwk("evil")),
       "ambiguous_key"),
    _c("jku-attacker-kid",
       lambda: token(v2_claims(), kid="evil", key=K().attacker, jku=EVIL_URL), "unknown_kid"),
    _c("jku-known-kid", lambda: token(v2_claims(), key=K().attacker, jku=EVIL_URL),
       "bad_signature"),
    _c("x5u-attacker-kid",
       lambda: token(v2_claims(), kid="evil", key=K().attacker, x5u=EVIL_URL), "unknown_kid"),
    _c("x5u-known-kid", lambda: token(v2_claims(), key=K().attacker, x5u=EVIL_URL),
       "bad_signature"),
    _c("x5c-attacker-cert-known-kid",
       lambda: token(v2_claims(), key=K().attacker, x5c=[_attacker_cert_b64()]), "bad_signature"),
    _c("x5c-attacker-cert-attacker-kid",
       lambda: token(v2_claims(), kid="evil", key=K().attacker, x5c=[_attacker_cert_b64()]),
       "unknown_kid"),
    _c("all-embedded-keys-at-once",
       lambda: token(v2_claims(), kid="evil", key=K().attacker, jwk=_attacker_jwk("evil"),
                     jku=EVIL_URL, x5u=EVIL_URL, x5c=[_attacker_cert_b64()]),
       "unknown_kid"),
    _c("crit-unknown", lambda: token(v2_claims(), crit=["urn:evil"], **{"urn:evil": True}),
       "crit_unsupported"),
    _c("crit-b64-false", lambda: token(v2_claims(), crit=["b64"], b64=False), "crit_unsupported"),
    _c("crit-empty-list", lambda: token(v2_claims(), crit=[]), "crit_unsupported"),
    # --- lifetime (SECURITY 4; the provider's skew is 60 s) ------------------------------------
    _c("expired-beyond-skew", lambda: token(v2_claims(exp=int(NOW) - 61)), "expired"),
    _c("expired-long-ago", lambda: token(v2_claims(exp=int(NOW) - 86400)), "expired"),
    _c("exp-missing", lambda: token(v2_claims(exp=DROP)), "exp_missing"),
    _c("exp-null", lambda: token(v2_claims(exp=None)), "malformed"),
    _c("exp-string", lambda: token(v2_claims(exp=str(int(NOW) + 3600))), "malformed"),
    _c("exp-bool", lambda: token(v2_claims(exp=True)), "malformed"),
    _c("exp-huge-int", lambda: token(v2_claims(exp=10**400)), "malformed"),
    _c("exp-float-overflow", lambda: token(_with_raw_exp(b"1e400")), "malformed"),
    _c("nbf-future-beyond-skew", lambda: token(v2_claims(nbf=int(NOW) + 61)), "not_yet_valid"),
    _c("nbf-far-future", lambda: token(v2_claims(nbf=int(NOW) + 86400)), "not_yet_valid"),
    _c("iat-future-beyond-skew", lambda: token(v2_claims(iat=int(NOW) + 3600)), "iat_future"),
    # --- audience: the configured set, exactly (SECURITY 4, 5) --------------------------------
    _c("aud-wrong", lambda: token(v2_claims(aud="api://other-api")), "bad_audience"),
    _c("aud-another-apis-guid", lambda: token(v2_claims(aud=DAEMON)), "bad_audience"),
    _c("aud-sign-in-client", lambda: token(v2_claims(aud=SIGNIN_APP)), "bad_audience"),
    _c("aud-app-id-uri-with-trailing-slash", lambda: token(v1_claims(aud=API_URI + "/")),
       "bad_audience"),
    _c("aud-app-id-uri-upper-case", lambda: token(v1_claims(aud="API://contoso-api")),
       "bad_audience"),
    _c("aud-guid-upper-case", lambda: token(v2_claims(aud=API_GUID.upper())), "bad_audience"),
    _c("aud-prefix", lambda: token(v1_claims(aud="api://contoso")), "bad_audience"),
    _c("aud-suffix", lambda: token(v1_claims(aud="api://contoso-api-evil")), "bad_audience"),
    _c("aud-missing", lambda: token(v2_claims(aud=DROP)), "bad_audience"),
    _c("aud-empty-list", lambda: token(v2_claims(aud=[])), "bad_audience"),
    _c("aud-number", lambda: token(v2_claims(aud=1)), "bad_audience"),
    _c("aud-list-of-wrong-ones", lambda: token(v2_claims(aud=["api://a", "api://b"])),
       "bad_audience"),
    _c("aud-nested-list", lambda: token(v2_claims(aud=[[API_GUID]])), "bad_audience"),
    # --- issuer (SECURITY 4, ENTRA v1/v2) -------------------------------------------------------
    _c("iss-other-tenant", lambda: token(v2_claims(iss=f"{HOST}/{EVIL_TID}/v2.0")), "bad_issuer"),
    _c("iss-missing", lambda: token(v2_claims(iss=DROP)), "bad_issuer"),
    _c("iss-not-a-string", lambda: token(v2_claims(iss=[V2_ISSUER])), "bad_issuer"),
    _c("iss-v2-trailing-slash", lambda: token(v2_claims(iss=V2_ISSUER + "/")), "bad_issuer"),
    _c("iss-v1-without-trailing-slash", lambda: token(v1_claims(iss=V1_ISSUER.rstrip("/"))),
       "bad_issuer"),
    _c("iss-v1-double-slash", lambda: token(v1_claims(iss=V1_ISSUER + "/")), "bad_issuer"),
    _c("iss-upper-case-host",
       lambda: token(v2_claims(iss=V2_ISSUER.replace("login.", "LOGIN."))), "bad_issuer"),
    _c("iss-http", lambda: token(v2_claims(iss=V2_ISSUER.replace("https", "http"))),
       "bad_issuer"),
    _c("iss-template-literal", lambda: token(v2_claims(iss=TEMPLATE_V2)), "bad_issuer"),
    _c("mix-ver2-with-sts-issuer", lambda: token(v2_claims(iss=V1_ISSUER)), "bad_issuer"),
    _c("mix-ver1-with-v2-issuer", lambda: token(v1_claims(iss=V2_ISSUER)), "bad_issuer"),
    _c("v1-token-signed-with-key-only-in-v2-jwks",
       lambda: token(v1_claims(), kid="v2only", key=K().v2only), "unknown_kid"),
    _c("v2-token-signed-with-key-only-in-v1-jwks",
       lambda: token(v2_claims(), kid="v1only", key=K().v1only), "unknown_kid"),
    _early("ver-missing", lambda: token(v2_claims(ver=DROP)), "bad_version"),
    _early("ver-unknown", lambda: token(v2_claims(ver="3.0")), "bad_version"),
    _early("ver-number", lambda: token(v2_claims(ver=2.0)), "bad_version"),
    _early("ver-list", lambda: token(v2_claims(ver=["2.0"])), "bad_version"),
    _early("v1-token-on-v2-only-api", lambda: token(v1_claims()), "bad_version", env="v2only"),
    _early("v2-token-on-v1-only-api", lambda: token(v2_claims()), "bad_version", env="v1only"),
    # --- multi-tenant: {tenantid} template, tenant allowlist (ENTRA) ------------------------------
    _c("mt-tenant-not-allowed", lambda: token(_mt(EVIL_TID)), "tenant_not_allowed", env="multi"),
    _c("mt-v1-tenant-not-allowed", lambda: token(_mt(EVIL_TID, v1=True)), "tenant_not_allowed",
       env="multi"),
    _c("mt-tid-not-a-guid", lambda: token(_mt("contoso.onmicrosoft.com")), "tenant_not_allowed",
       env="multi"),
    _c("mt-tid-upper-case-guid", lambda: token(_mt(TID.upper())), "tenant_not_allowed",
       env="multi"),
    _c("mt-tid-missing", lambda: token(_mt(TID, tid=DROP)), "tenant_not_allowed", env="multi"),
    _c("mt-tid-not-a-string", lambda: token(_mt(TID, tid=[TID])), "tenant_not_allowed",
       env="multi"),
    _c("mt-tid-common", lambda: token(_mt("common")), "tenant_not_allowed", env="multi"),
    _c("mt-tid-differs-from-iss-segment", lambda: token(_mt(TID2, tid=TID)), "bad_issuer",
       env="multi"),
    _c("mt-v1-tid-differs-from-iss-segment", lambda: token(_mt(TID2, v1=True, tid=TID)),
       "bad_issuer", env="multi"),
    _c("mt-iss-template-unfilled", lambda: token(_mt(TID, iss=TEMPLATE_V2)), "bad_issuer",
       env="multi"),
    _c("mt-iss-other-host",
       lambda: token(_mt(TID, iss=f"https://login.evil.example/{TID}/v2.0")), "bad_issuer",
       env="multi"),
    _c("mt-iss-trailing-slash", lambda: token(_mt(TID, iss=f"{HOST}/{TID}/v2.0/")),
       "bad_issuer", env="multi"),
    _c("mt-ver2-with-sts-issuer", lambda: token(_mt(TID, iss=V1_ISSUER)), "bad_issuer",
       env="multi"),
    _c("mt-ver1-with-v2-issuer", lambda: token(_mt(TID, v1=True, iss=V2_ISSUER)), "bad_issuer",
       env="multi"),
    # --- Microsoft Graph tokens: not for this API (ENTRA; refused before any fetch) --------------
    _early("graph-aud-guid", lambda: token(v2_claims(aud=GRAPH_APP)), "graph_token"),
    _early("graph-aud-url", lambda: token(v1_claims(aud="https://graph.microsoft.com")),
           "graph_token"),
    _early("graph-aud-url-slash", lambda: token(v1_claims(aud="https://graph.microsoft.com/")),
           "graph_token"),
    _early("graph-nonce-in-jose-header", lambda: token(v2_claims(), nonce="graph-nonce"),
           "graph_token"),
    _early("graph-aud-next-to-ours", lambda: token(v2_claims(aud=[API_GUID, GRAPH_APP])),
           "graph_token"),
    _early("graph-real-shape",
           lambda: token(v1_claims(aud="https://graph.microsoft.com"), nonce="abc", x5t="k1"),
           "graph_token"),
    # --- ID tokens are not access tokens (SECURITY 5) ---------------------------------------
    _c("id-token-with-nonce", lambda: token(v2_claims(nonce="n-0S6", scp=DROP)), "id_token"),
    _c("id-token-with-at-hash", lambda: token(v2_claims(at_hash="77QmUPtjPfzWtF2AnpK9RQ")),
       "id_token"),
    _c("id-token-with-c-hash", lambda: token(v2_claims(c_hash="LDktKdoQak3Pk0cnXxCltA")),
       "id_token"),
    _c("id-token-for-the-sign-in-client",
       lambda: token(v2_claims(aud=SIGNIN_APP, nonce="n-0S6", scp=DROP, azp=DROP)),
       "bad_audience"),
    # --- typ (RFC 9068 for generic providers) ------------------------------------------------
    _early("entra-typ-logout-token", lambda: token(v2_claims(), typ="logout+jwt"), "bad_typ"),
    _early("entra-typ-secevent", lambda: token(v2_claims(), typ="secevent+jwt"), "bad_typ"),
    _early("oidc-typ-JWT", lambda: token(oidc_claims(), typ="JWT"), "bad_typ", env="oidc"),
    _early("oidc-typ-missing", lambda: token(oidc_claims(), typ=None), "bad_typ", env="oidc"),
    _early("oidc-typ-application-jwt", lambda: token(oidc_claims(), typ="application/jwt"),
           "bad_typ", env="oidc"),
    _early("oidc-typ-not-a-string",
           lambda: forge({"alg": "RS256", "kid": "k1", "typ": ["at+jwt"]}, oidc_claims(),
                         key=K().k1),
           "bad_typ", env="oidc"),
    _c("oidc-at-jwt-wrong-aud", lambda: token(oidc_claims(aud="https://other.example"),
                                              typ="at+jwt"),
       "bad_audience", env="oidc"),
    _c("oidc-at-jwt-wrong-iss", lambda: token(oidc_claims(iss="https://idp.example/"),
                                              typ="at+jwt"),
       "bad_issuer", env="oidc"),
    # --- size (SECURITY 7): refused before parsing, nothing fetched -----------------------------
    _early("oversize-valid-token", _oversize, "too_large"),
    _early("oversize-garbage", lambda: "A" * (MAX_TOKEN_BYTES + 1), "too_large"),
    _early("oversize-garbage-with-dots", lambda: "a." * 10_000 + "a", "too_large"),
    _early("oversize-header",
           lambda: token(v2_claims(), x5c=[_attacker_cert_b64()] * 6), "malformed"),
    # --- malformed: strict compact JWS (refused before any fetch) --------------------------------
    _early("empty", lambda: "", "malformed"),
    _early("one-part", lambda: "abc", "malformed"),
    _early("two-parts", lambda: ".".join(_segments(token(v2_claims()))[:2]), "malformed"),
    _early("four-parts", lambda: token(v2_claims()) + ".x", "malformed"),
    _early("jwe-five-parts", lambda: "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", "malformed"),
    _early("non-ascii", lambda: token(v2_claims()) + "é", "malformed"),
    _early("scheme-included", lambda: "Bearer " + token(v2_claims()), "malformed"),
    _early("base64-padding", lambda: _replace(token(v2_claims()), 1,
                                              _segments(token(v2_claims()))[1] + "=="),
           "malformed"),
    _early("base64-standard-alphabet",
           lambda: _replace(token(v2_claims()), 1, "+/" + _segments(token(v2_claims()))[1][2:]),
           "malformed"),
    _early("base64-whitespace",
           lambda: _replace(token(v2_claims()), 0, " " + _segments(token(v2_claims()))[0]),
           "malformed"),
    # "e30" is {} ; "e31" decodes to the same bytes with non-zero unused bits
    _early("base64-non-canonical-bits",
           lambda: b64(b'{"alg":"RS256","kid":"k1"}') + ".e31." + b64(b"x" * 256),
           "malformed"),
    _early("header-not-json", lambda: _raw(b"not json", b"{}"), "malformed"),
    _early("header-json-array", lambda: _raw(b'["RS256"]', b"{}"), "malformed"),
    _early("header-duplicate-alg", lambda: _raw(b'{"alg":"RS256","alg":"none","kid":"k1"}',
                                                b"{}"), "malformed"),
    _early("payload-not-json", lambda: _raw(b'{"alg":"RS256","kid":"k1"}', b"{aud:1}"),
           "malformed"),
    _early("payload-json-array", lambda: _raw(b'{"alg":"RS256","kid":"k1"}', b"[1]"),
           "malformed"),
    _early("payload-json-string", lambda: _raw(b'{"alg":"RS256","kid":"k1"}', b'"hi"'),
           "malformed"),
    _early("payload-duplicate-aud",
           lambda: _raw(b'{"alg":"RS256","kid":"k1","typ":"JWT"}',
                        b'{"aud":"api://other","aud":"' + API_GUID.encode() + b'","ver":"2.0"}'),
           "malformed"),
    _early("payload-nan", lambda: _raw(b'{"alg":"RS256","kid":"k1"}', b'{"exp":NaN}'),
           "malformed"),
    _early("payload-invalid-utf8", lambda: _raw(b'{"alg":"RS256","kid":"k1"}', b'{"a":"\xff"}'),
           "malformed"),
    _early("payload-deeply-nested", lambda: _raw(b'{"alg":"RS256","kid":"k1"}', _nested(5000)),
           "malformed"),
    _early("signature-not-base64", lambda: _replace(token(v2_claims()), 2, "***"), "malformed"),
    # --- tampering -------------------------------------------------------------------------------
    _c("tampered-payload", _tampered_payload, "bad_signature"),
    _c("tampered-header-kid",
       lambda: _replace(token(v2_claims()), 0, b64(b'{"typ":"JWT","alg":"RS256","kid":"k2"}')),
       "bad_signature"),
    _c("signature-truncated", lambda: token(v2_claims())[:-10], "bad_signature"),
    _c("signature-empty", lambda: _replace(token(v2_claims()), 2, ""), "bad_signature"),
    _c("signature-zeros", lambda: token(v2_claims(), signature=b"\0" * 256), "bad_signature"),
    _c("signature-of-another-token",
       lambda: _replace(token(v2_claims(roles=["Admin"])), 2,
                        _segments(token(v2_claims()))[2]),
       "bad_signature"),
]  # fmt: skip

ENVS = {
    "entra": lambda: make_env(),
    "v2only": lambda: make_env(token_versions=(2,)),
    "v1only": lambda: make_env(token_versions=(1,)),
    "multi": lambda: make_env("multi"),
    "oidc": lambda: make_env("oidc"),
}


@pytest.mark.parametrize("case", REJECTED)
def test_hostile_token_is_rejected_with_its_code(case: Case) -> None:
    env: Env = ENVS[case.env]()
    tok = case.make()
    rejected = env.reject(tok)
    assert rejected.code == case.code, str(rejected)
    # SECURITY 2: nothing a token names is ever fetched, only the configured issuer's documents.
    assert set(env.fetcher.urls) <= KNOWN_URLS, env.fetcher.urls
    assert EVIL_URL not in env.fetcher.urls
    if case.fetches_nothing:
        assert env.fetcher.urls == []
    # a refusal is not remembered as a principal
    assert env.validator.cached(tok)[1] is None


def test_the_table_covers_every_code_the_validator_can_give() -> None:
    codes = {p.values[0].code for p in REJECTED}
    assert codes >= {
        "alg_not_allowed",
        "key_mismatch",
        "bad_signature",
        "unknown_kid",
        "ambiguous_key",
        "crit_unsupported",
        "expired",
        "not_yet_valid",
        "exp_missing",
        "iat_future",
        "bad_audience",
        "bad_issuer",
        "tenant_not_allowed",
        "bad_version",
        "graph_token",
        "id_token",
        "bad_typ",
        "too_large",
        "malformed",
    }


# near misses that must pass -------------------------------------------------------------------


ACCEPTED = [
    pytest.param("entra", lambda: token(v2_claims()), id="baseline-v2"),
    pytest.param("entra", lambda: token(v1_claims()), id="baseline-v1-app-id-uri"),
    pytest.param("entra", lambda: token(v1_claims(aud=API_GUID)), id="v1-guid-audience"),
    pytest.param("entra", lambda: token(v2_claims(), kid="k2", key=K().k2), id="second-key"),
    pytest.param("entra", lambda: token(v2_claims(), typ=None), id="entra-typ-absent"),
    pytest.param("entra", lambda: token(v2_claims(), typ="jwt"), id="entra-typ-lower-case"),
    # SECURITY 4 says "aud in the configured set": one exact member is enough for an access
    # token (azp is only required for ID tokens with several audiences).
    pytest.param("entra", lambda: token(v2_claims(aud=["api://other", API_GUID])),
                 id="aud-list-wrong-and-right"),
    pytest.param("entra", lambda: token(v2_claims(aud=[API_URI, API_GUID])),
                 id="aud-list-both-right"),
    pytest.param("entra", lambda: token(v2_claims(exp=int(NOW) - 59)), id="exp-within-skew"),
    pytest.param("entra", lambda: token(v2_claims(nbf=int(NOW) + 59)), id="nbf-within-skew"),
    pytest.param("entra", lambda: token(v2_claims(iat=DROP, nbf=DROP)), id="no-iat-no-nbf"),
    # jku/x5u/jwk/x5c are ignored, not fetched: the issuer's own key still verifies.
    pytest.param("entra", lambda: token(v2_claims(), jku=EVIL_URL, x5u=EVIL_URL,
                                        jwk=_attacker_jwk("k1"), x5c=[_attacker_cert_b64()]),
                 id="ignored-embedded-key-headers"),
    pytest.param("entra", lambda: token(v1_claims(), x5t="k1"), id="v1-with-x5t"),
    pytest.param("v2only", lambda: token(v2_claims()), id="v2-only-api"),
    pytest.param("v1only", lambda: token(v1_claims()), id="v1-only-api"),
    pytest.param("multi", lambda: token(_mt(TID)), id="mt-first-tenant"),
    pytest.param("multi", lambda: token(_mt(TID2)), id="mt-second-tenant"),
    pytest.param("multi", lambda: token(_mt(TID2, v1=True)), id="mt-v1"),
    pytest.param("oidc", lambda: token(oidc_claims(), typ="at+jwt"), id="oidc-at-jwt"),
    pytest.param("oidc", lambda: token(oidc_claims(), typ="application/at+jwt"),
                 id="oidc-application-at-jwt"),
    pytest.param("oidc", lambda: token(oidc_claims(), typ="AT+JWT"), id="oidc-typ-case"),
]  # fmt: skip


@pytest.mark.parametrize(("env_name", "make"), ACCEPTED)
def test_near_miss_is_accepted(env_name: str, make: Callable[[], str]) -> None:
    env = ENVS[env_name]()
    tok = make()
    principal = env.check(tok)
    assert principal.identity.issuer
    assert set(env.fetcher.urls) <= KNOWN_URLS
    # remembered until exp, never past it (no skew on the cache)
    remembered = env.validator.cached(tok)[1]
    assert remembered is (principal if principal.token.expires_at > NOW else None)


# authorization failures of valid tokens -------------------------------------------------------


DENIED = [
    pytest.param(lambda: token(app_claims(roles=DROP)), Allow(app_roles=["Reports.Read.All"]),
                 Reason.INSUFFICIENT_SCOPE, id="app-token-without-roles"),
    pytest.param(lambda: token(app_claims(roles=DROP)), None, Reason.INSUFFICIENT_SCOPE,
                 id="app-token-without-roles-default-rule"),
    pytest.param(lambda: token(app_claims()), None, Reason.INSUFFICIENT_SCOPE,
                 id="app-token-with-roles-default-rule"),
    pytest.param(lambda: token(app_claims(roles=["Reports.Read.All"])),
                 Allow(roles=["Reports.Read.All"]), Reason.INSUFFICIENT_SCOPE,
                 id="app-role-named-only-as-a-user-role"),
    pytest.param(lambda: token(app_claims(roles=["Other"])), Allow(app_roles=["Reports.Read.All"]),
                 Reason.INSUFFICIENT_SCOPE, id="app-token-other-role"),
    pytest.param(lambda: token(agent_claims(roles=["Reports.Read.All"])),
                 Allow(app_roles=["Reports.Read.All"], kinds=["user", "obo"]),
                 Reason.INSUFFICIENT_SCOPE, id="agent-on-human-only-route"),
    pytest.param(lambda: token(agent_claims()), Allow(scopes=["Reports.Read"]),
                 Reason.INSUFFICIENT_SCOPE, id="agent-scope-slash-is-no-scope"),
    pytest.param(lambda: token(v2_claims(scp="Other.Read")), Allow(scopes=["Reports.Read"]),
                 Reason.INSUFFICIENT_SCOPE, id="delegated-without-required-scope"),
    pytest.param(lambda: token(v2_claims(azp=MIDDLE_TIER)), Allow(kinds=["user"]),
                 Reason.INSUFFICIENT_SCOPE, id="obo-on-direct-users-only-route"),
    pytest.param(lambda: token(v2_claims()), Allow(deny_clients=[USER_CLIENT]),
                 Reason.INSUFFICIENT_SCOPE, id="denied-client"),
    pytest.param(lambda: token(app_claims(roles=DROP)), Allow(clients=[f"{EVIL_TID}/{DAEMON}"]),
                 Reason.INSUFFICIENT_SCOPE, id="client-listed-for-another-tenant"),
    pytest.param(lambda: token(v2_claims(xms_cc=["cp1"])), Allow(auth_context="c1"),
                 Reason.INSUFFICIENT_CLAIMS, id="cae-capable-client-missing-acrs"),
    pytest.param(lambda: token(v2_claims(acrs=["c2"])), Allow(auth_context="c1"),
                 Reason.INSUFFICIENT_SCOPE, id="client-without-cp1-missing-acrs"),
    pytest.param(lambda: token(v2_claims(_claim_names={"groups": "src1"},
                                         _claim_sources={"src1": {"endpoint": EVIL_URL}})),
                 Allow(groups=["9a6c0d1e-0000-4000-8000-000000000001"]),
                 Reason.GROUPS_UNRESOLVED, id="group-overage"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "allow", "reason"), DENIED)
def test_valid_token_denied_by_the_rule(
    make: Callable[[], str], allow: Allow | None, reason: Reason
) -> None:
    env = make_env()
    principal = env.check(make())
    decision = evaluate(principal.identity, allow, principal.token)
    assert decision is not None and not decision.allow
    assert decision.reason is reason
    assert EVIL_URL not in env.fetcher.urls


def test_app_token_with_a_route_app_role_is_admitted() -> None:
    env = make_env()
    principal = env.check(token(app_claims()))
    assert principal.identity.kind is Kind.APP
    assert (
        evaluate(principal.identity, Allow(app_roles=["Reports.Read.All"]), principal.token) is None
    )


# unknown kids, floods and key rotation (SECURITY 3, ENTRA key rollover) ------------------------


def test_unknown_kid_gets_one_refresh_then_fails_closed() -> None:
    env = make_env()
    env.check(token(v2_claims()))
    assert env.fetcher.calls[V2_JWKS] == 1
    env.now[0] += 301
    assert env.reject(token(v2_claims(), kid="unknown", key=K().attacker)).code == "unknown_kid"
    assert env.fetcher.calls[V2_JWKS] == 2  # one refresh, the kid is still unknown: rejected
    assert env.reject(token(v2_claims(), kid="unknown2", key=K().attacker)).code == "unknown_kid"
    assert env.fetcher.calls[V2_JWKS] == 2  # rate-limited
    assert env.fetcher.calls[V2_DISCOVERY] == 1


async def _flood(env: Env, count: int, *, prefix: str, v1: bool = False) -> None:
    """``count`` tokens with distinct unknown kids, all in flight at once."""
    claims = v1_claims() if v1 else v2_claims()

    async def one(index: int) -> str:
        tok = token(claims, kid=f"{prefix}-{index}", signature=b"\x01" * 256)
        try:
            await env.acheck(tok)
        except TokenRejected as exc:
            return exc.code
        return "accepted"

    codes = await asyncio.gather(*(one(i) for i in range(count)))
    assert set(codes) == {"unknown_kid"}


def test_flood_of_unknown_kids_costs_one_jwks_fetch_per_five_minutes() -> None:
    env = make_env()

    async def scenario() -> None:
        await env.acheck(token(v2_claims()))
        assert env.fetcher.calls[V2_JWKS] == 1
        await _flood(env, 1000, prefix="a")  # within 5 minutes of the last fetch: none at all
        assert env.fetcher.calls[V2_JWKS] == 1
        env.now[0] += 301
        await _flood(env, 1000, prefix="b")
        assert env.fetcher.calls[V2_JWKS] == 2
        env.now[0] += 299
        await _flood(env, 1000, prefix="c")
        assert env.fetcher.calls[V2_JWKS] == 2
        env.now[0] += 2  # 301 s after the last refresh: exactly one more
        await _flood(env, 1000, prefix="d")
        assert env.fetcher.calls[V2_JWKS] == 3
        assert env.fetcher.calls[V2_DISCOVERY] == 1
        assert set(env.fetcher.urls) <= {V2_DISCOVERY, V2_JWKS}
        # the flood did not disturb genuine tokens
        assert (await env.acheck(token(v2_claims(uti="after")))).identity.object_id

    run(scenario())


def test_sequential_flood_costs_one_fetch() -> None:
    env = make_env()
    env.check(token(v2_claims()))
    env.now[0] += 301
    for index in range(1000):
        tok = token(v2_claims(), kid=f"seq-{index}", signature=b"\x01" * 256)
        assert env.reject(tok).code == "unknown_kid"
    assert env.fetcher.calls[V2_JWKS] == 2


def test_flood_on_a_cold_validator_costs_one_fetch() -> None:
    env = make_env()
    run(_flood(env, 1000, prefix="cold"))
    assert env.fetcher.calls[V2_DISCOVERY] == 1
    assert env.fetcher.calls[V2_JWKS] == 1


def test_each_token_version_has_its_own_refresh_budget() -> None:
    env = make_env()

    async def scenario() -> None:
        await env.acheck(token(v2_claims()))
        await env.acheck(token(v1_claims()))
        env.now[0] += 301
        await _flood(env, 300, prefix="v2")
        await _flood(env, 300, prefix="v1", v1=True)

    run(scenario())
    assert env.fetcher.calls[V2_JWKS] == 2
    assert env.fetcher.calls[V1_JWKS] == 2


def test_key_rotation() -> None:
    env = make_env()
    old = token(v2_claims(exp=int(NOW) + 3600, uti="old"))
    first = env.check(old)
    assert env.fetcher.calls[V2_JWKS] == 1
    # Entra rolls its keys: k1 is gone, "rotated" is new.
    env.fetcher.documents[V2_JWKS] = {"keys": [rsa_jwk(K().rotated, "rotated", V2_ISSUER)]}
    env.now[0] += 600
    # a token validated before the rotation is served from the cache until exp, no fetch
    assert env.check(old) is first
    assert env.fetcher.calls[V2_JWKS] == 1
    # a token signed by the new key validates after one refresh
    new = token(v2_claims(exp=int(NOW) + 7200, uti="new"), kid="rotated", key=K().rotated)
    assert env.check(new).token.token_id == "new"
    assert env.fetcher.calls[V2_JWKS] == 2
    assert env.check(old) is first  # still cached: exp has not passed
    env.now[0] = NOW + 3600  # the old token's exp: the cache lets it go
    assert env.validator.cached(old)[1] is None
    # revalidated: k1 is gone (one more rate-limited refresh, then fail closed)
    assert env.reject(old).code == "unknown_kid"
    assert env.fetcher.calls[V2_JWKS] == 3
    assert env.check(new).token.token_id == "new"  # from the cache
    assert env.fetcher.calls[V2_JWKS] == 3


def test_last_known_good_keys_survive_a_failed_refresh() -> None:
    env = make_env()
    env.check(token(v2_claims(uti="a")))
    env.fetcher.documents[V2_JWKS] = IdpUnavailable("GET keys: HTTP 503")
    env.now[0] += 3601  # past the hourly refresh
    assert env.check(token(v2_claims(uti="b", exp=int(NOW) + 7200))).token.token_id == "b"
    assert env.fetcher.calls[V2_JWKS] == 2


def test_idp_down_is_not_a_token_verdict() -> None:
    """No keys at all is IdpUnavailable (the gate answers 401 "could not be checked now")."""
    env = make_env()
    env.fetcher.documents[V2_JWKS] = IdpUnavailable("GET keys: HTTP 503")
    with pytest.raises(IdpUnavailable):
        env.check(token(v2_claims()))


def test_jwks_outage_does_not_turn_a_flood_into_a_fetch_per_token() -> None:
    env = make_env()
    env.fetcher.documents[V2_JWKS] = IdpUnavailable("GET keys: HTTP 503")
    # Disallowed algorithms are refused before any key is fetched.
    for index in range(50):
        assert env.reject(token(v2_claims(), alg="none", kid=f"k{index}", signature=b"")).code == (
            "alg_not_allowed"
        )
    assert env.fetcher.calls[V2_JWKS] == 0
    # Well-formed tokens during the outage: one attempt, then a back-off, not one per token.
    for index in range(50):
        with pytest.raises(IdpUnavailable):
            env.check(token(v2_claims(), kid=f"k{index}", signature=b"\x01" * 256))
    assert env.fetcher.calls[V2_JWKS] == 1
    env.now[0] += 11  # past the back-off: one more attempt
    with pytest.raises(IdpUnavailable):
        env.check(token(v2_claims(), kid="late", signature=b"\x01" * 256))
    assert env.fetcher.calls[V2_JWKS] == 2


def test_discovery_outage_does_not_turn_a_flood_into_a_fetch_per_token() -> None:
    env = make_env()
    env.fetcher.documents[V2_DISCOVERY] = IdpUnavailable("GET discovery: timeout")
    for index in range(50):
        with pytest.raises(IdpUnavailable):
            env.check(token(v2_claims(), kid=f"k{index}", signature=b""))
    assert env.fetcher.calls[V2_DISCOVERY] <= 1


def test_each_token_version_uses_its_own_jwks() -> None:
    """Keys come from the JWKS the issuer's discovery names: v2 keys verify v2 tokens."""
    env = make_env()
    principal = env.check(token(v2_claims(), kid="v2only", key=K().v2only))
    assert principal.identity.issuer == V2_ISSUER
    principal = env.check(token(v1_claims(), kid="v1only", key=K().v1only))
    assert principal.identity.issuer == V1_ISSUER
    assert env.fetcher.calls[V1_JWKS] == 1 and env.fetcher.calls[V2_JWKS] == 1


def test_rejections_are_not_cached_and_retry_costs_no_fetch() -> None:
    env = make_env()
    bad = token(v2_claims(aud="api://other"))
    for _ in range(20):
        assert env.reject(bad).code == "bad_audience"
    assert env.fetcher.calls[V2_JWKS] == 1
