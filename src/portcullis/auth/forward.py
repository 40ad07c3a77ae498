"""Forward-auth: a front proxy (nginx, Traefik, Caddy, Envoy) asks "may this request pass?".

``/.portcullis/auth`` (any method) answers for the request a trusted front proxy
describes, in one of three conventions:

- nginx ``auth_request``: ``X-Original-URL`` (absolute) and ``X-Original-Method``;
  not signed in → ``401`` (nginx understands only 2xx, 401 and 403) carrying
  ``X-Portcullis-Login``, the sign-in URL for nginx's ``error_page 401`` to redirect to.
- Traefik ``forwardAuth``, Caddy ``forward_auth``: ``X-Forwarded-Method``,
  ``X-Forwarded-Proto``, ``X-Forwarded-Host`` and ``X-Forwarded-Uri`` (a path);
  they hand denials to the client as they are, so a browser gets the ``302`` to sign-in.
- Envoy ``ext_authz`` (HTTP service, ``path_prefix: /.portcullis/auth/envoy``): the check
  request carries the original method, ``Host`` and path after the prefix; answered like
  Traefik's. Only ``200`` means allow to Envoy.

``?mode=status`` or ``?mode=redirect`` on ``/.portcullis/auth`` picks the answer style
regardless of the convention. The description is believed only from a trusted proxy
(``listen.trusted_proxies``): anyone else gets ``403``. The target path is normalized
as the proxy itself normalizes paths, routed, and decided by the same gate as a proxied
request (same session cache). Allow → ``200`` with the identity header lines the proxy
would add upstream, and every other configured identity header present but empty, so
that a front proxy copying them (Traefik, Caddy, Envoy) overwrites whatever the client
sent under those names. Anything unclear (no description, two conventions at once, a
malformed URL, CR/LF, oversized values, an internal error) → ``403``, never a 2xx.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from time import monotonic
from typing import Any, NamedTuple, Protocol

from portcullis.control import Handler
from portcullis.decided import Record, Recording, recorder
from portcullis.decision import Decision, Gate, Reason
from portcullis.http.headers import TrustedProxies, canonical
from portcullis.http.pages import LocalResponse, decision_response, error_response
from portcullis.http.paths import ENVOY_AUTH_PREFIX, InvalidPath, normalize_path
from portcullis.http.request import RequestHead
from portcullis.routing import Router

__all__ = [
    "ENVOY_AUTH_PREFIX",
    "FORWARD_AUTH_PATH",
    "LOGIN_HEADER",
    "ForwardAuth",
    "Style",
    "Target",
    "TargetError",
    "answer",
    "forward_auth_endpoints",
    "identity_pairs",
    "read_target",
]

log = logging.getLogger("portcullis.auth.forward")

FORWARD_AUTH_PATH = "/.portcullis/auth"
LOGIN_HEADER = b"X-Portcullis-Login"
_MAX_VALUE = 8192  # no described URL longer than the proxy's own default max_url_bytes
_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")
_IPV6_CHARS = frozenset("0123456789abcdef:.")
_UNSAFE = re.compile(rb"[\x00-\x20\x7f]")
_MAX_REMEMBERED = 20_000
Pairs = tuple[tuple[bytes, bytes], ...]


class Style(Enum):
    """How a denial is answered: nginx's status codes, or the response a browser needs."""

    STATUS = "status"  # 401 (X-Portcullis-Login for browsers) or 403
    REDIRECT = "redirect"  # exactly what the proxy would answer: 302 to sign in, 401, 403, ...


class TargetError(ValueError):
    """The front proxy's description of the request cannot be trusted to mean one thing."""


@dataclass(frozen=True, slots=True)
class Target:
    """The original request, as the front proxy described it (path normalized)."""

    method: str
    scheme: str
    host: str  # lower case, no port
    authority: bytes
    path: str
    query: bytes  # b"" or b"?..."


class ForwardState(Protocol):
    """What the handler reads from the proxy's current state (swapped on reload)."""

    @property
    def router(self) -> Router[Any]: ...

    @property
    def gate(self) -> Gate: ...

    @property
    def trusted(self) -> TrustedProxies: ...

    @property
    def strip_headers(self) -> frozenset[bytes]: ...  # the identity header names (canonical)


