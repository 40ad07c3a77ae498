"""A real OpenID Provider for tests: panva's ``oidc-provider`` (OpenID Certified) on loopback.

``run_oidc_provider()`` writes a config into a temporary directory and starts
``node tests/support/op/server.mjs CONFIG`` on a free port of 127.0.0.1. The issuer is
``http://127.0.0.1:<port>``. Clients (all confidential, code flow, PKCE S256 required,
``query`` and ``form_post`` response modes, RS256 ID tokens):

- ``portcullis-basic``: ``client_secret_basic``
- ``portcullis-post``: ``client_secret_post``
- ``portcullis-pkjwt``: ``private_key_jwt`` (RS256); the private key is generated here
- ``reporting-bot``: ``client_credentials`` only; with ``resource=api://portcullis-test``
  it gets an RS256 JWT access token carrying ``roles: ["Reports.Read"]``

Users: ``alice`` (roles ``Portal.Admin``, two group GUIDs) and ``bob`` (no roles, no groups).
Scopes ``openid profile email roles``; ``roles`` puts ``roles`` and ``groups`` in the ID token.

An authorization request with ``login_hint=<user>`` signs that user in and grants consent
without any page; :func:`browser_login` follows it like a browser.
See ``tests/support/op/README.md``.

Node and ``tests/support/op/node_modules`` are required: ``make test`` installs them.
Nothing here skips: a missing piece raises :class:`OidcProviderUnavailable`.
"""

from __future__ import annotations

import base64
import hashlib
import html.parser
import http.cookiejar
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "BASIC",
    "BOT",
    "OP_DIR",
    "PKJWT",
    "POST",
    "RESOURCE",
    "RESOURCE_SCOPE",
    "BrowserError",
    "Landing",
    "OidcClient",
    "OidcProvider",
    "OidcProviderUnavailable",
    "browser_login",
    "browser_logout",
    "run_oidc_provider",
    "setup_problem",
]

OP_DIR = Path(__file__).resolve().parent / "op"
SERVER = OP_DIR / "server.mjs"
INSTALL_HINT = "run `make test` or `npm ci` in tests/support/op"

BASIC = "portcullis-basic"
POST = "portcullis-post"
PKJWT = "portcullis-pkjwt"
BOT = "reporting-bot"
RESOURCE = "api://portcullis-test"
RESOURCE_SCOPE = "reports.read"

USERS: dict[str, dict[str, Any]] = {
    "alice": {
        "name": "Alice Admin",
        "preferred_username": "alice",
        "email": "alice@example.test",
        "roles": ["Portal.Admin"],
        "groups": [
            "5b6f0b42-3a1e-4b8e-9d3c-2f1a7c9e4d10",
            "c0ffee00-1234-4abc-8def-0123456789ab",
        ],
    },
    "bob": {
        "name": "Bob Builder",
        "preferred_username": "bob",
        "email": "bob@example.test",
    },
}
APP_ROLES = {BOT: ["Reports.Read"]}


class OidcProviderUnavailable(RuntimeError):
    """node, the installed ``oidc-provider`` or the started server is missing."""


@dataclass(frozen=True)
class OidcClient:
    """A client registered at the OP. Secrets and keys stay out of ``repr()``."""

    client_id: str
    auth_method: str
    client_secret: str | None = field(default=None, repr=False)
    private_key_pem: bytes | None = field(default=None, repr=False)
    kid: str | None = None


@dataclass
class OidcProvider:
    """A running oidc-provider: issuer, clients, users, discovery metadata and the process."""

    issuer: str
    port: int
    clients: dict[str, OidcClient]
    users: dict[str, dict[str, Any]] = field(repr=False)
    metadata: dict[str, Any] = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path

    @property
    def authorization_endpoint(self) -> str:
        return str(self.metadata["authorization_endpoint"])

    @property
    def token_endpoint(self) -> str:
        return str(self.metadata["token_endpoint"])

    @property
    def end_session_endpoint(self) -> str:
        return str(self.metadata["end_session_endpoint"])

    @property
    def jwks_uri(self) -> str:
        return str(self.metadata["jwks_uri"])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        _terminate(self.process)


