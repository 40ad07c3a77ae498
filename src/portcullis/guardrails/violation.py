"""The output of the guardrails: :class:`Violation` values, and their audit record.

A violation names the rule that fired, how severe it is, who did it and when,
a one-line detail for people, the request that made it fire, and how long the
identity is to be blocked (``None``: not at all). It holds no token, cookie or
header; the request is the :class:`~portcullis.guardrails.events.Observation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from portcullis.audit.record import AuditIdentity, AuditRecord, AuditRoute, Event
from portcullis.guardrails.events import Observation

__all__ = ["Severity", "Violation", "violation_record"]


class Severity(StrEnum):
    """How bad a violation is; webhooks send those at or above their ``min_severity``."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str  # the rule's name
    rule_kind: str  # denials, machine_on_human_route, ...
    severity: Severity
    identity: str  # the identity key
    kind: str  # the identity's kind: user, app, agent, obo
    detail: str
    time: float  # epoch seconds: the observation that made the rule fire
    observation: Observation
    block_seconds: float | None = None  # the rule blocks the identity this long

    def to_dict(self) -> dict[str, Any]:
        """The plain JSON form (also the ``json`` webhook payload's ``violation``)."""
        out: dict[str, Any] = {
            "rule": self.rule,
            "rule_kind": self.rule_kind,
            "severity": self.severity.value,
            "identity": self.identity,
            "kind": self.kind,
            "detail": self.detail,
            "time": self.time,
            "request": self.observation.summary(),
        }
        if self.block_seconds is not None:
            out["block_seconds"] = self.block_seconds
        return out


def violation_record(
    violation: Violation,
    *,
    identity: AuditIdentity | None = None,
    route: AuditRoute | None = None,
    request_id: str | None = None,
) -> AuditRecord:
    """The ``violation`` audit record; pass the identity and route parts the gate already
    built, or the identity is read from the key (``tid/oid`` or ``iss#sub``)."""
    obs = violation.observation
    if identity is None:
        issuer_or_tenant, object_id = _split_key(violation.identity)
        identity = AuditIdentity(
            tenant_id=obs.tenant_id or issuer_or_tenant,
            object_id=object_id,
            kind=violation.kind,
            client_id=obs.client_id,
        )
    blocked = f" (blocked {violation.block_seconds / 60:g} min)" if violation.block_seconds else ""
    return AuditRecord(
        time=violation.time,
        event=Event.VIOLATION,
        request_id=request_id,
        identity=identity,
        route=route,
        method=obs.method,
        path=obs.path,
        source_ip=obs.source_ip or None,
        reason=violation.rule_kind,
        rule=violation.rule,
        reasons=(f"severity={violation.severity.value}",),
        token_age=obs.token_age,
        token_lifetime=obs.token_lifetime,
        detail=violation.detail + blocked,
    )


def _split_key(key: str) -> tuple[str | None, str | None]:
    """``tid/oid`` or ``iss#sub`` (an issuer is a URL: it may hold '/' but not '#')."""
    head, sep, tail = key.rpartition("#")
    if not sep:
        head, sep, tail = key.partition("/")
    return (head or None, tail or None) if sep else (None, key or None)
