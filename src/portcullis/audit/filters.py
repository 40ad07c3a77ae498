"""Which records a query wants: one :class:`Filter`, as SQL for SQLite and as a predicate for files.

Both forms mean the same thing (a test runs one suite against both):

* ``identity``: ``TID/OID`` (Entra), ``ISS#SUB`` (other providers) or a bare
  ``OID``; matches the record's own identity or the user it acts for
  (``acting_for``);
* ``kind``: ``user``, ``app``, ``agent`` or ``obo``;
* ``route``: an index (``2``), a path prefix (``/api``), a host
  (``app.example.com``) or both (``app.example.com/api``);
* ``events``: any of these events; ``reason``: the decision's reason code;
* ``since`` / ``until``: epoch seconds, ``since <= time < until``.

Times on the command line are parsed by :func:`parse_when` (``1h``, ``30m``,
``7d`` ago, or ISO 8601) and durations by :func:`parse_duration`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["Filter", "parse_duration", "parse_when"]

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``24h``, ``7d``, ``2w``, ``1h30m`` or plain seconds → seconds."""
    text = text.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"{text!r} is not a duration like 90s, 30m, 24h or 7d") from None
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 24h or 7d")
    return seconds


def parse_when(text: str, now: float) -> float:
    """A point in time: a duration ago (``1h``) or ISO 8601 (UTC unless it says otherwise)."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration ago (1h, 30m, 7d) nor an ISO 8601 time "
            "(2026-11-26T10:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True, slots=True)
class Filter:
    identity: str | None = None
    kind: str | None = None
    route: str | None = None
    events: tuple[str, ...] = ()
    reason: str | None = None
    since: float | None = None
    until: float | None = None

    def sql(self) -> tuple[str, list[Any]]:
        """A ``WHERE`` condition over the store's columns, and its parameters."""
        terms: list[str] = []
        params: list[Any] = []
        if self.identity is not None:
            tenant, subject = _split_identity(self.identity)
            own = "object_id = ?" if tenant is None else "(object_id = ? AND tenant_id = ?)"
            params += [subject] if tenant is None else [subject, tenant]
            acting = "acting_for = ?"
            params.append(self.identity)
            if tenant is None:
                acting += " OR acting_for LIKE ? ESCAPE '\\'"
                params.append("%/" + _like_escape(subject))
            terms.append(f"({own} OR {acting})")
        if self.kind is not None:
            terms.append("kind = ?")
            params.append(self.kind)
        if self.route is not None:
            for column, value in _route_terms(self.route):
                terms.append(f"{column} = ?")
                params.append(value)
        if self.events:
            terms.append(f"event IN ({', '.join('?' * len(self.events))})")
            params += list(self.events)
        if self.reason is not None:
            terms.append("reason = ?")
            params.append(self.reason)
        if self.since is not None:
            terms.append("time >= ?")
            params.append(self.since)
        if self.until is not None:
            terms.append("time < ?")
            params.append(self.until)
        return (" AND ".join(terms) or "1"), params

    def matches(self, record: Mapping[str, Any]) -> bool:
        """The same condition, for one record read from a file."""
        get = record.get
        if self.identity is not None:
            tenant, subject = _split_identity(self.identity)
            acting = get("acting_for")
            own = get("object_id") == subject and (tenant is None or get("tenant_id") == tenant)
            by_proxy = acting == self.identity or (
                tenant is None and isinstance(acting, str) and acting.endswith("/" + subject)
            )
            if not (own or by_proxy):
                return False
        if self.kind is not None and get("kind") != self.kind:
            return False
        if self.route is not None and any(
            get(column) != value for column, value in _route_terms(self.route)
        ):
            return False
        if self.events and get("event") not in self.events:
            return False
        if self.reason is not None and get("reason") != self.reason:
            return False
        time = get("time")
        if not isinstance(time, int | float):
            return self.since is None and self.until is None
        if self.since is not None and time < self.since:
            return False
        return self.until is None or time < self.until


def _split_identity(text: str) -> tuple[str | None, str]:
    """``TID/OID`` or ``ISS#SUB`` → (tenant, object); ``OID`` → (None, object)."""
    for mark in "#/":
        if mark in text:
            tenant, _, subject = text.rpartition(mark)
            return tenant, subject
    return None, text


def _route_terms(route: str) -> list[tuple[str, Any]]:
    if route.isdigit():
        return [("route", int(route))]
    if route.startswith("/"):
        return [("route_path", route)]
    host, slash, path = route.partition("/")
    return [("route_host", host), ("route_path", "/" + path)] if slash else [("route_host", host)]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
