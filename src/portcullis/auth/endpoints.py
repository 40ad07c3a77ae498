"""The sign-in endpoints: login, callback, logout, userinfo and the assertion keys.

- ``GET /.portcullis/login?rd=``: a pending login (state, nonce, PKCE verifier)
  is stored server-side for ≤ 10 minutes, bound to this browser by a random
  value in a login cookie (one per browser, so parallel tabs all work); then a
  redirect to the provider. ``&max_age=N`` (step-up, 0..30 days) is kept with
  the login and sent on as ``max_age=N&prompt=login``.
- ``GET|POST /.portcullis/callback``: the pending login is taken (single use)
  and checked against the browser before the code is redeemed; IdP errors are
  shown escaped and mint no session; a step-up login needs an ID token whose
  ``auth_time`` is at most ``max_age`` old; a new session id at every login.
- ``GET /.portcullis/logout`` shows a form; only ``POST`` with the session's
  CSRF token ends the session (a cross-site GET never does), then the provider's
  end-session endpoint when it has one.
- ``GET /.portcullis/userinfo``: the identity as JSON, never a token.
- ``GET /.portcullis/jwks.json``: the keys that verify ``X-Portcullis-Assertion``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from contextlib import suppress
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from portcullis.assertion import AssertionSigner
from portcullis.audit.record import AuditIdentity, AuditRecord, Event
from portcullis.audit.writer import AuditLog
from portcullis.auth.gate import SESSION_PURPOSE
from portcullis.auth.ratelimit import LoginLimiter
from portcullis.auth.upstream_headers import IdentityHeaderBuilder
from portcullis.config.auth_schema import Auth
from portcullis.control import Handler, method_not_allowed
from portcullis.http.pages import LocalResponse, error_response
from portcullis.http.request import RequestHead
from portcullis.identity import Identity
from portcullis.oidc.fetch import IdpUnavailable
from portcullis.oidc.provider import LoginRejected, ProviderClient
from portcullis.redirects import safe_return_to
from portcullis.session.cache import CachedStore, Miss
from portcullis.session.cookie import (
    CookieCodec,
    SameSite,
    clear_cookie_header,
    cookie_header,
    read_cookie,
)
from portcullis.session.model import (
    MAX_LOGIN_AGE,
    PENDING_MAX_AGE,
    Session,
    binding_matches,
    is_live,
    new_binding_value,
    new_pending_login,
    new_session,
    pending_is_fresh,
)

__all__ = ["SignInEndpoints"]

log = logging.getLogger("portcullis.auth")

_BINDING_PURPOSE = b"login-binding"
_JSON = b"application/json"
_HTML = b"text/html; charset=utf-8"


class SignInEndpoints:
    def __init__(
        self,
        settings: Auth,
        *,
        providers: Mapping[str, ProviderClient],
        store: CachedStore,
        codec: CookieCodec,
        signer: AssertionSigner,
        headers: IdentityHeaderBuilder,
        session_cookie: str,
        binding_cookie: str,
        secure: bool,
        clock: Callable[[], float],
        audit: Callable[[], AuditLog | None] = lambda: None,
    ) -> None:
        self._settings = settings
        self._audit = audit  # the worker's audit log, when auditing is on
        self._providers = providers
        self._default = next(iter(providers.values()))
        self._store = store
        self._codec = codec
        self._signer = signer
        self._headers = headers
        self._cookie = session_cookie
        self._binding = binding_cookie
        self._secure = secure
        self._clock = clock
        self._limiter = LoginLimiter(clock)  # each start writes a pending login: bound them
        external = urlsplit(settings.external_url)
        self._allowed_hosts = frozenset(
            {(external.netloc or "").lower(), *(h.lower() for h in settings.allowed_redirect_hosts)}
        )
        self._allow_http = external.scheme == "http"
        # form_post answers arrive as a cross-site POST: a SameSite=Lax login cookie would not
        # come along. Over https the login-binding cookie is SameSite=None (it holds no session).
        uses_form_post = any(p.config.response_mode == "form_post" for p in providers.values())
        self._binding_same_site: SameSite = "None" if secure and uses_form_post else "Lax"

    def handlers(self) -> dict[str, Handler]:
        return {
            "/.portcullis/login": self.login,
            "/.portcullis/callback": self.callback,
            "/.portcullis/logout": self.logout,
            "/.portcullis/userinfo": self.userinfo,
            "/.portcullis/jwks.json": self.jwks,
        }

    # login ----------------------------------------------------------------------------------------
    async def login(self, head: RequestHead, body: bytes) -> LocalResponse:
        if refused := method_not_allowed(head, ("GET", "HEAD")):
            return refused
        query = _query(head)
        try:
            max_age = _max_age(query.get("max_age"))
        except ValueError as exc:
            return self._page(head, 400, str(exc))
        client = head.source_ip
        if not self._limiter.allow(client):
            log.warning("too many sign-ins started by %s; refused", client)
            return error_response(
                429,
                "Too many sign-ins started; wait a moment and try again.",
                request_id=head.request_id,
                accept=head.accept,
                headers=((b"Retry-After", b"10"),),
            )
        provider = self._providers.get(query.get("provider", ""), self._default)
        return_to = safe_return_to(
            query.get("rd"), allowed_hosts=self._allowed_hosts, allow_http=self._allow_http
        )
        try:
            metadata = await provider.metadata()
        except IdpUnavailable as exc:
            log.warning("sign-in unavailable: %s", exc)
            return self._page(head, 503, "The identity provider cannot be reached. Try again.")
        binding = self._open_binding(head) or new_binding_value()
        now = self._clock()
        pending = new_pending_login(
            provider=provider.name,
            return_to=return_to,
            binding_value=binding,
            now=now,
            max_age=max_age,
        )
        await self._store.put_pending(pending, ttl=PENDING_MAX_AGE)
        challenge = _s256(pending.code_verifier)
        location = provider.authorize_url(
            metadata,
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=challenge,
            max_age=max_age,
        )
        sealed = self._codec.seal(binding.encode(), purpose=_BINDING_PURPOSE)
        return LocalResponse(
            302,
            b"",
            headers=(
                (b"Location", location.encode()),
                (
                    b"Set-Cookie",
                    cookie_header(
                        self._binding,
                        sealed,
                        secure=self._secure,
                        max_age=int(PENDING_MAX_AGE),
                        same_site=self._binding_same_site,
                    ),
                ),
            ),
        )

    # callback -------------------------------------------------------------------------------------
    async def callback(self, head: RequestHead, body: bytes) -> LocalResponse:
        if refused := method_not_allowed(head, ("GET", "POST")):
            return refused
        params = _form(body) if head.method == "POST" else _query(head)
        state = params.get("state")
        if not state:
            return self._page(head, 400, "This sign-in response has no state; start again.")
        pending = await self._store.take_pending(state)
        now = self._clock()
        if pending is None or not pending_is_fresh(pending, now=now):
            return self._page(head, 400, "This sign-in link expired or was already used.")
        if not binding_matches(pending, self._open_binding(head)):
            log.warning("sign-in response for a login started in another browser; refused")
            return self._page(head, 400, "This sign-in was started in another browser.")
        provider = self._providers.get(pending.provider)
        if provider is None:
            return self._page(head, 400, "This sign-in was started with an unknown provider.")
        if "error" in params:
            description = params.get("error_description", "")
            log.info("identity provider refused sign-in: %s", params["error"][:100])
            return self._page(
                head,
                403,
                f"The identity provider refused the sign-in: {params['error']}. {description}"[
                    :500
                ],
            )
        try:
            await provider.metadata()  # this worker may not have seen the login
        except IdpUnavailable as exc:
            log.warning("sign-in failed: %s", exc)
            return self._page(head, 502, "The identity provider cannot be reached. Try again.")
        issuer = params.get("iss")
        if issuer is not None and not provider.issuer_matches(issuer):
            log.warning("sign-in response names issuer %r, not %s", issuer[:200], provider.name)
            return self._page(head, 400, "This sign-in response came from another provider.")
        code = params.get("code")
        if not code:
            return self._page(head, 400, "This sign-in response has no code.")
        try:
            id_token = await provider.redeem(code, pending.code_verifier)
            claims = await provider.verify_id_token(
                id_token, nonce=pending.nonce, max_age=pending.max_age
            )
            identity = provider.identity(claims)
        except LoginRejected as exc:
            log.warning("sign-in rejected (%s): %s", exc.code, exc)
            self._event(head, Event.TOKEN_REJECTED, None, reason=exc.code, detail=provider.name)
            if exc.code.startswith("auth_time_"):
                return self._page(
                    head, 403, "The identity provider did not confirm a recent sign-in."
                )
            return self._page(head, 403, "The sign-in could not be verified.")
        except IdpUnavailable as exc:
            log.warning("sign-in failed: %s", exc)
            return self._page(head, 502, "The identity provider cannot be reached. Try again.")
        settings = self._settings.session
        sid = claims.get("sid")
        session = new_session(
            identity,
            provider=provider.name,
            now=now,
            absolute_timeout=settings.absolute_timeout,
            id_token=id_token,
            idp_session=f"{provider.name}|{sid}" if isinstance(sid, str) and sid else None,
        )
        await self._store.put(session, ttl=settings.absolute_timeout)
        log.info("signed in %s via %s", identity.key, provider.name)
        self._event(head, Event.SIGN_IN, identity, reason="signed-in", detail=provider.name)
        sealed = self._codec.seal(session.id.encode(), purpose=SESSION_PURPOSE)
        return LocalResponse(
            302,
            b"",
            headers=(
                (b"Location", pending.return_to.encode()),
                (b"Set-Cookie", self._set_cookie(self._cookie, sealed, None)),
            ),
        )

    # logout ---------------------------------------------------------------------------------------
    async def logout(self, head: RequestHead, body: bytes) -> LocalResponse:
        if refused := method_not_allowed(head, ("GET", "POST")):
            return refused
        if head.method == "GET" and "sid" in (query := _query(head)):
            return await self._front_channel(head, query)
        session = await self._session(head)
        if head.method == "GET":
            if session is None:
                return self._page(head, 200, "You are signed out.")
            form = (
                '<form method="post" action="/.portcullis/logout">'
                f'<input type="hidden" name="csrf" value="{escape(session.csrf)}">'
                '<button type="submit">Sign out</button></form>'
            )
            return LocalResponse(200, _html("Sign out", form), _HTML)
        token = _form(body).get("csrf", "")
        if session is None:
            return self._signed_out(None)
        if not hmac.compare_digest(token.encode(), session.csrf.encode()):
            return self._page(head, 403, "The sign-out form is stale; reload and try again.")
        await self._store.delete(session.id)
        self._headers.forget(session.id)
        log.info("signed out %s", session.identity.key)
        self._event(head, Event.SIGN_OUT, session.identity, reason="signed-out")
        return self._signed_out(session)

    async def _front_channel(self, head: RequestHead, query: dict[str, str]) -> LocalResponse:
        """OpenID Connect front-channel logout: the IdP, in a hidden iframe, names its session.

        No cookie comes along (the iframe is cross-site): the sessions are found by the
        IdP's ``sid`` and ended server-side, only those of the provider ``iss`` names.
        """
        iss = query.get("iss")
        if iss is not None:
            for provider in self._providers.values():
                with suppress(IdpUnavailable):  # issuer_matches needs the discovery document
                    await provider.metadata()
            matching = [p for p in self._providers.values() if p.issuer_matches(iss)]
        elif len(self._providers) == 1:
            matching = list(self._providers.values())
        else:
            matching = []
        if len(matching) != 1:
            return self._page(head, 400, "This sign-out request names no known provider.")
        ended = await self._store.delete_for_idp_session(f"{matching[0].name}|{query['sid']}")
        log.info("front-channel logout from %s ended %d session(s)", matching[0].name, ended)
        self._event(
            head,
            Event.SIGN_OUT,
            None,
            reason="front-channel",
            detail=f"{matching[0].name}: {ended} session(s) ended",
        )
        return LocalResponse(200, _html("Signed out", "<p>Signed out.</p>"), _HTML)

    def _event(
        self,
        head: RequestHead,
        event: Event,
        identity: Identity | None,
        *,
        reason: str,
        detail: str | None = None,
    ) -> None:
        """An audit record of a sign-in event (no-op when auditing is off)."""
        audit = self._audit()
        if audit is None:
            return
        audit.record(
            AuditRecord(
                time=self._clock(),
                event=event,
                request_id=head.request_id,
                identity=AuditIdentity.of(identity) if identity is not None else None,
                method=head.method,
                path=head.path,
                source_ip=head.source_ip,
                reason=reason,
                detail=detail,
            )
        )

    def _signed_out(self, session: Session | None) -> LocalResponse:
        location = "/"
        provider = self._providers.get(session.provider) if session else None
        if session is not None and provider is not None:
            location = (
                provider.end_session_url(
                    id_token=session.id_token,
                    post_logout_redirect_uri=self._settings.external_url + "/",
                )
                or "/"
            )
        clear = clear_cookie_header(self._cookie, secure=self._secure)
        return LocalResponse(
            303, b"", headers=((b"Location", location.encode()), (b"Set-Cookie", clear))
        )

    # userinfo and keys ----------------------------------------------------------------------------
    async def userinfo(self, head: RequestHead, body: bytes) -> LocalResponse:
        if refused := method_not_allowed(head, ("GET", "HEAD")):
            return refused
        session = await self._session(head)
        if session is None:
            return error_response(
                401,
                "Not signed in.",
                request_id=head.request_id,
                accept=_JSON,
                code="unauthenticated",
            )
        identity = session.identity
        data: dict[str, Any] = {
            "user": identity.key,
            "kind": identity.kind.value,
            "issuer": identity.issuer,
            "tenant_id": identity.tenant_id,
            "object_id": identity.object_id,
            "name": identity.name,
            "email": identity.email,
            "username": identity.username,
            "roles": list(identity.roles),
            "groups": list(identity.groups),
            "groups_unknown": identity.groups_unknown,
            "auth_time": identity.auth_time,
            "provider": session.provider,
            "session": {
                "created_at": int(session.created_at),
                "expires_at": int(session.expires_at),
            },
        }
        return LocalResponse(200, orjson.dumps(data), _JSON)

    def jwks(self, head: RequestHead, body: bytes) -> LocalResponse:
        if refused := method_not_allowed(head, ("GET", "HEAD")):
            return refused
        return LocalResponse(
            200,
            orjson.dumps(self._signer.jwks()),
            b"application/jwk-set+json",
            headers=((b"Access-Control-Allow-Origin", b"*"),),
        )

    # helpers --------------------------------------------------------------------------------------
    async def _session(self, head: RequestHead) -> Session | None:
        sealed = read_cookie(_cookie_values(head), self._cookie)
        opened = self._codec.open(sealed, purpose=SESSION_PURPOSE) if sealed else None
        if opened is None:
            return None
        session_id = opened.decode("ascii")
        cached = self._store.peek(session_id)
        session = await self._store.get(session_id) if cached is Miss.MISS else cached
        settings = self._settings.session
        if session is None or not is_live(
            session,
            now=self._clock(),
            idle_timeout=settings.idle_timeout,
            absolute_timeout=settings.absolute_timeout,
        ):
            return None
        return session

    def _open_binding(self, head: RequestHead) -> str | None:
        sealed = read_cookie(_cookie_values(head), self._binding)
        opened = self._codec.open(sealed, purpose=_BINDING_PURPOSE) if sealed else None
        return opened.decode("ascii") if opened is not None else None

    def _set_cookie(self, name: str, value: str, max_age: int | None) -> bytes:
        return cookie_header(name, value, secure=self._secure, max_age=max_age)

    def _page(self, head: RequestHead, status: int, message: str) -> LocalResponse:
        if status == 200:
            return LocalResponse(200, _html("Portcullis", f"<p>{escape(message)}</p>"), _HTML)
        return error_response(status, message, request_id=head.request_id, accept=head.accept)


def _max_age(value: str | None) -> int | None:
    """The login's ``max_age`` parameter: absent → None; else digits only, 0..MAX_LOGIN_AGE."""
    if value is None:
        return None
    if value.isascii() and value.isdigit() and len(value) <= len(str(MAX_LOGIN_AGE)):
        number = int(value)
        if number <= MAX_LOGIN_AGE:
            return number
    raise ValueError(f"max_age must be a whole number of seconds from 0 to {MAX_LOGIN_AGE}.")


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _query(head: RequestHead) -> dict[str, str]:
    return _pairs(head.query[1:])


def _form(body: bytes) -> dict[str, str]:
    return _pairs(body)


def _pairs(data: bytes) -> dict[str, str]:
    """First value per name; malformed input yields what parses, never an exception."""
    result: dict[str, str] = {}
    for key, value in parse_qsl(data.decode("latin-1"), keep_blank_values=True):
        result.setdefault(key, value)
    return result


def _cookie_values(head: RequestHead) -> list[bytes]:
    return [value for name, value in head.headers if name.lower() == b"cookie"]


def _html(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title></head><body>{body}</body></html>\n"
    ).encode()
