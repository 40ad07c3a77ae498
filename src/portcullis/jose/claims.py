"""Registered-claim validation (RFC 7519 §4.1, OIDC Core §3.1.3.7, RFC 9068).

Runs on the claims returned by :func:`portcullis.jose.jws.verify` — after the
signature check, never instead of it. Pure: the caller passes ``now``.

The issuer is always checked; there is deliberately no way to skip it. For
Microsoft Entra multi-tenant apps, :meth:`IssuerRule.entra_template`
implements the rule from ENTRA.md: substitute the token's ``tid`` (a GUID on
the tenant allowlist) into the discovery template, require exact equality
with ``iss``, and require the tenant segment of ``iss`` to be that ``tid``.
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from portcullis.jose.errors import TokenError

__all__ = [
    "ENTRA_V1_TEMPLATE",
    "ENTRA_V2_TEMPLATE",
    "GRAPH_AUDIENCES",
    "MAX_LEEWAY",
    "IssuerRule",
    "is_graph_token",
    "validate_claims",
]

MAX_LEEWAY = 300.0  # SECURITY.md item 4: clock skew at most 5 minutes
TENANT_PLACEHOLDER = "{tenantid}"
ENTRA_V2_TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"
ENTRA_V1_TEMPLATE = "https://sts.windows.net/{tenantid}/"
GRAPH_AUDIENCES = frozenset(
    {
        "00000003-0000-0000-c000-000000000000",
        "https://graph.microsoft.com",
        "https://graph.microsoft.com/",
    }
)
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _is_guid(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _GUID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class IssuerRule:
    """How ``iss`` must look. Build with :meth:`exact` or :meth:`entra_template`."""

    issuer: str  # the exact issuer, or a template containing ``{tenantid}``
    tenants: frozenset[str] | None = None  # set for templates only
    version: str | None = None  # the ``ver`` claim required, if any

    def __post_init__(self) -> None:
        if not isinstance(self.issuer, str) or not self.issuer:
            raise ValueError("the issuer is an empty string")
        if self.tenants is None:
            if TENANT_PLACEHOLDER in self.issuer:
                raise ValueError("an exact issuer cannot contain {tenantid}")
            return
        if self.issuer.count(TENANT_PLACEHOLDER) != 1:
            raise ValueError("the issuer template needs exactly one {tenantid}")
        parts = urlsplit(self.issuer)
        if parts.scheme != "https" or TENANT_PLACEHOLDER not in parts.path.split("/"):
            raise ValueError("{tenantid} must be a whole path segment of an https issuer")
        if not self.tenants:
            raise ValueError("a multi-tenant issuer rule needs a tenant allowlist")
        bad = sorted(t for t in self.tenants if not _is_guid(t))
        if bad:
            raise ValueError(f"tenants must be lower-case GUIDs: {bad}")

    @classmethod
    def exact(cls, iss: str, *, ver: str | None = None) -> IssuerRule:
        """``iss`` must equal this string exactly (no trailing-slash leniency).

        ``ver``: also require this ``ver`` claim (Entra single-tenant: ``"2.0"``
        for ``login.microsoftonline.com/{tid}/v2.0``, ``"1.0"`` for
        ``sts.windows.net/{tid}/``), so a token cannot mix the two.
        """
        return cls(iss, version=ver)

    @classmethod
    def entra_template(
        cls, template: str = ENTRA_V2_TEMPLATE, *, tenants: frozenset[str]
    ) -> IssuerRule:
        """Entra multi-tenant issuer: ``template`` with the token's ``tid`` substituted.

        ``template`` is the discovery document's issuer, e.g.
        ``https://login.microsoftonline.com/{tenantid}/v2.0`` or the v1 form
        ``https://sts.windows.net/{tenantid}/``. ``tenants`` are lower-case
        tenant GUIDs; a token is accepted only from one of them. A token that
        carries ``ver`` must carry the template's version (``2.0`` for a
        ``/v2.0`` issuer, else ``1.0``).
        """
        version = "2.0" if template.rstrip("/").endswith("/v2.0") else "1.0"
        return cls(template, frozenset(tenants), version)

    def check(self, claims: Mapping[str, Any]) -> None:
        iss = claims.get("iss")
        if not isinstance(iss, str):
            raise TokenError("bad_issuer", claim="iss", message="iss missing or not a string")
        if self.tenants is None:
            if iss != self.issuer:
                raise TokenError("bad_issuer", claim="iss", message=f"expected {self.issuer}")
            if self.version is not None and claims.get("ver") != self.version:
                raise TokenError("bad_issuer", claim="ver", message="token version mismatch")
            return
        tid = claims.get("tid")
        if not _is_guid(tid):
            raise TokenError(
                "tenant_not_allowed", claim="tid", message="tid is not a lower-case GUID"
            )
        if tid not in self.tenants:
            raise TokenError("tenant_not_allowed", claim="tid")
        expected = self.issuer.replace(TENANT_PLACEHOLDER, tid)
        if iss != expected:
            raise TokenError("bad_issuer", claim="iss", message=f"expected {expected}")
        # Redundant with the equality above, kept as a second, independent check.
        index = urlsplit(self.issuer).path.split("/").index(TENANT_PLACEHOLDER)
        segments = urlsplit(iss).path.split("/")
        if len(segments) <= index or segments[index] != tid:
            raise TokenError("bad_issuer", claim="iss", message="tenant segment is not tid")
        ver = claims.get("ver")
        if ver is not None and ver != self.version:
            raise TokenError("bad_issuer", claim="ver", message="token version mixes issuers")


def _audiences(claims: Mapping[str, Any]) -> list[str] | None:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        return aud
    return None


def is_graph_token(header: Mapping[str, Any], claims: Mapping[str, Any]) -> bool:
    """Whether this is a Microsoft Graph token, which a third party cannot validate.

    Graph tokens carry a ``nonce`` in the JOSE header (their signature is over a
    hashed nonce) and ``aud`` = Graph. Callers reject them as "not for this API".
    """
    if "nonce" in header:
        return True
    return any(a in GRAPH_AUDIENCES for a in _audiences(claims) or ())


def _time(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError("malformed", claim=name, message="not a NumericDate")
    try:
        result = float(value)
    except OverflowError:  # an integer beyond float range
        raise TokenError("malformed", claim=name, message="not a NumericDate") from None
    if not math.isfinite(result):
        raise TokenError("malformed", claim=name, message="not a NumericDate")
    return result


def validate_claims(
    claims: Mapping[str, Any],
    *,
    now: float,
    issuer: IssuerRule,
    audiences: frozenset[str],
    leeway: float = 60,
    require_iat: bool,
    nonce: str | None = None,
    client_id: str | None = None,
) -> None:
    """Validate ``iss``, ``aud``, ``exp``, ``nbf``, ``iat``, ``azp`` and ``nonce``.

    * ``exp`` is required; ``nbf`` and ``iat`` are honoured when present,
      ``iat`` is required when ``require_iat`` (ID tokens); ``leeway`` seconds of
      clock skew are allowed each way, at most :data:`MAX_LEEWAY`.
    * ``aud`` (a string or a list) must contain a member of ``audiences``,
      compared exactly. A Microsoft Graph audience is always refused.
    * ``client_id`` (pass it for ID tokens): with several audiences ``azp`` is
      required, and whenever ``azp`` is present it must equal ``client_id``.
    * ``nonce`` (pass it for ID tokens): compared in constant time.
    """
    if not 0 <= leeway <= MAX_LEEWAY:
        raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY:g} seconds")
    if not math.isfinite(now):
        raise ValueError("now must be a finite timestamp")
    if not audiences:
        raise ValueError("audiences is empty")

    issuer.check(claims)

    aud = _audiences(claims)
    if aud is None:
        raise TokenError("bad_audience", claim="aud", message="aud missing or not strings")
    if any(a in GRAPH_AUDIENCES for a in aud):
        raise TokenError("graph_token", claim="aud")
    if not any(a in audiences for a in aud):
        raise TokenError(
            "bad_audience", claim="aud", message=f"expected one of {sorted(audiences)}"
        )

    exp = _time(claims, "exp")
    if exp is None:
        raise TokenError("exp_missing", claim="exp")
    if now - leeway >= exp:
        raise TokenError("expired", claim="exp")
    nbf = _time(claims, "nbf")
    if nbf is not None and now + leeway < nbf:
        raise TokenError("not_yet_valid", claim="nbf")
    iat = _time(claims, "iat")
    if iat is None:
        if require_iat:
            raise TokenError("iat_missing", claim="iat")
    elif now + leeway < iat:
        raise TokenError("iat_future", claim="iat")

    if client_id is not None:
        azp = claims.get("azp")
        if azp is None and len(aud) > 1:
            raise TokenError("azp_mismatch", claim="azp", message="several audiences and no azp")
        if azp is not None and azp != client_id:
            raise TokenError("azp_mismatch", claim="azp")

    if nonce is not None:
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(
            got.encode("utf-8", "surrogatepass"), nonce.encode("utf-8", "surrogatepass")
        ):
            raise TokenError("nonce_mismatch", claim="nonce")
