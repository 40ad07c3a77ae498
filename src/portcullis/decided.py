"""What happens once a request is decided and answered: it is counted and recorded.

Every place that decides a request ends with :func:`record_decision`: the proxy's
exchange (when the exchange is over, with the upstream's status), the forward-auth
endpoint (``/.portcullis/auth``, with the answer given to the front proxy) and the
FastCGI authorizer (with the answer given to Apache). It counts the request in the
metrics and queues its audit record (:func:`~portcullis.audit.requests.request_body`,
made at flush time): no I/O here.
"""

from __future__ import annotations

from collections.abc import Callable
from time import time
from typing import TYPE_CHECKING, Any, Protocol

from portcullis.audit.requests import request_body
from portcullis.decision import ALLOW_PUBLIC, Decision
from portcullis.metrics import METRICS

if TYPE_CHECKING:
    from portcullis.audit.writer import AuditLog
    from portcullis.http.request import RequestHead

__all__ = ["Record", "Recording", "record_decision", "recorder"]

Record = Callable[["RequestHead", Any, Decision, int, float], None]
"""Told of each decided request: the request, its route, the decision, the status answered
and the seconds taken (what :func:`recorder` returns; forward-auth and the authorizer
take one)."""


class Recording(Protocol):
    """Where decisions go: the worker's audit log (``None``: off), and whether requests to
    public routes are recorded too. The proxy server is one."""

    @property
    def audit(self) -> AuditLog | None: ...

    @property
    def audit_public(self) -> bool: ...


def recorder(sink: Recording) -> Record:
    """A :data:`Record` counting and auditing into ``sink`` (read at each call: a reload or
    the shutdown may change its audit log)."""

    def record(head: RequestHead, route: Any, decision: Decision, status: int, took: float) -> None:
        record_decision(sink.audit, sink.audit_public, head, route, decision, status, took)

    return record


def record_decision(  # noqa: PLR0917 - on every request: positional
    audit: AuditLog | None,
    audit_public: bool,
    head: RequestHead,
    route: Any,
    decision: Decision,
    status: int,
    seconds: float,
) -> None:
    """Count ``head``'s request, decided by ``decision`` on ``route`` (a
    :class:`~portcullis.routing.RouteTarget`, or ``None``) and answered ``status`` after
    ``seconds``, and queue its audit record (requests to public routes only with
    ``audit_public``)."""
    if route is not None:
        METRICS.request(route, decision, status, seconds)
    if audit is not None and (decision is not ALLOW_PUBLIC or audit_public):
        audit.defer(
            request_body,
            time(),
            head.request_id,  # strings, not the head: it is freed with the exchange
            head.method,
            head.path,
            head.source_ip,
            route,
            decision,
            status,
            seconds,
        )
