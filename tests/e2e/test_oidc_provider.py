"""The test OpenID Provider (panva/oidc-provider) works, without Portcullis in the picture.

Proves what the proxy's login tests rely on: discovery, the code flow with PKCE S256 for each
client authentication method, ID token contents and signatures, form_post, logout, and
client_credentials JWT access tokens for ``api://portcullis-test``.
"""

from __future__ import annotations

import base64
import hashlib
import http.cookiejar
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.oidc_provider import (
    BASIC,
    BOT,
    PKJWT,
    POST,
    RESOURCE,
    BrowserError,
    Landing,
    OidcProvider,
    browser_login,
    browser_logout,
    run_oidc_provider,
    setup_problem,
)

REDIRECT_URI = "http://127.0.0.1:9/.portcullis/callback"
POST_LOGOUT_URI = "http://127.0.0.1:9/signed-out"
SCOPE = "openid profile email roles"


@pytest.fixture(scope="module")
def op() -> Iterator[OidcProvider]:
    problem = setup_problem()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    with run_oidc_provider(
        redirect_uris=[REDIRECT_URI], post_logout_redirect_uris=[POST_LOGOUT_URI]
    ) as provider:
        yield provider


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Login:
    """One authorization request: fresh state, nonce and PKCE verifier."""

    def __init__(self, op: OidcProvider, client_id: str, **params: str) -> None:
        self.op = op
        self.client_id = client_id
        self.state = secrets.token_urlsafe(16)
        self.nonce = secrets.token_urlsafe(16)
        self.verifier = secrets.token_urlsafe(48)
        challenge = b64url(hashlib.sha256(self.verifier.encode()).digest())
        query = {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": REDIRECT_URI,
            "scope": SCOPE,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "login_hint": "alice",
            **params,
        }
        query = {k: v for k, v in query.items() if v}
        self.url = f"{op.authorization_endpoint}?{urllib.parse.urlencode(query)}"

    def redeem(self, code: str, verifier: str | None = None) -> tuple[int, dict[str, Any]]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier or self.verifier,
        }
        return token_request(self.op, self.client_id, form)


class NoRedirects(urllib.request.HTTPErrorProcessor):
    def http_response(self, request: Any, response: Any) -> Any:
        return response


