"""Strict base64url and JSON codecs shared by signing and verification.

Decoding is strict on purpose: one token has exactly one accepted encoding, so
two parsers can never disagree about what a token says.

* base64url (RFC 7515 §2): URL-safe alphabet only, no padding, no whitespace,
  and canonical — unused trailing bits must be zero (``re-encode == input``).
* JSON (RFC 8259 / RFC 7515 §5.2): UTF-8, a top-level object, no duplicate
  member names (a parser differential otherwise: ``{"alg":"RS256","alg":"none"}``),
  no ``NaN`` / ``Infinity``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

from portcullis.jose.errors import TokenError

__all__ = ["b64url_decode", "b64url_encode", "json_dumps", "json_object"]

_B64URL = re.compile(rb"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: bytes | str, *, part: str) -> bytes:
    """Decode one strict base64url segment; ``part`` names it in the error."""
    try:
        raw = segment.encode("ascii", "strict") if isinstance(segment, str) else segment
    except UnicodeEncodeError:
        raise TokenError("malformed", claim=part, message="invalid base64url") from None
    if _B64URL.fullmatch(raw) is None or len(raw) % 4 == 1:
        raise TokenError("malformed", claim=part, message="invalid base64url")
    try:
        data = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("malformed", claim=part, message="invalid base64url") from None
    if base64.urlsafe_b64encode(data).rstrip(b"=") != raw:
        raise TokenError("malformed", claim=part, message="non-canonical base64url")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError("duplicate member name")
        result[name] = value
    return result


def json_object(data: bytes, *, part: str) -> dict[str, Any]:
    """Parse UTF-8 JSON that must be an object without duplicate names."""
    try:
        text = data.decode("utf-8", "strict")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise TokenError("malformed", claim=part, message="invalid JSON") from None
    if not isinstance(value, dict):
        raise TokenError("malformed", claim=part, message="not a JSON object")
    return value


def json_dumps(value: Mapping[str, Any]) -> bytes:
    """Compact JSON for a header or payload (``orjson``: UTF-8, no whitespace)."""
    return orjson.dumps(dict(value))
