"""Small builders for metrics tests: routes, decisions, a scrape parsed into numbers."""

from __future__ import annotations

import re
from typing import Any

from portcullis.audit.record import AuditIdentity
from portcullis.audit.requests import AuditSubject
from portcullis.config.schema import Route
from portcullis.decision import Decision, Reason
from portcullis.routing import RouteTarget

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")


def target(path: str = "/", host: str = "*", index: int = 0) -> RouteTarget[Any]:
    return RouteTarget(index, Route(host=host, path=path, upstream="http://127.0.0.1:1"), None)


def decision(allow: bool, reason: Reason, kind: str | None = None) -> Decision:
    subject = AuditSubject(AuditIdentity(kind=kind)) if kind is not None else None
    return Decision(allow, reason, subject=subject)


def samples(text: bytes | str) -> dict[str, float]:
    """``{'name{labels}': value}`` for every sample line of a text exposition."""
    body = text.decode() if isinstance(text, bytes) else text
    found = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        assert match is not None, line
        name = match.group(1) + (f"{{{match.group(3)}}}" if match.group(2) else "")
        found[name] = float(match.group(4))
    return found
