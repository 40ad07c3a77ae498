"""Request body guardrails: the size limit while a body streams, and JSON deny patterns.

The gate hands a route's :class:`BodyGuard` to the exchange in its allow decision (only
for callers the guardrails apply to). :meth:`BodyGuard.plan` says, from the request head,
how the exchange takes the body:

- :attr:`Intake.STREAM`: as usual, nothing to check;
- :attr:`Intake.LIMIT`: as usual, counting: past ``max_body_bytes`` the request is refused
  (413 if the response has not started, else the connection is cut) and the upstream
  connection aborted, so the upstream never gets a complete body;
- :attr:`Intake.INSPECT`: read whole (at most :attr:`BodyGuard.cap` bytes) *before* the
  upstream is contacted, then :meth:`BodyGuard.check_json` decides: forwarded as read, or
  refused, and then nothing of it is ever sent;
- or a refusal at once: a body of another media type where only JSON is read (415), a
  compressed one (415), a declared length over the cap (413).

JSON is parsed strictly: duplicate member names (which parsers resolve differently, so a
pattern could see one value and the upstream another), ``NaN``/``Infinity``, anything but
UTF-8 (RFC 8259 8.1, no byte order mark) are malformed (400), as is nesting too deep to parse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import IntEnum

from portcullis.decision import Decision, Reason
from portcullis.guardrails.jsonpointer import parse_pointer, resolve
from portcullis.guardrails.request_schema import RouteGuardrails
from portcullis.http.request import RequestHead

__all__ = ["BodyGuard", "Intake", "JsonRule", "json_rule", "parse_json"]


class Intake(IntEnum):
    STREAM = 0
    LIMIT = 1
    INSPECT = 2


@dataclass(frozen=True, slots=True)
class JsonRule:
    """``pattern`` searched in each value ``tokens`` names; a match is ``refusal``."""

    tokens: tuple[str, ...]
    pattern: re.Pattern[str]
    refusal: Decision


_TOO_DEEP = "The JSON request body is nested too deeply."


class _Malformed(ValueError):
    pass


def _members(pairs: list[tuple[str, object]]) -> dict[str, object]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _Malformed("The JSON request body repeats a member name.")
    return members


def _no_constant(name: str) -> object:
    raise _Malformed(f"The JSON request body holds {name}, which JSON does not allow.")


def parse_json(body: bytes) -> object:
    """The document, or :class:`ValueError` with a message for the caller."""
    try:
        text = body.decode("utf-8")  # RFC 8259 8.1: UTF-8, no byte order mark
        return json.loads(text, object_pairs_hook=_members, parse_constant=_no_constant)
    except _Malformed:
        raise
    except RecursionError:
        raise ValueError(_TOO_DEEP) from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, integers too long
        raise ValueError("The request body is not valid JSON.") from None


def _text(value: object) -> str:
    """A string as it is; any other value as its compact JSON text."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_JSON, _NO_TYPE, _OTHER = 0, 1, 2


def _media(head: RequestHead) -> tuple[int, bool]:
    """(JSON, no Content-Type or another media type; whether a content coding is applied)."""
    kind = _NO_TYPE
    encoded = False
    for name, value in head.headers:
        lname = name.lower()
        if lname == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            is_json = media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
            if not is_json:
                kind = _OTHER
            elif kind == _NO_TYPE:
                kind = _JSON
        elif lname == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            encoded = True
    return kind, encoded


class BodyGuard:
    """One route's body guardrails, compiled."""

    __slots__ = (
        "_encoded",
        "_json_only",
        "_not_json",
        "cap",
        "cap_refusal",
        "max_body",
        "rules",
        "too_large",
    )

    def __init__(self, settings: RouteGuardrails, rules: tuple[JsonRule, ...]) -> None:
        self.max_body = settings.max_body_bytes
        self.rules = rules
        self._json_only = settings.json_only
        self.too_large = Decision(
            False,
            Reason.BODY_TOO_LARGE,
            f"The request body may be at most {self.max_body} bytes here.",
            rule="guardrails.max_body_bytes",
        )
        self.cap = settings.json_max_bytes
        self.cap_refusal = Decision(
            False,
            Reason.BODY_TOO_LARGE,
            f"A JSON request body may be at most {self.cap} bytes here.",
            rule="guardrails.json_max_bytes",
        )
        if self.max_body is not None and self.max_body < self.cap:
            self.cap, self.cap_refusal = self.max_body, self.too_large
        self._not_json = Decision(
            False,
            Reason.UNSUPPORTED_BODY,
            "Request bodies here must be JSON (Content-Type: application/json).",
            rule="guardrails.json_only",
        )
        self._encoded = Decision(
            False,
            Reason.UNSUPPORTED_BODY,
            "A JSON request body must be sent without Content-Encoding here, to be checked.",
            rule="guardrails.deny",
        )

    def plan(self, head: RequestHead) -> Decision | Intake:
        """How the exchange takes the body of ``head`` (which has one), or a refusal."""
        if self.rules:
            kind, encoded = _media(head)
            if kind != _OTHER:
                if encoded:
                    return self._encoded
                declared = head.content_length
                if declared is not None and declared > self.cap:
                    return self.cap_refusal
                return Intake.INSPECT
            if self._json_only:
                return self._not_json
        if self.max_body is not None and head.chunked:
            return Intake.LIMIT  # a declared length was checked with the head
        return Intake.STREAM

    def check_json(self, body: bytes) -> Decision | None:
        """A whole JSON body: the refusal of the first pattern that matches, else None."""
        try:
            document = parse_json(body)
        except ValueError as exc:
            return Decision(False, Reason.MALFORMED_BODY, str(exc), rule="guardrails.deny")
        try:
            for rule in self.rules:
                search = rule.pattern.search
                for value in resolve(document, rule.tokens):
                    if search(_text(value)):
                        return rule.refusal
        except RecursionError:  # parsed, but too deep to write back as text
            return Decision(False, Reason.MALFORMED_BODY, _TOO_DEEP, rule="guardrails.deny")
        return None


def json_rule(pointer: str, pattern: str, refusal: Decision) -> JsonRule:
    return JsonRule(parse_pointer(pointer), re.compile(pattern), refusal)
