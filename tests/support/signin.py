"""Drive a real sign-in through Portcullis: a small browser, the config, the login dance.

Used by ``tests/e2e/test_sign_in.py`` and by the benchmark (``bench/run.py``), both with
the real OpenID Provider of :mod:`tests.support.oidc_provider`:

- :class:`Browser`: one cookie jar, no redirect following, every response handed back
  (status, headers, body), so a test sees each 302 and each ``Set-Cookie``.
- :func:`sign_in_config`: a Portcullis config with sign-in against the OP for one of its
  clients: ``/admin`` needs ``Portal.Admin``, ``/public`` is public, the rest needs a
  signed-in user; everything goes to one upstream.
- :func:`sign_in`: ``/.portcullis/login`` → the OP (``login_hint`` picks the user) → the
  callback (GET, or the auto-submitted POST of ``form_post``); returns the callback's
  answer (a 302 to ``rd`` with the session cookie).

Cookies ignore ports: use one :class:`Browser` per Portcullis instance.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import socket
import urllib.parse
import urllib.request
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.oidc_provider import OidcProvider, browser_login

__all__ = [
    "SESSION_COOKIE",
    "SESSION_KEY",
    "Browser",
    "Response",
    "callback_url",
    "free_ports",
    "sign_in",
    "sign_in_config",
]

SESSION_COOKIE = "portcullis"
SESSION_KEY = "e2e-session-key-at-least-32-characters-long"
SCOPES = ["openid", "profile", "email", "roles"]


def free_ports(count: int) -> tuple[int, ...]:
    """``count`` distinct free loopback ports (all held open while choosing)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return tuple(int(sock.getsockname()[1]) for sock in socks)


def callback_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/.portcullis/callback"


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def json(self) -> Any:
        return json.loads(self.body)

    def set_cookies(self) -> list[str]:
        return self.headers.get_all("Set-Cookie") or []


class _KeepResponses(urllib.request.HTTPErrorProcessor):
    """No redirect following and no HTTPError: every response is returned as it is."""

    def http_response(self, request: Any, response: Any) -> Any:
        return response

    https_response = http_response


class Browser:
    """A cookie jar and an opener that never follows redirects."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _KeepResponses
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if data is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        with self._opener.open(request, timeout=15) as response:
            return Response(response.status, response.headers, response.read())

    def get(self, url: str, **headers: str) -> Response:
        return self.request("GET", url, headers=_header_names(headers))

    def post(self, url: str, form: Mapping[str, str], **headers: str) -> Response:
        return self.request("POST", url, form=form, headers=_header_names(headers))

    def cookie(self, name: str) -> str | None:
        for cookie in self.jar:
            if cookie.name == name:
                return cookie.value
        return None


def _header_names(headers: Mapping[str, str]) -> dict[str, str]:
    """``accept="x"`` → ``Accept: x`` (keyword arguments cannot hold dashes)."""
    return {name.replace("_", "-").title(): value for name, value in headers.items()}


def sign_in_config(
    *,
    port: int,
    op: OidcProvider,
    client_id: str,
    upstream: str,
    state_dir: Path,
    response_mode: str = "query",
    private_key_file: Path | None = None,
    cache_ttl: float | None = None,
) -> dict[str, Any]:
    """Portcullis on ``port``, signing in with ``client_id`` at ``op``, in front of ``upstream``."""
    client = op.clients[client_id]
    external = f"http://127.0.0.1:{port}"
    provider: dict[str, Any] = {
        "type": "oidc",
        "issuer": op.issuer,
        "client_id": client_id,
        "client_auth": client.auth_method,
        "scopes": SCOPES,
        "response_mode": response_mode,
    }
    if client.client_secret is not None:
        provider["client_secret"] = [{"value": client.client_secret}]
    if private_key_file is not None:
        provider["private_key"] = [{"file": str(private_key_file)}]
    session: dict[str, Any] = {
        "keys": [{"value": SESSION_KEY}],
        "sqlite_path": str(state_dir / f"sessions-{port}.db"),
    }
    if cache_ttl is not None:
        session["cache_ttl"] = cache_ttl
    return {
        "listen": {"port": port},
        "routes": [
            {"path": "/admin", "upstream": upstream, "allow": {"roles": ["Portal.Admin"]}},
            {"path": "/public", "upstream": upstream, "public": True},
            {"path": "/", "upstream": upstream},
        ],
        "auth": {"external_url": external, "providers": [provider], "session": session},
    }


def sign_in(browser: Browser, base_url: str, *, user: str = "alice", rd: str = "/") -> Response:
    """The whole login in ``browser``; returns the callback's answer (not followed)."""
    login = browser.get(f"{base_url}/.portcullis/login?" + urllib.parse.urlencode({"rd": rd}))
    if login.status != 302 or not login.location:
        raise RuntimeError(f"/.portcullis/login answered {login.status}: {login.body[:300]!r}")
    # Portcullis does not pass login_hint through; the OP signs in whoever it names.
    authorize = login.location + "&" + urllib.parse.urlencode({"login_hint": user})
    landing = browser_login(authorize, jar=browser.jar)
    if not landing.url.startswith(f"{base_url}/.portcullis/callback"):
        raise RuntimeError(f"the OP sent the browser to {landing.url}, not to the callback")
    if landing.method == "POST":
        return browser.post(landing.url, landing.fields)
    return browser.get(landing.url)