def client_assertion(op: OidcProvider, client_id: str) -> str:
    client = op.clients[client_id]
    assert client.private_key_pem is not None
    key = serialization.load_pem_private_key(client.private_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": client.kid}
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": op.token_endpoint,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 120,
    }
    signing_input = ".".join(b64url(json.dumps(part).encode()) for part in (header, claims))
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def token_request(
    op: OidcProvider, client_id: str, form: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """POST to the token endpoint, authenticating as the client's registered method does."""
    client = op.clients[client_id]
    form = dict(form)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if client.auth_method == "client_secret_basic":
        assert client.client_secret is not None
        pair = f"{urllib.parse.quote(client_id, safe='')}:"
        pair += urllib.parse.quote(client.client_secret, safe="")
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif client.auth_method == "client_secret_post":
        assert client.client_secret is not None
        form |= {"client_id": client_id, "client_secret": client.client_secret}
    else:
        form |= {
            "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(op, client_id),
        }
    request = urllib.request.Request(
        op.token_endpoint, data=urllib.parse.urlencode(form).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def fetch_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        result: dict[str, Any] = json.load(response)
        return result


def verify_jwt(op: OidcProvider, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check an RS256 signature against the OP's JWKS; return header and claims."""
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header["alg"] == "RS256"
    jwk = next(k for k in fetch_json(op.jwks_uri)["keys"] if k["kid"] == header["kid"])
    assert jwk["kty"] == "RSA"
    assert "d" not in jwk
    public_key = rsa.RSAPublicNumbers(
        int.from_bytes(b64url_decode(jwk["e"])), int.from_bytes(b64url_decode(jwk["n"]))
    ).public_key()
    public_key.verify(
        b64url_decode(signature_b64),
        f"{header_b64}.{claims_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return header, json.loads(b64url_decode(claims_b64))


def sign_in(login: Login, jar: http.cookiejar.CookieJar | None = None) -> dict[str, Any]:
    """Run the browser part and the token request; return the verified ID token claims."""
    landing = browser_login(login.url, jar=jar)
    assert landing.method == "GET"
    assert landing.url.startswith(REDIRECT_URI + "?")
    assert landing.fields["state"] == login.state
    assert landing.fields["iss"] == login.op.issuer
    status, tokens = login.redeem(landing.fields["code"])
    assert status == 200, tokens
    assert tokens["token_type"].lower() == "bearer"
    _, claims = verify_jwt(login.op, tokens["id_token"])
    return claims


def test_discovery_document(op: OidcProvider) -> None:
    meta = fetch_json(f"{op.issuer}/.well-known/openid-configuration")
    assert meta["issuer"] == op.issuer == f"http://127.0.0.1:{op.port}"
    for endpoint in (
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ):
        assert meta[endpoint].startswith(op.issuer + "/")
    assert meta["response_types_supported"] == ["code"]
    assert {"query", "form_post"} <= set(meta["response_modes_supported"])
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert {"client_secret_basic", "client_secret_post", "private_key_jwt"} <= set(
        meta["token_endpoint_auth_methods_supported"]
    )
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    assert {"authorization_code", "client_credentials"} <= set(meta["grant_types_supported"])
    assert {"openid", "profile", "email", "roles"} <= set(meta["scopes_supported"])
    assert meta["authorization_response_iss_parameter_supported"] is True
    keys = fetch_json(meta["jwks_uri"])["keys"]
    assert keys
    assert all(k["kty"] == "RSA" and "d" not in k for k in keys)


@pytest.mark.parametrize("client_id", [BASIC, POST, PKJWT])
def test_code_flow_with_pkce_for_each_client_auth_method(op: OidcProvider, client_id: str) -> None:
    login = Login(op, client_id)
    claims = sign_in(login)
    now = time.time()
    assert claims["iss"] == op.issuer
    assert claims["aud"] == client_id
    assert claims["sub"] == "alice"
    assert claims["nonce"] == login.nonce
    assert claims["iat"] <= now + 5 < claims["exp"] + 5
    assert claims["name"] == "Alice Admin"
    assert claims["email"] == "alice@example.test"
    assert claims["roles"] == ["Portal.Admin"]
    assert len(claims["groups"]) == 2


def test_bob_has_no_roles(op: OidcProvider) -> None:
    claims = sign_in(Login(op, BASIC, login_hint="bob"))
    assert claims["sub"] == "bob"
    assert "roles" not in claims
    assert "groups" not in claims


def test_one_browser_signs_in_alice_then_bob(op: OidcProvider) -> None:
    jar = http.cookiejar.CookieJar()
    assert sign_in(Login(op, BASIC), jar)["sub"] == "alice"
    assert sign_in(Login(op, POST), jar)["sub"] == "alice"
    assert sign_in(Login(op, BASIC, login_hint="bob"), jar)["sub"] == "bob"


def test_form_post_returns_an_auto_submit_form(op: OidcProvider) -> None:
    login = Login(op, POST, response_mode="form_post")
    landing = browser_login(login.url)
    assert landing == Landing("POST", REDIRECT_URI, landing.fields)
    assert landing.fields["state"] == login.state
    assert landing.fields["iss"] == op.issuer
    status, tokens = login.redeem(landing.fields["code"])
    assert status == 200, tokens
    assert verify_jwt(op, tokens["id_token"])[1]["nonce"] == login.nonce


def test_code_needs_its_verifier_and_is_single_use(op: OidcProvider) -> None:
    login = Login(op, BASIC)
    code = browser_login(login.url).fields["code"]
    status, body = login.redeem(code, verifier=secrets.token_urlsafe(48))
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body = login.redeem(code)
    assert status == 200, body
    status, body = login.redeem(code)
    assert (status, body["error"]) == (400, "invalid_grant")


def test_pkce_is_required(op: OidcProvider) -> None:
    login = Login(op, BASIC, code_challenge="", code_challenge_method="")
    landing = browser_login(login.url)
    assert landing.fields["error"] == "invalid_request"
    assert landing.fields["state"] == login.state
    assert "code" not in landing.fields


def test_unknown_login_hint_is_access_denied(op: OidcProvider) -> None:
    login = Login(op, BASIC, login_hint="<b>mallory</b>")
    landing = browser_login(login.url)
    assert landing.fields["error"] == "access_denied"
    assert landing.fields["error_description"] == "unknown user <b>mallory</b>"
    assert landing.fields["state"] == login.state


def test_without_login_hint_the_op_shows_a_login_page(op: OidcProvider) -> None:
    with pytest.raises(BrowserError, match="waits for a person") as caught:
        browser_login(Login(op, BASIC, login_hint="").url)
    assert "Alice Admin" in caught.value.text
    assert caught.value.status == 200


def test_the_login_form_signs_in_the_chosen_user(op: OidcProvider) -> None:
    jar = http.cookiejar.CookieJar()
    login = Login(op, BASIC, login_hint="")
    with pytest.raises(BrowserError) as caught:
        browser_login(login.url, jar=jar)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirects)
    submit = urllib.request.Request(f"{caught.value.url}/login", data=b"login=bob")
    with opener.open(submit, timeout=10) as response:
        assert response.status == 303
        resume = urllib.parse.urljoin(caught.value.url, response.headers["Location"])
    landing = browser_login(resume, jar=jar)
    status, tokens = login.redeem(landing.fields["code"])
    assert status == 200, tokens
    assert verify_jwt(op, tokens["id_token"])[1]["sub"] == "bob"


def test_unregistered_redirect_uri_stays_at_the_op(op: OidcProvider) -> None:
    url = Login(op, BASIC).url.replace(
        urllib.parse.quote(REDIRECT_URI, safe=""),
        urllib.parse.quote("http://evil.test/cb", safe=""),
    )
    with pytest.raises(BrowserError) as caught:
        browser_login(url)
    assert caught.value.status == 400
    assert "redirect_uri" in caught.value.text


def test_rp_initiated_logout_returns_to_the_post_logout_uri(op: OidcProvider) -> None:
    jar = http.cookiejar.CookieJar()
    login = Login(op, BASIC)
    status, tokens = login.redeem(browser_login(login.url, jar=jar).fields["code"])
    assert status == 200
    state = secrets.token_urlsafe(8)
    query = urllib.parse.urlencode(
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": POST_LOGOUT_URI,
            "state": state,
        }
    )
    landing = browser_logout(f"{op.end_session_endpoint}?{query}", jar=jar)
    assert landing.url.startswith(POST_LOGOUT_URI)
    assert landing.fields["state"] == state
    # The OP session is gone: without login_hint the login page is back.
    with pytest.raises(BrowserError, match="waits for a person"):
        browser_login(Login(op, BASIC, login_hint="").url, jar=jar)


def test_client_credentials_jwt_access_token_for_the_api(op: OidcProvider) -> None:
    form = {"grant_type": "client_credentials", "resource": RESOURCE, "scope": "reports.read"}
    status, tokens = token_request(op, BOT, form)
    assert status == 200, tokens
    header, claims = verify_jwt(op, tokens["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["iss"] == op.issuer
    assert claims["aud"] == RESOURCE
    assert claims["client_id"] == BOT
    assert claims["sub"] == BOT
    assert claims["scope"] == "reports.read"
    assert claims["roles"] == ["Reports.Read"]
    assert claims["exp"] > time.time()
    assert "jti" in claims


def test_client_credentials_for_an_unknown_resource_is_refused(op: OidcProvider) -> None:
    form = {"grant_type": "client_credentials", "resource": "api://other"}
    status, body = token_request(op, BOT, form)
    assert (status, body["error"]) == (400, "invalid_target")


def test_secrets_stay_out_of_repr(op: OidcProvider) -> None:
    text = repr(op)
    for client in op.clients.values():
        if client.client_secret:
            assert client.client_secret not in text
    assert "PRIVATE KEY" not in text
