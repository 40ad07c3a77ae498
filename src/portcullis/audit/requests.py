"""Audit records for requests: what the proxy queues per decision, built at flush time.

The request path queues a tuple (:meth:`AuditLog.defer`): the wall-clock time, the
request's id, method, normalized path and source address (strings: the request head and
its header list are not kept alive until the flush, which would make them survive into
the garbage collector's older generations), the route, the gate's
:class:`~portcullis.decision.Decision`, the status answered and the duration.
:func:`request_record` turns it into an :class:`AuditRecord` off the request path;
:func:`request_body` goes straight to the record's JSON-ready body (what the writer
seals), which for the common case, an allowed request, is a copy of a template made
once per caller and route with the request's own values filled in. Who the caller is
comes from the decision's :class:`AuditSubject`, built once per session or verified
token by the gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import floor
from typing import Any

from portcullis.audit.record import (
    _SHORT,
    AuditIdentity,
    AuditRecord,
    AuditRoute,
    Event,
    cap_path,
    cap_text,
    record_body,
)
from portcullis.decision import Decision, Reason

__all__ = [
    "SESSION_EXPIRED_RULE",
    "AuditSubject",
    "event_of",
    "request_body",
    "request_record",
]

SESSION_EXPIRED_RULE = "session-expired"
"""The ``rule`` of the gate's denial for a session past its timeouts (or revoked)."""


@dataclass(frozen=True, slots=True)
class AuditSubject:
    """Who made a request, and with what credential's times (never the credential)."""

    identity: AuditIdentity
    token_id: str | None = None
    issued_at: float | None = None  # the token's iat
    expires_at: float | None = None  # the token's exp
    session_created: float | None = None  # the session's sign-in


def event_of(decision: Decision) -> Event:
    """The audit event a decision stands for."""
    if decision.allow:
        return Event.MONITOR_DENY if decision.monitored else Event.ALLOW
    reason = decision.reason
    if reason is Reason.STEP_UP or reason is Reason.INSUFFICIENT_CLAIMS:
        return Event.STEP_UP
    if reason is Reason.INVALID_TOKEN or reason is Reason.TOKEN_TOO_LARGE:
        return Event.TOKEN_REJECTED
    if decision.rule == SESSION_EXPIRED_RULE:
        return Event.SESSION_EXPIRED
    return Event.DENY


_ROUTES: dict[tuple[int, str, str], AuditRoute] = {}
"""AuditRoute by the route's (index, host, path): values, so a cached entry never keeps a
route target (and its upstream pool) of an older configuration alive after a reload."""


def _route(target: Any) -> AuditRoute | None:
    if target is None:
        return None
    config = target.config
    key = (target.index, config.host, config.path)
    known = _ROUTES.get(key)
    if known is None:
        if len(_ROUTES) > 4096:
            _ROUTES.clear()
        known = _ROUTES[key] = AuditRoute.of(target)
    return known


def request_record(  # noqa: PLR0917 - positional, as AuditLog.defer passes them
    wall: float,
    request_id: str,
    method: str,
    path: str,
    source_ip: str,
    target: Any,
    decision: Decision,
    status: int,
    seconds: float,
) -> AuditRecord:
    """The record of one decided request (called at flush time)."""
    subject: AuditSubject | None = decision.subject
    reasons: tuple[str, ...] = decision.reasons
    if not reasons and decision.explain is not None and not decision.allow:
        reasons = decision.explain()
    if decision.monitored:
        reasons = (*reasons, *(f"would deny: {m}" for m in decision.monitored))
    token_age = token_remaining = token_lifetime = session_age = None
    token_id = None
    if subject is not None:
        token_id = subject.token_id
        if subject.issued_at is not None:
            token_age = _milli(wall - subject.issued_at)
        if subject.expires_at is not None:
            token_remaining = _milli(subject.expires_at - wall)
            if subject.issued_at is not None:
                token_lifetime = subject.expires_at - subject.issued_at
        if subject.session_created is not None:
            session_age = _milli(wall - subject.session_created)
    return AuditRecord(
        time=wall,
        event=event_of(decision),
        request_id=request_id,
        identity=subject.identity if subject is not None else None,
        route=_route(target),
        method=method,
        path=path,
        source_ip=source_ip,
        reason=decision.reason.value,
        rule=decision.rule or None,
        reasons=reasons,
        token_id=token_id,
        token_age=token_age,
        token_remaining=token_remaining,
        token_lifetime=token_lifetime,
        session_age=session_age,
        status=status or None,
        duration_ms=_milli(seconds * 1000),
        detail=None if decision.allow else (decision.detail or None),
    )


