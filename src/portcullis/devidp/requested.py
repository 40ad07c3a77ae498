"""What a token request may ask for beyond scopes: the ``claims`` parameter and a test lifetime.

``claims`` (OIDC Core §5.5, Entra's claims challenge) is JSON; only its
``access_token`` member is read:

* ``{"access_token": {"xms_cc": {"values": ["cp1"]}}}`` — the client can handle
  claims challenges (CAE); the access token then carries ``xms_cc``;
* ``{"access_token": {"acrs": {"essential": true, "value": "c1"}}}`` (or
  ``values``) — an authentication context; the dev IdP treats it as satisfied
  (as if the user had just stepped up) and adds it to a *delegated* token.

``x-test-lifetime=<seconds>`` sets the access token lifetime, only when the
configuration says ``allow_test_lifetimes`` (otherwise it is ignored, like any
unknown parameter at Entra).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "LIFETIME_PARAMETER",
    "MAX_TEST_LIFETIME",
    "NO_CLAIMS",
    "ClaimsRequest",
    "parse_claims",
    "parse_lifetime",
]

LIFETIME_PARAMETER = "x-test-lifetime"
MAX_TEST_LIFETIME = 28 * 3600  # CAE-capable clients get at most 28 hours at Entra
_VALUE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MAX_VALUES = 10


@dataclass(frozen=True, slots=True)
class ClaimsRequest:
    xms_cc: tuple[str, ...] = ()
    acrs: tuple[str, ...] = ()

    def merge(self, other: ClaimsRequest) -> ClaimsRequest:
        return ClaimsRequest(
            tuple(dict.fromkeys((*self.xms_cc, *other.xms_cc))),
            tuple(dict.fromkeys((*self.acrs, *other.acrs))),
        )


NO_CLAIMS = ClaimsRequest()


def parse_claims(text: str | None) -> ClaimsRequest:
    """Raises ``ValueError`` (an ``invalid_request`` description) for a malformed document."""
    if text is None or not text.strip():
        return NO_CLAIMS
    try:
        document = json.loads(text)
    except ValueError:
        raise ValueError("claims is not a JSON document") from None
    if not isinstance(document, dict):
        raise ValueError("claims must be a JSON object")
    access = document.get("access_token", {})
    if not isinstance(access, dict):
        raise ValueError("claims.access_token must be an object")
    return ClaimsRequest(_values(access, "xms_cc"), _values(access, "acrs"))


def _values(request: Mapping[str, object], name: str) -> tuple[str, ...]:
    member = request.get(name)
    if member is None:
        return ()
    if not isinstance(member, dict):
        raise ValueError(f"claims.access_token.{name} must be an object")
    values = member.get("values", [member["value"]] if "value" in member else [])
    if not isinstance(values, list) or len(values) > _MAX_VALUES:
        raise ValueError(f"claims.access_token.{name}.values must be a short list")
    for value in values:
        if not isinstance(value, str) or not _VALUE.fullmatch(value):
            raise ValueError(f"claims.access_token.{name}: values are short identifiers")
    return tuple(dict.fromkeys(values))


def parse_lifetime(form: Mapping[str, str], *, allowed: bool) -> int | None:
    """The requested lifetime in seconds; ``None`` when absent or not allowed."""
    text = form.get(LIFETIME_PARAMETER)
    if text is None or not allowed:
        return None
    if (
        not (text.isascii() and text.isdigit() and len(text) <= 6)
        or not 1 <= int(text) <= MAX_TEST_LIFETIME
    ):
        raise ValueError(f"{LIFETIME_PARAMETER} must be 1..{MAX_TEST_LIFETIME} seconds")
    return int(text)
