"""Parts for the policy end-to-end test: an echo upstream, the dev IdP's tenant, tokens, calls.

- :class:`EchoUpstream`: answers every method with JSON naming the method, path and headers
  it received, and remembers the request ids it saw (did a request reach the upstream?).
- :func:`tenant`: the dev IdP's demo tenant, plus Portcullis' callback on ``proxy_port``, a
  group of Alice's that no rule names, the demo API as a middle tier (on-behalf-of) and an
  app with no app role.
- :func:`app_token`, :func:`user_token`, :func:`obo_token`: real tokens for the demo API.
- :func:`send`: one request through the proxy, with a session (a signed-in
  :class:`~tests.auth.browser.Browser`) or a bearer token.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from portcullis.devidp import DevIdp, DevIdpConfig, default_config
from portcullis.devidp.defaults import DEMO_API_ID, DEMO_API_URI
from portcullis.devidp.model import Client
from portcullis.secret import Secret
from tests.auth.browser import Browser, Response
from tests.devidp.helpers import client_credentials, token_request, tokens

__all__ = [
    "API_SCOPE",
    "MIDDLE_TIER_SECRET",
    "NO_ROLE_APP",
    "NO_ROLE_APP_SECRET",
    "UNREFERENCED_GROUP",
    "EchoUpstream",
    "app_token",
    "obo_token",
    "run_echo",
    "send",
    "tenant",
    "user_token",
]

API_SCOPE = f"{DEMO_API_URI}/Reports.Read.All"
MIDDLE_TIER_SECRET = "policy-e2e-middle-tier-secret"
NO_ROLE_APP = "policy-e2e-no-role-app"
NO_ROLE_APP_SECRET = "policy-e2e-no-role-secret"
UNREFERENCED_GROUP = "5e0c2a7d-9b1f-4d3a-8c6e-7f9a1b3c5d17"  # Alice's; no rule names it
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        seen = {name.lower(): value for name, value in self.headers.items()}
        server = self.server
        assert isinstance(server, EchoUpstream)
        with server.lock:
            server.request_ids.add(seen.get("x-request-id", ""))
        body = json.dumps({"method": self.command, "path": self.path, "headers": seen}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class EchoUpstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.lock = threading.Lock()
        self.request_ids: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def reached(self, response: Response) -> bool:
        """Whether the request that got ``response`` reached this upstream."""
        with self.lock:
            return response.headers.get("x-request-id", "?") in self.request_ids


@contextmanager
def run_echo() -> Iterator[EchoUpstream]:
    server = EchoUpstream()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def tenant(proxy_port: int) -> DevIdpConfig:
    """The demo tenant, with what the policy test needs besides."""
    base = default_config()
    signin = base.clients[0]
    url = f"http://127.0.0.1:{proxy_port}"
    signin = dataclasses.replace(
        signin,
        redirect_uris=(*signin.redirect_uris, f"{url}/.portcullis/callback"),
        post_logout_redirect_uris=(*signin.post_logout_redirect_uris, f"{url}/"),
    )
    users = tuple(
        dataclasses.replace(u, groups=(*u.groups, UNREFERENCED_GROUP))
        if u.username == "alice"
        else u
        for u in base.users
    )
    middle_tier = Client(client_id=DEMO_API_ID, secret=Secret(MIDDLE_TIER_SECRET))
    no_role = Client(client_id=NO_ROLE_APP, secret=Secret(NO_ROLE_APP_SECRET))
    return dataclasses.replace(
        base, users=users, clients=(signin, *base.clients[1:], middle_tier, no_role)
    )


def app_token(idp: DevIdp, client_id: str, secret: str) -> str:
    """Client credentials: an app-only (or agent) token for the demo API."""
    reply = client_credentials(idp, client_id, secret, f"{DEMO_API_URI}/.default")
    assert reply.status == 200, reply.body
    return str(reply.json()["access_token"])


def user_token(idp: DevIdp, user: str) -> str:
    """The code flow through the sign-in client: ``user``'s delegated token for the demo API."""
    _, body = tokens(idp, user, scope=f"{API_SCOPE} openid")
    return str(body["access_token"])


def obo_token(idp: DevIdp, assertion: str) -> str:
    """The demo API, as a middle tier, exchanges a user's token for another on their behalf."""
    reply = token_request(
        idp,
        DEMO_API_ID,
        MIDDLE_TIER_SECRET,
        grant_type=_JWT_BEARER,
        requested_token_use="on_behalf_of",
        assertion=assertion,
        scope=API_SCOPE,
    )
    assert reply.status == 200, reply.body
    return str(reply.json()["access_token"])


def send(
    url: str,
    caller: Browser | str | None,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> Response:
    """One request: ``caller`` is a browser (its session), a bearer token, or nobody."""
    sent = {"Accept": "application/json", **(headers or {})}
    browser = caller if isinstance(caller, Browser) else Browser()
    if isinstance(caller, str):
        sent["Authorization"] = f"Bearer {caller}"
    data = {"x": "1"} if method in ("POST", "PUT", "PATCH") else None
    return browser.request(url, method=method, data=data, headers=sent)
