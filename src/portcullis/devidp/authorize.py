"""The authorization endpoint: code flow with PKCE S256, the sign-in page, the redirect back.

Order of checks (RFC 6749 §4.1.2.1): while the client or its redirect URI is
in doubt, errors are shown on our own page and nothing is redirected; after
that, errors go back to the client as ``error``/``error_description``/``state``
in the requested response mode. Without ``login_hint`` the user picks a demo
account on a page (the pending request is kept server-side, single-use, 10
minutes); with ``login_hint=alice`` the code is issued at once (scripts, tests).
A resource-qualified scope (``api://portcullis-demo/Reports.Read.All``) makes
the access token one for that API; ``claims`` (CAE: ``xms_cc``, ``acrs``) is
checked here and carried to the token endpoint with the code. There is no IdP sign-in
session: every authorization is a new sign-in (``auth_time`` = now, always in the ID
token), so ``prompt=login`` and any ``max_age`` are honoured as Entra honours them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlencode, urlsplit, urlunsplit

from portcullis.devidp import pages
from portcullis.devidp.claims import SignIn
from portcullis.devidp.model import Api, Client, DevIdpConfig, User
from portcullis.devidp.requested import NO_CLAIMS, ClaimsRequest, parse_claims
from portcullis.devidp.resources import ScopeError, delegated
from portcullis.devidp.stores import OneTimeStore, new_handle
from portcullis.devidp.wire import BadParams, Response, html_response, parse_params, redirect

__all__ = ["CODE_TTL", "PENDING_TTL", "AuthRequest", "Authorizer", "Grant"]

CODE_TTL = 300
PENDING_TTL = 600
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_PROMPTS = frozenset({"login", "none", "consent", "select_account"})
_MAX_VALUE = 2048


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """A validated authorization request."""

    client: Client
    redirect_uri: str
    response_mode: str
    state: str | None
    nonce: str | None
    code_challenge: str
    scopes: tuple[str, ...]
    login_hint: str | None
    api: Api | None = None
    api_scopes: tuple[str, ...] = ()
    requested: ClaimsRequest = NO_CLAIMS


@dataclass(frozen=True, slots=True)
class Grant:
    """What an authorization code stands for, checked again at the token endpoint."""

    sign_in: SignIn
    redirect_uri: str
    code_challenge: str


class _PageError(Exception):
    """Shown on our own page: the redirect target is not trusted (yet)."""


@dataclass(frozen=True, slots=True)
class _RedirectError(Exception):
    error: str
    description: str


class Authorizer:
    def __init__(
        self,
        config: DevIdpConfig,
        codes: OneTimeStore[Grant],
        pending: OneTimeStore[AuthRequest],
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._codes = codes
        self._pending = pending
        self._clock = clock

    def start(self, query: str, *, action: str) -> Response:
        """``GET .../authorize?...``; ``action`` is the path the sign-in page posts back to."""
        try:
            params = parse_params(query)
        except BadParams as exc:
            return _error_page("Bad request", str(exc))
        try:
            client, redirect_uri = self._client_and_redirect(params)
        except _PageError as exc:
            return _error_page("Sign-in request rejected", str(exc))
        mode = params.get("response_mode", "query")
        mode = mode if mode in ("query", "form_post") else "query"
        try:
            request = _validate(params, client, redirect_uri, self._config)
        except _RedirectError as exc:
            fields = {"error": exc.error, "error_description": exc.description}
            return _deliver(redirect_uri, mode, fields, params.get("state"))
        if request.login_hint is None:
            if params.get("prompt") == "none":
                return self._deny(
                    request, "login_required", "no session: prompt=none needs login_hint"
                )
            handle = new_handle()
            self._pending.put(handle, request)
            render = partial(
                pages.sign_in_page,
                action=action,
                handle=handle,
                client_name=client.name or client.client_id,
                users=self._config.users,
            )
            return html_response(200, render)
        user = self._config.user(request.login_hint)
        if user is None:
            return self._deny(request, "access_denied", "unknown user (login_hint)")
        return self._complete(request, user)

    def choose(self, body: bytes) -> Response:
        """``POST .../authorize`` from the sign-in page: a user button or Deny."""
        try:
            form = parse_params(body)
        except BadParams as exc:
            return _error_page("Bad request", str(exc))
        request = self._pending.take(form.get("request", ""))
        if request is None:
            return _error_page("Sign-in expired", "This sign-in request is unknown or was used.")
        if "deny" in form:
            return self._deny(request, "access_denied", "the user denied the sign-in")
        user = self._config.user(form.get("user", ""))
        if user is None:
            return self._deny(request, "access_denied", "unknown user")
        return self._complete(request, user)

    def _client_and_redirect(self, params: Mapping[str, str]) -> tuple[Client, str]:
        client = self._config.client(params.get("client_id", ""))
        if client is None:
            raise _PageError("unknown client_id (no such application is registered)")
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is None or redirect_uri not in client.redirect_uris:
            raise _PageError("redirect_uri does not exactly match a registered redirect URI")
        return client, redirect_uri

    def _complete(self, request: AuthRequest, user: User) -> Response:
        now = self._clock()
        sign_in = SignIn(
            user=user,
            client_id=request.client.client_id,
            auth_time=int(now),
            sid=secrets.token_hex(16),
            scopes=request.scopes,
            nonce=request.nonce,
            api=request.api,
            api_scopes=request.api_scopes,
            requested=request.requested,
        )
        code = new_handle()
        self._codes.put(code, Grant(sign_in, request.redirect_uri, request.code_challenge))
        return _deliver(request.redirect_uri, request.response_mode, {"code": code}, request.state)

    def _deny(self, request: AuthRequest, error: str, description: str) -> Response:
        fields = {"error": error, "error_description": description}
        return _deliver(request.redirect_uri, request.response_mode, fields, request.state)


def _validate(
    params: Mapping[str, str], client: Client, redirect_uri: str, config: DevIdpConfig
) -> AuthRequest:
    def fail(description: str, error: str = "invalid_request") -> _RedirectError:
        return _RedirectError(error, description)

    for name in ("state", "nonce", "login_hint", "scope", "claims"):
        if len(params.get(name, "")) > _MAX_VALUE:
            raise fail(f"{name} is longer than {_MAX_VALUE} characters")
    if params.get("response_mode", "query") not in ("query", "form_post"):
        raise fail("response_mode must be query or form_post")
    if params.get("response_type") != "code":
        raise fail("only response_type=code is supported", "unsupported_response_type")
    scopes = tuple(params.get("scope", "").split())
    if "openid" not in scopes:
        raise fail("scope must include openid", "invalid_scope")
    try:
        resource = delegated(config, scopes)
        requested = parse_claims(params.get("claims"))
    except ScopeError as exc:
        raise fail(exc.description, exc.error) from None
    except ValueError as exc:
        raise fail(str(exc)) from None
    challenge = params.get("code_challenge")
    if challenge is None:
        raise fail("PKCE is required: send code_challenge with code_challenge_method=S256")
    if params.get("code_challenge_method") != "S256":
        raise fail("code_challenge_method must be S256")
    if not _CHALLENGE.fullmatch(challenge):
        raise fail("code_challenge must be 43 base64url characters (S256)")
    prompt = params.get("prompt")
    if prompt is not None and prompt not in _PROMPTS:
        raise fail(f"prompt must be one of {sorted(_PROMPTS)}")
    max_age = params.get("max_age")
    if max_age is not None and not (max_age.isascii() and max_age.isdigit()):
        raise fail("max_age must be a non-negative integer")
    return AuthRequest(
        client=client,
        redirect_uri=redirect_uri,
        response_mode=params.get("response_mode", "query"),
        state=params.get("state"),
        nonce=params.get("nonce"),
        code_challenge=challenge,
        scopes=scopes,
        login_hint=params.get("login_hint") or None,
        api=resource.api if resource is not None else None,
        api_scopes=resource.scopes if resource is not None else (),
        requested=requested,
    )


def _deliver(
    redirect_uri: str, mode: str, fields: Mapping[str, str], state: str | None
) -> Response:
    """Send ``fields`` (+ ``state``) to the client: a 302 with a query, or a form_post page."""
    values = {**fields, **({"state": state} if state is not None else {})}
    if mode == "form_post":
        render = partial(pages.form_post_page, action=redirect_uri, fields=values)
        return html_response(200, render)
    parts = urlsplit(redirect_uri)
    query = f"{parts.query}&{urlencode(values)}" if parts.query else urlencode(values)
    return redirect(urlunsplit(parts._replace(query=query)))


def _error_page(title: str, description: str) -> Response:
    return html_response(400, partial(pages.error_page, title=title, description=description))