def _terminate(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def setup_problem() -> str | None:
    """What keeps the OP from starting (node or the pinned oidc-provider missing), or None."""
    if shutil.which("node") is None:
        return f"`node` is not on PATH: the OIDC e2e tests need Node.js and npm ({INSTALL_HINT})"
    pinned = json.loads((OP_DIR / "package.json").read_text())["dependencies"]["oidc-provider"]
    installed_json = OP_DIR / "node_modules" / "oidc-provider" / "package.json"
    if not installed_json.exists():
        return f"oidc-provider is not installed in {OP_DIR}/node_modules: {INSTALL_HINT}"
    installed = json.loads(installed_json.read_text())["version"]
    if installed != pinned:
        return (
            f"oidc-provider {installed} is installed but package.json pins {pinned}: {INSTALL_HINT}"
        )
    return None


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _rsa_client_key() -> tuple[bytes, dict[str, str]]:
    """A fresh RSA key: its PKCS#8 PEM and its public JWK (kid = RFC 7638 thumbprint)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    jwk = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def _client_metadata(
    client: OidcClient,
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str],
    public_jwk: dict[str, str] | None,
) -> dict[str, Any]:
    if client.client_id == BOT:
        return {
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "token_endpoint_auth_method": client.auth_method,
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
        }
    metadata: dict[str, Any] = {
        "client_id": client.client_id,
        "token_endpoint_auth_method": client.auth_method,
        "redirect_uris": list(redirect_uris),
        "post_logout_redirect_uris": list(post_logout_redirect_uris),
        "response_types": ["code"],
        "grant_types": ["authorization_code"],
        "id_token_signed_response_alg": "RS256",
    }
    if client.client_secret is not None:
        metadata["client_secret"] = client.client_secret
    if public_jwk is not None:
        metadata["jwks"] = {"keys": [public_jwk]}
        metadata["token_endpoint_auth_signing_alg"] = "RS256"
    return metadata


def _wait_ready(process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("READY "):
                return line.split(" ", 1)[1].strip()
        if process.poll() is not None:
            raise OidcProviderUnavailable(
                f"oidc-provider exited with status {process.returncode}:\n"
                f"{log_path.read_text(errors='replace')}"
            )
        time.sleep(0.05)
    log = log_path.read_text(errors="replace")
    raise OidcProviderUnavailable(f"oidc-provider printed no READY line in {timeout}s:\n{log}")


def _discover(issuer: str) -> dict[str, Any]:
    url = f"{issuer}/.well-known/openid-configuration"
    with urllib.request.urlopen(url, timeout=10) as response:
        metadata: dict[str, Any] = json.load(response)
    if metadata.get("issuer") != issuer:
        raise OidcProviderUnavailable(f"{url} names issuer {metadata.get('issuer')!r}")
    return metadata


@contextmanager
def run_oidc_provider(
    *,
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str] = (),
    timeout: float = 20.0,
) -> Iterator[OidcProvider]:
    """Start the OP with every client accepting exactly ``redirect_uris``; stop it on exit."""
    problem = setup_problem()
    if problem is not None:
        raise OidcProviderUnavailable(problem)
    node = shutil.which("node") or "node"
    pem, public_jwk = _rsa_client_key()
    clients = {
        BASIC: OidcClient(BASIC, "client_secret_basic", secrets.token_urlsafe(32)),
        POST: OidcClient(POST, "client_secret_post", secrets.token_urlsafe(32)),
        PKJWT: OidcClient(PKJWT, "private_key_jwt", private_key_pem=pem, kid=public_jwk["kid"]),
        BOT: OidcClient(BOT, "client_secret_basic", secrets.token_urlsafe(32)),
    }
    config = {
        "port": 0,
        "cookieKeys": [secrets.token_urlsafe(32)],
        "clients": [
            _client_metadata(
                client,
                redirect_uris,
                post_logout_redirect_uris,
                public_jwk if client.client_id == PKJWT else None,
            )
            for client in clients.values()
        ],
        "users": USERS,
        "resources": {
            RESOURCE: {
                "scope": RESOURCE_SCOPE,
                "audience": RESOURCE,
                "accessTokenFormat": "jwt",
                "accessTokenTTL": 600,
                "jwt": {"sign": {"alg": "RS256"}},
            }
        },
        "appRoles": APP_ROLES,
    }
    with tempfile.TemporaryDirectory(prefix="oidc-provider-") as tmp:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps(config))
        log_path = Path(tmp) / "oidc-provider.log"
        env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "NODE_OPTIONS")}
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [node, str(SERVER), str(config_path)],
                cwd=OP_DIR,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            issuer = _wait_ready(process, log_path, timeout)
            provider = OidcProvider(
                issuer=issuer,
                port=int(issuer.rsplit(":", 1)[1]),
                clients=clients,
                users=json.loads(json.dumps(USERS)),
                metadata=_discover(issuer),
                process=process,
                log_path=log_path,
            )
            yield provider
        finally:
            _terminate(process)


# A browser, just enough to drive the OP: cookies, redirects, and the OP's own hidden-only
# forms (the logout confirmation); it stops where the OP hands the browser to someone else.


@dataclass(frozen=True)
class Landing:
    """Where the OP finally sends the browser.

    A redirect (``method`` GET, ``url`` the full target, ``fields`` its query and fragment
    parameters) or an auto-submitting form, as in ``response_mode=form_post`` (``method``
    POST, ``url`` the form's action, ``fields`` its inputs). Either way ``fields`` holds
    ``code``, ``state`` and ``iss`` (or ``error``, ``error_description``, ``state``).
    """

    method: str
    url: str
    fields: dict[str, str]


class BrowserError(RuntimeError):
    """The OP kept the browser: an error page, or a page waiting for a person."""

    def __init__(self, message: str, *, status: int, url: str, text: str) -> None:
        super().__init__(f"{message}: HTTP {status} at {url}\n{text[:2000]}")
        self.status = status
        self.url = url
        self.text = text


class _FormParser(html.parser.HTMLParser):
    """The first ``<form>`` of a page: action, method, inputs, and whether a person must act."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found = False
        self.action = ""
        self.method = "get"
        self.fields: dict[str, str] = {}
        self.needs_person = False
        self.text: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form" and not self.found:
            self.found = True
            self._depth = 1
            self.action = attr.get("action", "")
            self.method = attr.get("method", "get").lower()
        elif self._depth and tag == "input":
            if attr.get("type", "text").lower() != "hidden":
                self.needs_person = True
            if attr.get("name"):
                self.fields[attr["name"]] = attr.get("value", "")
        elif self._depth and (
            tag in ("select", "textarea") or (tag == "button" and attr.get("name"))
        ):
            # A named button is a choice (the login form's users); a nameless one just submits
            # (the <noscript> fallback of the OP's auto-submitting forms).
            self.needs_person = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._depth:
            self._depth = 0

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


class _KeepResponses(urllib.request.HTTPErrorProcessor):
    """Hand every response back as is: no redirect following, no HTTPError."""

    def http_response(self, request: Any, response: Any) -> Any:
        return response

    https_response = http_response


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc


def _params(url: str) -> dict[str, str]:
    parts = urllib.parse.urlsplit(url)
    pairs = urllib.parse.parse_qsl(parts.query) + urllib.parse.parse_qsl(parts.fragment)
    return dict(pairs)


def _follow(url: str, jar: http.cookiejar.CookieJar, max_steps: int) -> Landing:
    op_origin = _origin(url)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _KeepResponses)
    method, data = "GET", None
    for _ in range(max_steps):
        if _origin(url) != op_origin:
            return Landing("GET", url, _params(url))
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        with opener.open(request, timeout=10) as response:
            status, location, body = response.status, response.headers["Location"], response.read()
        if 300 <= status < 400 and location:
            url, method, data = urllib.parse.urljoin(url, location), "GET", None
            continue
        page = _FormParser()
        page.feed(body.decode("utf-8", "replace"))
        action = urllib.parse.urljoin(url, page.action)
        if page.found and page.method == "post" and _origin(action) != op_origin:
            return Landing("POST", action, page.fields)
        if page.found and page.method == "post" and not page.needs_person:
            url, method = action, "POST"
            data = urllib.parse.urlencode(page.fields).encode()
            continue
        text = "\n".join(page.text)
        if page.needs_person:
            raise BrowserError(
                "the OP waits for a person (add login_hint=<user>)",
                status=status,
                url=url,
                text=text,
            )
        raise BrowserError("the OP kept the browser", status=status, url=url, text=text)
    raise BrowserError(f"more than {max_steps} steps", status=0, url=url, text="")


def browser_login(
    authorize_url: str, *, jar: http.cookiejar.CookieJar | None = None, max_steps: int = 20
) -> Landing:
    """Open ``authorize_url`` like a browser and return where the OP sends it back to the client.

    Cookies go into ``jar`` (a fresh one by default; pass one to keep the OP session for a
    later login or logout). Add ``login_hint=alice`` to the authorization request to sign in
    without a page. Raises :class:`BrowserError` when the OP shows an error or a login page.
    """
    return _follow(authorize_url, jar if jar is not None else http.cookiejar.CookieJar(), max_steps)


def browser_logout(
    end_session_url: str, *, jar: http.cookiejar.CookieJar, max_steps: int = 20
) -> Landing:
    """RP-initiated logout in the browser holding ``jar``; the confirmation submits itself.

    Pass ``post_logout_redirect_uri`` (with ``id_token_hint`` or ``client_id``) in the URL:
    the landing is that URI with ``state``. Without one the OP keeps the browser (BrowserError).
    """
    return _follow(end_session_url, jar, max_steps)
