"""The audit record: a closed, documented set of fields, and its one JSON form.

An :class:`AuditRecord` says *who* (an :class:`AuditIdentity`: directory ids,
kind, client app), *what* (event, an :class:`AuditRoute`, method, normalized
path), *why* (reason code, rule, reasons) and *how long* (token and session
ages, duration). It has no field for a token, a cookie, a header or a secret.
As a second line of defence, when the record is serialized the path loses its
query, ``path``, ``reasons`` and ``detail`` lose anything shaped like a
credential (:func:`scrub`), and
every string is cut to a bounded length.

The identity and route parts are built once (per session or token, per
route) and shared, so the request path only fills in what changes.

:func:`record_body` turns a record into a flat JSON-ready dict with a fixed
key order (:data:`FIELDS`), leaving out fields that are ``None`` or empty. The
chain fields (``chain``, ``seq``, ``prev``, ``hash``) are added by
:mod:`portcullis.audit.chain`. Serialization happens off the request path, in
the writer's flush.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from portcullis.identity import Identity
    from portcullis.routing import RouteTarget

__all__ = [
    "FIELDS",
    "AuditIdentity",
    "AuditRecord",
    "AuditRoute",
    "Event",
    "cap_path",
    "cap_text",
    "record_body",
    "scrub",
]

_SHORT: Final = 256  # ids, names, codes
_LONG: Final = 1024  # paths
_DETAIL: Final = 512
_REASON: Final = 128
_MAX_REASONS: Final = 16
_CUT: Final = "…"


class Event(StrEnum):
    """The closed set of things an audit record can report."""

    ALLOW = "allow"  # a request was let through
    DENY = "deny"  # a request was refused
    MONITOR_DENY = "monitor-deny"  # a rule would have refused it, but runs in monitor mode
    SIGN_IN = "sign-in"
    SIGN_OUT = "sign-out"
    TOKEN_REJECTED = "token-rejected"  # noqa: S105 - an event name, not a secret
    SESSION_EXPIRED = "session-expired"
    STEP_UP = "step-up"  # a stronger authentication (context) was asked for
    CONFIG_RELOADED = "config-reloaded"
    VIOLATION = "violation"  # a security violation: forged header, replay, mix-up, ...


@dataclass(frozen=True, slots=True)
class AuditIdentity:
    """Who: built once per session or verified token and reused for each of its requests.

    Directory ids only (Entra ``tid``/``oid``; for other providers the issuer and
    ``sub``), never a token.
    """

    tenant_id: str | None = None
    object_id: str | None = None
    kind: str | None = None  # user, app, agent, obo
    name: str | None = None  # display name (display only)
    client_id: str | None = None  # azp / appid: the client application
    acting_for: str | None = None  # obo / agent: the user the token acts for (tid/oid)
    _items: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # the JSON part, made once
        pairs = (
            ("tenant_id", self.tenant_id),
            ("object_id", self.object_id),
            ("kind", self.kind),
            ("name", self.name),
            ("client_id", self.client_id),
            ("acting_for", self.acting_for),
        )
        items = tuple((key, cap_text(str(value), _SHORT)) for key, value in pairs if value)
        object.__setattr__(self, "_items", items)

    @classmethod
    def of(cls, identity: Identity, *, acting_for: str | None = None) -> AuditIdentity:
        """From a verified identity. For non-Entra providers the issuer and subject stand in
        for tenant and object id, so ``--identity ISS#SUB`` finds them."""
        return cls(
            tenant_id=identity.tenant_id or identity.issuer or None,
            object_id=identity.object_id or identity.subject or None,
            kind=identity.kind.value,
            name=identity.name,
            client_id=identity.client_id,
            acting_for=acting_for,
        )


