"""Discovery and JWKS, shaped like Entra's v2.0 and v1.0 endpoints."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography import x509

from portcullis.devidp import TENANT_ID, DevIdp
from portcullis.devidp.defaults import BOT_CLIENT_ID, BOT_CLIENT_SECRET, LEGACY_API_URI
from portcullis.jose import public_jwk
from tests.devidp.helpers import (
    b64url,
    b64url_decode,
    check_access_token,
    client_credentials,
    fetch,
    get_json,
    jwks_of,
    tokens,
    verify_rs256,
)


def test_tenant_discovery_shape(idp: DevIdp) -> None:
    base = idp.url
    doc = get_json(f"{base}/{TENANT_ID}/v2.0/.well-known/openid-configuration")
    assert doc["issuer"] == idp.issuer == f"{base}/{TENANT_ID}/v2.0"
    assert base.startswith("http://127.0.0.1:")
    assert doc["authorization_endpoint"] == f"{base}/{TENANT_ID}/oauth2/v2.0/authorize"
    assert doc["token_endpoint"] == f"{base}/{TENANT_ID}/oauth2/v2.0/token"
    assert doc["jwks_uri"] == f"{base}/{TENANT_ID}/discovery/v2.0/keys"
    assert doc["end_session_endpoint"] == f"{base}/{TENANT_ID}/oauth2/v2.0/logout"
    assert doc["response_types_supported"] == ["code"]
    assert set(doc["response_modes_supported"]) == {"query", "form_post"}
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    }
    assert idp.discovery_url == f"{idp.issuer}/.well-known/openid-configuration"
    assert set(doc["grant_types_supported"]) == {
        "authorization_code",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    }
    assert doc["claims_parameter_supported"] is True


def test_v1_discovery_has_the_trailing_slash_issuer_and_v1_keys(idp: DevIdp) -> None:
    base = idp.url
    doc = get_json(f"{base}/{TENANT_ID}/.well-known/openid-configuration")
    assert idp.discovery_url_v1 == f"{base}/{TENANT_ID}/.well-known/openid-configuration"
    assert doc["issuer"] == idp.issuer_v1 == f"{base}/{TENANT_ID}/"
    assert doc["jwks_uri"] == f"{base}/{TENANT_ID}/discovery/keys"
    assert doc["token_endpoint"] == idp.endpoint("token")
    v1_keys = get_json(doc["jwks_uri"])["keys"]
    v2_keys = jwks_of(idp)["keys"]
    assert {k["issuer"] for k in v1_keys} == {idp.issuer_v1}
    strip = ("issuer",)
    assert [{k: v for k, v in key.items() if k not in strip} for key in v1_keys] == [
        {k: v for k, v in key.items() if k not in strip} for key in v2_keys
    ]


@pytest.mark.parametrize("tenant", ["organizations", "common"])
def test_multi_tenant_v1_discovery_returns_the_v1_template(idp: DevIdp, tenant: str) -> None:
    doc = get_json(f"{idp.url}/{tenant}/.well-known/openid-configuration")
    assert doc["issuer"] == f"{idp.url}/{{tenantid}}/"
    assert doc["jwks_uri"] == f"{idp.url}/{tenant}/discovery/keys"


def test_keys_carry_a_self_signed_certificate_and_its_sha1_thumbprint(idp: DevIdp) -> None:
    for key in jwks_of(idp)["keys"]:
        (der_b64,) = key["x5c"]
        der = base64.b64decode(der_b64)
        assert key["x5t"] == b64url(hashlib.sha1(der).digest())
        assert key["x5t"] != key["kid"]
        cert = x509.load_der_x509_certificate(der)
        assert cert.issuer == cert.subject
        cert_jwk = public_jwk(cert.public_key(), kid=None, alg=None)  # type: ignore[arg-type]
        assert (cert_jwk["n"], cert_jwk["e"]) == (key["n"], key["e"])


def test_v1_token_header_x5t_names_the_signing_certificate(idp: DevIdp) -> None:
    reply = client_credentials(idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET, f"{LEGACY_API_URI}/.default")
    header, _ = check_access_token(
        idp, reply.json()["access_token"], audience=LEGACY_API_URI, v1=True
    )
    (key,) = [k for k in jwks_of(idp)["keys"] if k["kid"] == header["kid"]]
    assert header["x5t"] == key["x5t"]


def test_jwks_lists_rsa_signing_keys_with_issuer(idp: DevIdp) -> None:
    keys = jwks_of(idp)["keys"]
    assert len(keys) >= 1
    for key in keys:
        assert key["kty"] == "RSA"
        assert key["use"] == "sig"
        assert key["alg"] == "RS256"
        assert isinstance(key["kid"], str) and key["kid"]
        assert key["issuer"] == idp.issuer
        assert len(b64url_decode(key["n"])) == 256  # 2048 bits
        assert "d" not in key and "p" not in key


@pytest.mark.parametrize("tenant", ["organizations", "common"])
def test_multi_tenant_discovery_returns_the_template_issuer(idp: DevIdp, tenant: str) -> None:
    doc = get_json(f"{idp.url}/{tenant}/v2.0/.well-known/openid-configuration")
    assert doc["issuer"] == f"{idp.url}/{{tenantid}}/v2.0"
    assert doc["token_endpoint"] == f"{idp.url}/{tenant}/oauth2/v2.0/token"
    keys = get_json(doc["jwks_uri"])["keys"]
    assert {k["issuer"] for k in keys} == {f"{idp.url}/{{tenantid}}/v2.0"}


def test_template_substituted_with_tid_is_the_token_issuer(idp: DevIdp) -> None:
    template = get_json(f"{idp.url}/organizations/v2.0/.well-known/openid-configuration")["issuer"]
    _, response = tokens(idp)
    _, claims = verify_rs256(response["id_token"], jwks_of(idp))
    assert template.replace("{tenantid}", claims["tid"]) == claims["iss"] == idp.issuer


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/consumers/v2.0/.well-known/openid-configuration",
        "/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration",
        f"/{TENANT_ID}/v2.0/.well-known/other",
        f"/{TENANT_ID}/oauth2/token",
    ],
)
def test_unknown_paths_are_404(idp: DevIdp, path: str) -> None:
    assert fetch(idp.url + path).status == 404


def test_wrong_method(idp: DevIdp) -> None:
    reply = fetch(idp.discovery_url, data={"a": "b"})
    assert reply.status == 405
    assert reply.headers["Allow"] == "GET"
    assert fetch(idp.endpoint("token")).status == 405


def test_rotated_key_signs_and_old_key_stays_published(idp: DevIdp) -> None:
    old = {k["kid"] for k in jwks_of(idp)["keys"]}
    new_kid = idp.rotate_key()
    assert new_kid not in old
    keys = jwks_of(idp)
    assert {k["kid"] for k in keys["keys"]} == old | {new_kid}
    _, response = tokens(idp)
    header, _ = verify_rs256(response["id_token"], keys)
    assert header["kid"] == new_kid