class HasState(Recording, Protocol):
    """A server whose ``state`` is the current :class:`ForwardState`, with its audit log."""

    @property
    def state(self) -> ForwardState: ...


def forward_auth_endpoints(server: HasState) -> dict[str, Handler]:
    """The forward-auth control endpoints of ``server``, reading its state at each request
    and recording each decision (the original request, the status answered to the front
    proxy) in its metrics and audit log."""
    return ForwardAuth(lambda: server.state, recorder(server)).handlers()


class ForwardAuth:
    """The ``/.portcullis/auth`` handlers; ``state`` returns the proxy's current state,
    ``record`` is told of every decision (see :data:`Record`)."""

    def __init__(self, state: Callable[[], ForwardState], record: Record = lambda *_: None) -> None:
        self._state = state
        self._record = record
        # The gate hands out the same identity lines per session for a while: their pairs
        # (with the absent names empty) are remembered per value.
        self._pairs: dict[tuple[bytes, frozenset[bytes]], Pairs] = {}

    def handlers(self) -> dict[str, Handler]:
        return {FORWARD_AUTH_PATH: self, ENVOY_AUTH_PREFIX + "/": self}

    def __call__(self, head: RequestHead, body: bytes) -> LocalResponse | Awaitable[LocalResponse]:
        try:
            return self._check(head)
        except Exception:
            log.exception("forward-auth failed; denying (request %s)", head.request_id)
            return _forbidden(head, "The request could not be authorized.")

    def _check(self, head: RequestHead) -> LocalResponse | Awaitable[LocalResponse]:
        started = monotonic()
        state = self._state()
        if not state.trusted or head.client_ip not in state.trusted:
            log.warning("forward-auth asked by %s, not a trusted proxy; denied", head.client_ip)
            return self._refuse(head, None, started, "Only a trusted front proxy may ask.")
        try:
            target, style = read_target(head)
        except TargetError as exc:
            log.warning("forward-auth refused (request %s): %s", head.request_id, exc)
            message = "The request to authorize is not described clearly."
            return self._refuse(head, None, started, message)
        asked = _target_head(head, target)
        route = state.router.match(target.host, target.path)
        if route is None:
            log.info("forward-auth: no route for %s%s; denied", target.host, target.path)
            return self._refuse(asked, None, started, "No route matches this host and path.")
        asking = _Asking(asked, route, style, state.strip_headers, started)
        decision = state.gate.check(asked, route)
        if isinstance(decision, Decision):
            return self._answer(decision, asking)
        return self._await(decision, asking)

    def _refuse(self, head: RequestHead, route: Any, started: float, message: str) -> LocalResponse:
        """403 before the gate could decide; recorded as a denial with ``message``."""
        response = _forbidden(head, message)
        refusal = Decision(False, Reason.FORBIDDEN, message, rule="forward-auth")
        self._record(head, route, refusal, response.status, monotonic() - started)
        return response

    async def _await(self, pending: Awaitable[Decision], asking: _Asking) -> LocalResponse:
        try:
            return self._answer(await pending, asking)
        except Exception:
            log.exception("forward-auth failed; denying (request %s)", asking.head.request_id)
            return _forbidden(asking.head, "The request could not be authorized.")

    def _answer(self, decision: Decision, asking: _Asking) -> LocalResponse:
        asked = asking.head
        if not decision.allow:
            response = answer(decision, asked, asking.style)
        else:
            key = (decision.upstream_headers, asking.names)
            pairs = self._pairs.get(key)
            if pairs is None:
                if len(self._pairs) >= _MAX_REMEMBERED:
                    self._pairs.clear()
                pairs = self._pairs[key] = identity_pairs(decision.upstream_headers, asking.names)
            response = answer(decision, asked, asking.style, pairs)
        took = monotonic() - asking.started
        self._record(asked, asking.route, decision, response.status, took)
        return response