@dataclass(frozen=True, slots=True)
class AuditRoute:
    """Which route: built once per configured route."""

    index: int  # position in the configuration's routes
    host: str
    path: str  # the route's path prefix
    _items: tuple[tuple[str, object], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        items = (
            ("route", int(self.index)),
            ("route_host", cap_text(str(self.host), _SHORT)),
            ("route_path", cap_path(str(self.path))),
        )
        object.__setattr__(self, "_items", items)

    @classmethod
    def of(cls, target: RouteTarget[Any]) -> AuditRoute:
        return cls(target.index, target.config.host, target.config.path)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited event. Only ``time`` and ``event`` are required.

    Durations are seconds except ``duration_ms``. Values must have the annotated
    types; a record that cannot be serialized is dropped and counted as an error.
    """

    time: float  # epoch seconds, from the caller's clock
    event: Event
    request_id: str | None = None
    identity: AuditIdentity | None = None
    route: AuditRoute | None = None
    method: str | None = None
    path: str | None = None  # the normalized path, without query
    source_ip: str | None = None
    reason: str | None = None  # the decision's reason code
    rule: str | None = None
    reasons: tuple[str, ...] = ()
    token_id: str | None = None  # uti / jti
    token_age: float | None = None  # now - iat
    token_remaining: float | None = None  # exp - now
    token_lifetime: float | None = None  # exp - iat (default: age + remaining)
    session_age: float | None = None
    status: int | None = None  # the upstream's status (or the one Portcullis answered)
    duration_ms: float | None = None
    detail: str | None = None


FIELDS: Final = (
    "time",
    "event",
    "request_id",
    "tenant_id",
    "object_id",
    "kind",
    "name",
    "client_id",
    "acting_for",
    "route",
    "route_host",
    "route_path",
    "method",
    "path",
    "source_ip",
    "reason",
    "rule",
    "reasons",
    "token_id",
    "token_age",
    "token_remaining",
    "token_lifetime",
    "session_age",
    "status",
    "duration_ms",
    "detail",
)
"""The JSON keys of a record in order; the chain's ``chain``, ``seq``, ``prev``, ``hash`` follow."""


def record_body(record: AuditRecord) -> dict[str, Any]:
    """The record as a flat dict in :data:`FIELDS` order, empty fields left out, text made safe.

    Runs in the writer's flush, once per record; written out field by field
    because that is what CPython does fastest.
    """
    r = record
    body: dict[str, Any] = {"time": r.time, "event": str(r.event)}
    if r.request_id:
        body["request_id"] = cap_text(r.request_id, _SHORT)
    if r.identity is not None:
        body.update(r.identity._items)
    if r.route is not None:
        body.update(r.route._items)
    if r.method:
        body["method"] = cap_text(r.method, 32)
    if r.path:
        body["path"] = cap_path(r.path)
    if r.source_ip:
        body["source_ip"] = cap_text(r.source_ip, 64)
    if r.reason:
        body["reason"] = cap_text(r.reason, _SHORT)
    if r.rule:
        body["rule"] = cap_text(r.rule, _SHORT)
    if r.reasons:
        body["reasons"] = [scrub(item, _REASON) for item in r.reasons[:_MAX_REASONS]]
    if r.token_id:
        body["token_id"] = cap_text(r.token_id, _SHORT)
    age, remaining, lifetime = r.token_age, r.token_remaining, r.token_lifetime
    if age is not None:
        body["token_age"] = age
    if remaining is not None:
        body["token_remaining"] = remaining
    if lifetime is not None:
        body["token_lifetime"] = lifetime
    elif age is not None and remaining is not None:
        body["token_lifetime"] = age + remaining
    if r.session_age is not None:
        body["session_age"] = r.session_age
    if r.status is not None:
        body["status"] = r.status
    if r.duration_ms is not None:
        body["duration_ms"] = r.duration_ms
    if r.detail:
        body["detail"] = scrub(r.detail, _DETAIL)
    return body


# Anything shaped like a credential, found cheaply: substring tests first, a regular expression
# only where they hit. Compact JWS/JWE; the value of an Authorization scheme; the value after
# `name=` / `name:` for names that carry secrets (the rest of the line for whole headers).
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_.-]*")
_SCHEMES: Final = ("bearer", "basic", "negotiate", "dpop")
_SCHEME_VALUE: Final = re.compile(r"(?i)\b(?:bearer|basic|negotiate|dpop)\s+([A-Za-z0-9._~+/=-]+)")
_SECRET_NAMES: Final = frozenset(
    {
        "access_token",
        "api-key",
        "api_key",
        "apikey",
        "assertion",
        "client_assertion",
        "client_secret",
        "code",
        "id_token",
        "jsessionid",
        "key",
        "nonce",
        "passwd",
        "password",
        "pwd",
        "refresh_token",
        "secret",
        "session",
        "sessionid",
        "sid",
        "state",
        "token",
    }
)
_SECRET_SUFFIXES: Final = (
    "token",
    "secret",
    "password",
    "passwd",
    "_key",
    "-key",
    "apikey",
    "session",
    "sessionid",
    "assertion",
)
_HEADERS: Final = frozenset({"authorization", "cookie", "proxy-authorization", "set-cookie"})
_ASSIGN: Final = re.compile(r"\b([A-Za-z][A-Za-z0-9_-]*)\s*[=:]")
_VALUE: Final = re.compile(r"\s*([^\s;,&]+)")
_HEADER_VALUE: Final = re.compile(r"\s*([^\r\n]+)")
_REDACTED: Final = "[redacted]"


def scrub(text: str, limit: int) -> str:
    """``text`` with credential-shaped parts replaced by ``[redacted]``, cut to ``limit``."""
    if "eyJ" in text:
        text = _JWT.sub(_REDACTED, text)
    lower = text.lower()
    for scheme in _SCHEMES:
        if scheme in lower:
            text = _SCHEME_VALUE.sub(_redact_group, text)
            break
    if "=" in text or ":" in text:
        text = _named_values(text)
    return cap_text(text, limit)


def _redact_group(match: re.Match[str]) -> str:
    whole = match.group(0)
    return whole[: match.start(1) - match.start(0)] + _REDACTED


def _named_values(text: str) -> str:
    """``name=value`` / ``name: value`` with the value redacted when the name carries secrets."""
    pieces: list[str] = []
    done = 0
    for assign in _ASSIGN.finditer(text):
        if assign.start() < done:
            continue
        key = assign.group(1).lower()
        if key in _HEADERS:
            value = _HEADER_VALUE.match(text, assign.end())
        elif key in _SECRET_NAMES or key.endswith(_SECRET_SUFFIXES):
            value = _VALUE.match(text, assign.end())
        else:
            continue
        if value is None or value.group(1) == _REDACTED:
            continue
        pieces += [text[done : value.start(1)], _REDACTED]
        done = value.end(1)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def cap_text(text: str, limit: int = _SHORT) -> str:
    """``text`` cut to ``limit`` characters (ending in ``…`` when cut)."""
    return text if len(text) <= limit else text[: limit - 1] + _CUT


def cap_path(path: str) -> str:
    """The path without query or fragment, cut to size; scrubbed when it looks like it
    carries a credential (``;jsessionid=...``, a JWT as a segment)."""
    if "?" in path or "#" in path:
        path = path.partition("?")[0].partition("#")[0]
    if "=" in path or "eyJ" in path:
        return scrub(path, _LONG)
    return cap_text(path, _LONG)
