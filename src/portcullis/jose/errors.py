"""Token errors: one exception type with a machine-readable code.

::

    TokenError            .code (closed set, see ``ErrorCode``), .claim
     └── UnknownKeyId     the key set has no key for the token: refresh the
                          issuer's JWKS once (rate-limited) and retry

Messages are fixed strings chosen here, never text from the token: ``str()``
of an error can go to a log without leaking the token, a claim value that may
be secret (a nonce), or attacker-controlled bytes (log injection). Configured
values (expected issuer, audiences) may be named by the caller's own logs.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["ERROR_CODES", "ErrorCode", "TokenError", "UnknownKeyId"]

ErrorCode = Literal[
    "malformed",  # not a compact JWS, bad base64url / JSON, wrong claim type
    "too_large",  # token or header over its size cap (checked before decoding)
    "alg_not_allowed",  # none, HS*, or not on the allowlist
    "key_mismatch",  # the key named by kid cannot verify this alg (RSA key, ES256)
    "unknown_kid",  # no key for the token (UnknownKeyId)
    "ambiguous_key",  # no kid and several usable keys, or duplicate kids
    "bad_signature",
    "crit_unsupported",  # a crit header: no extension is understood
    "exp_missing",
    "expired",
    "not_yet_valid",  # nbf in the future
    "iat_missing",
    "iat_future",
    "bad_issuer",
    "tenant_not_allowed",  # Entra tid missing, not a GUID, or not on the allowlist
    "bad_audience",
    "graph_token",  # a Microsoft Graph token: not for this API
    "azp_mismatch",
    "nonce_mismatch",
]

ERROR_CODES: frozenset[str] = frozenset(get_args(ErrorCode))

_DEFAULT_MESSAGES: dict[str, str] = {
    "malformed": "malformed token",
    "too_large": "token too large",
    "alg_not_allowed": "algorithm not allowed",
    "key_mismatch": "key type does not match the algorithm",
    "unknown_kid": "no key for this token",
    "ambiguous_key": "several keys could verify this token",
    "bad_signature": "signature verification failed",
    "crit_unsupported": "critical header extensions are not supported",
    "exp_missing": "exp claim missing",
    "expired": "token expired",
    "not_yet_valid": "token not yet valid",
    "iat_missing": "iat claim missing",
    "iat_future": "iat claim in the future",
    "bad_issuer": "issuer not accepted",
    "tenant_not_allowed": "tenant not allowed",
    "bad_audience": "audience not accepted",
    "graph_token": "Microsoft Graph token: not for this API",
    "azp_mismatch": "azp does not match the client id",
    "nonce_mismatch": "nonce mismatch",
}


class TokenError(Exception):
    """A token was rejected. ``code`` says why, ``claim`` names the failing member."""

    code: ErrorCode
    claim: str | None

    def __init__(self, code: ErrorCode, *, claim: str | None = None, message: str | None = None):
        if code not in ERROR_CODES:
            raise ValueError(f"unknown token error code {code!r}")
        self.code = code
        self.claim = claim
        text = message or _DEFAULT_MESSAGES[code]
        super().__init__(f"{code}: {text}" + (f" [{claim}]" if claim else ""))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, claim={self.claim!r})"


class UnknownKeyId(TokenError):
    """No key in the key set matches the token's ``kid`` (or, without a kid, none fits).

    The caller refreshes the issuer's JWKS at most once per rate-limit window
    and retries; a second failure is final.
    """

    def __init__(self, *, claim: str | None = "kid", message: str | None = None):
        super().__init__("unknown_kid", claim=claim, message=message)