def _milli(value: float) -> float:
    """``value`` to three decimals (``round(value, 3)`` costs several times more)."""
    return floor(value * 1000 + 0.5) / 1000


_Template = tuple[AuditSubject | None, AuditRoute, dict[str, Any]]
_TEMPLATES: dict[tuple[int, int, Reason, str], _Template] = {}
"""Allowed requests' bodies without their own values, by (caller, route, reason, rule).
Keyed by ``id``; the entry holds the objects themselves, so an id is never reused
while its entry lives, and a stale entry is told apart by identity."""


_SEEN_ONCE: set[tuple[int, int, Reason, str]] = set()
"""Keys seen once without a template: a template is made the second time only."""


def request_body(  # noqa: PLR0917 - positional, as AuditLog.defer passes them
    wall: float,
    request_id: str,
    method: str,
    path: str,
    source_ip: str,
    target: Any,
    decision: Decision,
    status: int,
    seconds: float,
) -> dict[str, Any]:
    """``record_body(request_record(...))``, the same keys, order and values, made faster
    for allowed requests from a template."""
    route = _route(target)
    known = None
    if (
        decision.allow
        and not decision.monitored
        and route is not None
        and status
        and request_id
        and method
        and path
        and source_ip
    ):
        known = _template_for(route, target, decision)
    if known is None:
        return record_body(
            request_record(
                wall, request_id, method, path, source_ip, target, decision, status, seconds
            )
        )
    subject: AuditSubject | None = decision.subject
    body = known[2].copy()
    body["time"] = wall
    body["request_id"] = request_id if len(request_id) <= _SHORT else cap_text(request_id)
    body["method"] = method if len(method) <= 32 else cap_text(method, 32)
    body["path"] = cap_path(path)
    body["source_ip"] = source_ip if len(source_ip) <= 64 else cap_text(source_ip, 64)
    if subject is not None:
        if subject.issued_at is not None:
            body["token_age"] = _milli(wall - subject.issued_at)
        if subject.expires_at is not None:
            body["token_remaining"] = _milli(subject.expires_at - wall)
        if subject.session_created is not None:
            body["session_age"] = _milli(wall - subject.session_created)
    body["status"] = status
    body["duration_ms"] = _milli(seconds * 1000)
    return body


def _template_for(route: AuditRoute, target: Any, decision: Decision) -> _Template | None:
    """The template for this allowed decision's caller and route; ``None`` the first time
    a caller is seen (a token used once is not worth a template)."""
    subject: AuditSubject | None = decision.subject
    key = (id(subject), id(route), decision.reason, decision.rule)
    known = _TEMPLATES.get(key)
    if known is not None and known[0] is subject and known[1] is route:
        return known
    if key not in _SEEN_ONCE:
        if len(_SEEN_ONCE) >= 4096:
            _SEEN_ONCE.clear()
        _SEEN_ONCE.add(key)
        return None
    return _template(key, subject, route, target, decision)


def _template(
    key: tuple[int, int, Reason, str],
    subject: AuditSubject | None,
    route: AuditRoute,
    target: Any,
    decision: Decision,
) -> _Template:
    """The body of an allowed request with placeholders where each request differs."""
    body = record_body(request_record(0.0, "x", "X", "/", "x", target, decision, 1, 0.0))
    if len(_TEMPLATES) >= 4096:
        _TEMPLATES.clear()
    made = _TEMPLATES[key] = (subject, route, body)
    return made
