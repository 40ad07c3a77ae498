"""Alert payloads for webhooks, one builder per ``format``: pure, violation in, JSON out.

* ``json``: ``{"source": "portcullis", "event": "violation", "text", "violation"}``
  with the violation's plain form (:meth:`Violation.to_dict`).
* ``teams``: a message with one Adaptive Card (version 1.4), the format Teams
  Workflows ("When a Teams webhook request is received") posts to a channel;
  Office 365 connector webhooks accept it too.
* ``slack``: an incoming-webhook message with Block Kit blocks and a ``text``
  fallback for notifications.

What an alert shows comes partly from the caller (the path, the client app
id), so it is made safe first: the path loses its query, anything shaped like
a credential is redacted (:func:`portcullis.audit.record.scrub`), control
characters become spaces, and text is cut to size. In the chat formats, which
render Markdown and turn URLs into links, link syntax (``](`` and ``://``) is
broken with a zero-width space so a crafted path cannot become a link.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from portcullis.audit.record import scrub
from portcullis.guardrails.violation import Severity, Violation

__all__ = ["BUILDERS", "json_payload", "slack_payload", "teams_payload", "title"]

_TEXT: Final = 300
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_ZWSP: Final = "\u200b"
_TEAMS_COLOR: Final = {Severity.HIGH: "Attention", Severity.MEDIUM: "Warning"}
_ADAPTIVE: Final = "application/vnd.microsoft.card.adaptive"
_ADAPTIVE_SCHEMA: Final = "http://adaptivecards.io/schemas/adaptive-card.json"


def title(violation: Violation) -> str:
    """``[HIGH] rule-name: identity (kind)``."""
    v = violation
    return _safe(f"[{v.severity.value.upper()}] {v.rule}: {v.identity} ({v.kind})")


def json_payload(violation: Violation) -> dict[str, Any]:
    data = violation.to_dict()
    data["detail"] = _safe(violation.detail)
    request = data["request"]
    request["path"] = _safe_path(violation.observation.path)
    if "source_ip" in request:
        request["source_ip"] = _safe(request["source_ip"])
    if "client_id" in request:
        request["client_id"] = _safe(request["client_id"])
    return {
        "source": "portcullis",
        "event": "violation",
        "text": f"{title(violation)} - {data['detail']}",
        "violation": data,
    }


def teams_payload(violation: Violation) -> dict[str, Any]:
    head = {
        "type": "TextBlock",
        "text": _chat(title(violation)),
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
    }
    color = _TEAMS_COLOR.get(violation.severity)
    if color is not None:
        head["color"] = color
    card = {
        "$schema": _ADAPTIVE_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            head,
            {"type": "TextBlock", "text": _chat(_safe(violation.detail)), "wrap": True},
            {
                "type": "FactSet",
                "facts": [{"title": name, "value": value} for name, value in _facts(violation)],
            },
        ],
        "msteams": {"width": "Full"},
    }
    return {
        "type": "message",
        "attachments": [{"contentType": _ADAPTIVE, "contentUrl": None, "content": card}],
    }


def slack_payload(violation: Violation) -> dict[str, Any]:
    head = _chat(title(violation))
    detail = _chat(_safe(violation.detail))
    fields = [
        {"type": "plain_text", "text": f"{name}: {value}", "emoji": False}
        for name, value in _facts(violation)
    ]
    return {
        "text": _slack_escape(f"{head} - {detail}"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": head[:150], "emoji": False}},
            {"type": "section", "text": {"type": "plain_text", "text": detail, "emoji": False}},
            {"type": "section", "fields": fields[:10]},
        ],
    }


BUILDERS: Final[dict[str, Callable[[Violation], dict[str, Any]]]] = {
    "json": json_payload,
    "teams": teams_payload,
    "slack": slack_payload,
}
"""The payload builder for each webhook ``format``."""


def _facts(violation: Violation) -> list[tuple[str, str]]:
    v, obs = violation, violation.observation
    outcome = "allowed" if obs.allowed else f"denied ({obs.reason})"
    facts = [
        ("Rule", f"{v.rule} ({v.rule_kind})"),
        ("Severity", v.severity.value),
        ("Identity", f"{v.identity} ({v.kind})"),
        ("Request", f"{obs.method} {_safe_path(obs.path)}"),
        ("Decision", outcome),
        ("Time", _iso(v.time)),
    ]
    if obs.client_id:
        facts.append(("Client app", obs.client_id))
    if obs.source_ip:
        facts.append(("Source IP", obs.source_ip))
    if v.block_seconds:
        facts.append(("Blocked", f"{v.block_seconds / 60:g} min"))
    return [(name, _chat(_safe(value))) for name, value in facts]


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _safe(text: str) -> str:
    """Credential-shaped parts redacted, control characters made spaces, cut to size."""
    return scrub(_CONTROL.sub(" ", text), _TEXT)


def _safe_path(path: str) -> str:
    return _safe(path.partition("?")[0].partition("#")[0])


def _chat(text: str) -> str:
    """No link can be formed in a chat client from this text."""
    return text.replace("](", f"]{_ZWSP}(").replace("://", f":{_ZWSP}//")


def _slack_escape(text: str) -> str:
    """Slack ``text`` is mrkdwn: ``&``, ``<`` and ``>`` must be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