class _Asking(NamedTuple):
    """One forward-auth question while the gate decides it."""

    head: RequestHead  # the original request, as the front proxy described it
    route: Any
    style: Style
    names: frozenset[bytes]  # the identity header names, canonical
    started: float


def answer(
    decision: Decision, asked: RequestHead, style: Style, identity: Pairs = ()
) -> LocalResponse:
    """Allow: 200 with the ``identity`` headers. Deny: the proxy's own answer, or for
    :attr:`Style.STATUS` only 401 (sign in, or a bearer challenge) and 403."""
    if decision.allow:
        return LocalResponse(200, b"", headers=identity)
    response = decision_response(decision, asked)
    if style is Style.REDIRECT or response.status in (401, 403):
        return response
    if response.status == 302:
        login = dict(response.headers).get(b"Location", b"")
        return error_response(
            401,
            "Sign-in is required for this resource.",
            request_id=asked.request_id,
            accept=asked.accept,
            code="unauthenticated",
            headers=((LOGIN_HEADER, login),),
        )
    return _forbidden(asked, "The request could not be authorized.")


def read_target(head: RequestHead) -> tuple[Target, Style]:
    """The original request described by ``head``'s headers (or Envoy's path), and the style."""
    fields = _fields(head.headers)
    forwarded_uri = fields.get(b"x-forwarded-uri")
    original_url = fields.get(b"x-original-url")
    if head.path != FORWARD_AUTH_PATH:  # an Envoy check: the original path follows the prefix
        if forwarded_uri or original_url:
            raise TargetError("an Envoy check must not carry X-Forwarded-Uri or X-Original-URL")
        original = head.path[len(ENVOY_AUTH_PREFIX) :]
        target = _target(head.method, _proto(fields, head), head.authority, original, head.query)
        return target, Style.REDIRECT
    style = _style(head.query)
    if forwarded_uri and original_url:
        raise TargetError("both X-Forwarded-Uri and X-Original-URL: which one is meant?")
    if original_url:
        scheme, authority, path, query = _split_absolute(_single(original_url, "X-Original-URL"))
        method = _method(fields.get(b"x-original-method"), head.method)
        return _target(method, scheme, authority, path, query), style or Style.STATUS
    if forwarded_uri:
        path, query = _split_relative(_single(forwarded_uri, "X-Forwarded-Uri"))
        hosts = fields.get(b"x-forwarded-host")
        authority = _single(hosts, "X-Forwarded-Host") if hosts else head.authority
        method = _method(fields.get(b"x-forwarded-method"), head.method)
        target = _target(method, _proto(fields, head), authority, path, query)
        return target, style or Style.REDIRECT
    raise TargetError("neither X-Forwarded-Uri nor X-Original-URL: nothing to decide")


_WANTED = frozenset(
    {
        b"x-forwarded-uri",
        b"x-forwarded-method",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"x-original-url",
        b"x-original-method",
    }
)


def _fields(headers: list[tuple[bytes, bytes]]) -> dict[bytes, list[bytes]]:
    found: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        lname = canonical(name)
        if lname in _WANTED:
            found.setdefault(lname, []).append(value)
    return found


def _single(values: list[bytes], name: str) -> bytes:
    if len(values) != 1:
        raise TargetError(f"{name} is repeated")
    value = values[0]
    if not value:
        raise TargetError(f"{name} is empty")
    if len(value) > _MAX_VALUE:
        raise TargetError(f"{name} is longer than {_MAX_VALUE} bytes")
    if _UNSAFE.search(value):
        raise TargetError(f"{name} holds spaces or control characters")
    return value


def _style(query: bytes) -> Style | None:
    if not query or query == b"?":
        return None
    for style in Style:
        if query == b"?mode=" + style.value.encode():
            return style
    raise TargetError("the only query /.portcullis/auth takes is ?mode=status or ?mode=redirect")


def _method(values: list[bytes] | None, default: str) -> str:
    if not values:
        return default
    value = _single(values, "the method header")
    if len(value) > 32 or not _TCHAR.issuperset(value):
        raise TargetError("the method is not an HTTP token")
    return value.decode("ascii")


