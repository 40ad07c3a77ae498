"""Requests and responses as plain values, so the endpoints never touch a socket.

:mod:`portcullis.devidp.server` turns ``http.server`` requests into
:class:`Request` and writes :class:`Response` back; everything in between is
ordinary functions. OAuth parameters must not repeat (RFC 6749 §3.1), so
:func:`parse_params` refuses duplicates instead of picking one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl

__all__ = [
    "MAX_BODY",
    "BadParams",
    "Render",
    "Request",
    "Response",
    "html_response",
    "json_response",
    "oauth_error",
    "parse_params",
    "redirect",
]

MAX_BODY = 64 * 1024
_MAX_FIELDS = 64


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def is_form(self) -> bool:
        content_type = (self.header("content-type") or "").split(";")[0].strip().lower()
        return content_type == "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


class Render(Protocol):
    """A page: HTML text, given the CSP nonce its script must carry."""

    def __call__(self, *, nonce: str) -> str: ...


class BadParams(ValueError):
    """Repeated, too many or undecodable parameters."""


def parse_params(text: str | bytes) -> dict[str, str]:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise BadParams("parameters are not UTF-8") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError:
        raise BadParams("too many parameters") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise BadParams(f"parameter {name!r} is repeated")
        params[name] = value
    return params


_NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


def json_response(
    status: int, document: Any, *, extra: tuple[tuple[str, str], ...] = ()
) -> Response:
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = (("Content-Type", "application/json; charset=utf-8"), *_NO_STORE, *extra)
    return Response(status, headers, body)


def oauth_error(
    status: int, error: str, description: str, *, extra: tuple[tuple[str, str], ...] = ()
) -> Response:
    return json_response(status, {"error": error, "error_description": description}, extra=extra)


def html_response(status: int, render: Render) -> Response:
    """The page gets a fresh CSP nonce for its (at most one) script."""
    nonce = secrets.token_urlsafe(16)
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src 'nonce-{nonce}'; base-uri 'none'; frame-ancestors 'none'"
    )
    headers = (
        ("Content-Type", "text/html; charset=utf-8"),
        *_NO_STORE,
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    )
    return Response(status, headers, render(nonce=nonce).encode())


def redirect(location: str) -> Response:
    return Response(302, (("Location", location), *_NO_STORE, ("Referrer-Policy", "no-referrer")))