def _proto(fields: Mapping[bytes, list[bytes]], head: RequestHead) -> str:
    values = fields.get(b"x-forwarded-proto")
    if not values:
        return head.scheme
    proto = values[0].split(b",")[0].strip().lower()
    if proto not in (b"http", b"https"):
        raise TargetError("X-Forwarded-Proto is neither http nor https")
    return proto.decode("ascii")


def _split_absolute(url: bytes) -> tuple[str, bytes, bytes, bytes]:
    """``scheme://authority/path?query`` → its parts; nothing else is an absolute URL here."""
    scheme, sep, rest = url.partition(b"://")
    scheme = scheme.lower()
    if not sep or scheme not in (b"http", b"https"):
        raise TargetError("X-Original-URL is not an absolute http(s) URL")
    cut = min(
        (i for i in (rest.find(b"/"), rest.find(b"?"), rest.find(b"#")) if i >= 0), default=-1
    )
    authority, tail = (rest, b"") if cut < 0 else (rest[:cut], rest[cut:])
    if not authority or b"@" in authority:
        raise TargetError("X-Original-URL has no host, or carries user information")
    if not tail.startswith(b"/"):
        tail = b"/" + tail
    path, query = _split_relative(tail)
    return scheme.decode("ascii"), authority, path, query


def _split_relative(uri: bytes) -> tuple[bytes, bytes]:
    if not uri.startswith(b"/"):
        raise TargetError("the forwarded URI is not a path")
    uri = uri.split(b"#", 1)[0]
    path, sep, query = uri.partition(b"?")
    return path, sep + query


def _target(method: str, scheme: str, authority: bytes, path: bytes | str, query: bytes) -> Target:
    raw = path if isinstance(path, str) else path.decode("latin-1")
    try:
        normalized = normalize_path(raw)
    except InvalidPath as exc:
        raise TargetError(f"the path cannot be normalized: {exc}") from None
    if normalized == "/.portcullis" or normalized.startswith("/.portcullis/"):
        raise TargetError("send /.portcullis/ to Portcullis itself, do not ask about it")
    return Target(method, scheme, _host(authority), authority, normalized, query)


def _host(authority: bytes) -> str:
    """The lower-case host name of an authority, without port."""
    text = authority.decode("latin-1").lower()
    if text.startswith("["):
        end = text.find("]")
        port = text[end + 1 :]
        if end < 0 or not _IPV6_CHARS.issuperset(text[1:end]) or (port and not _port(port)):
            raise TargetError("the host is malformed")
        return text[: end + 1]
    name, sep, port = text.partition(":")
    name = name.rstrip(".")
    if not name or not _HOST_CHARS.issuperset(name) or (sep and not port.isdigit()):
        raise TargetError("the host is malformed")
    return name


def _port(text: str) -> bool:
    return text.startswith(":") and text[1:].isdigit()


def _target_head(head: RequestHead, target: Target) -> RequestHead:
    """The request the gate decides: the described one, with the auth request's headers
    (cookies, Authorization, Accept) as the front proxy passed them along, and the client
    the trusted front proxy forwarded for (``source_ip``), as for a proxied request."""
    return RequestHead(
        target.method,
        target.path,
        target.query,
        head.version,
        target.host,
        target.authority,
        list(head.headers),
        head.client_ip,
        target.scheme,
        head.request_id,
        head.keep_alive,
        False,
        None,
        False,
        None,
        head.accept,
        head.forwarded_for,
    )


def identity_pairs(lines: bytes, names: frozenset[bytes]) -> Pairs:
    """The identity header lines as pairs, then every other name in ``names`` empty."""
    pairs = []
    for line in lines.split(b"\r\n"):
        name, sep, value = line.partition(b": ")
        if sep:
            pairs.append((name, value))
    present = {name.lower() for name, _ in pairs}
    pairs.extend((name, b"") for name in sorted(names - present))
    return tuple(pairs)


def _forbidden(head: RequestHead, message: str) -> LocalResponse:
    return error_response(403, message, request_id=head.request_id, accept=head.accept)
