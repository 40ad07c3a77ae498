"""The verified identity as ``Variable-PORTCULLIS_*`` lines for a FastCGI authorizer's 200.

The gate already produced the identity as header lines for the upstream
(``X-Portcullis-User: ...\\r\\n``, names configurable in ``auth.headers``).
Apache's mod_authnz_fcgi turns each ``Variable-NAME: value`` line of an
authorizer's 200 into the environment variable ``NAME``; this module maps each
configured header to its fixed variable (``auth.headers.user`` →
``PORTCULLIS_USER``, ``roles`` → ``PORTCULLIS_ROLES``, ...). The header lines are
cached per session by the gate, so the mapping is remembered per header block.
"""

from __future__ import annotations

from portcullis.config.auth_schema import IdentityHeaders
from portcullis.http.headers import canonical

__all__ = ["VARIABLE_PREFIX", "IdentityVariables"]

VARIABLE_PREFIX = "PORTCULLIS_"
_MAX_REMEMBERED = 20_000


class IdentityVariables:
    """Identity header lines → ``Variable-PORTCULLIS_<FIELD>: value`` lines."""

    def __init__(self, names: IdentityHeaders | None = None) -> None:
        names = names or IdentityHeaders()
        self._by_header = {
            canonical(str(header).encode()): f"Variable-{VARIABLE_PREFIX}{field.upper()}".encode()
            for field, header in names.model_dump().items()
        }
        self._remembered: dict[bytes, bytes] = {}

    @property
    def names(self) -> tuple[str, ...]:
        """The environment variables an allow may set, e.g. ``PORTCULLIS_USER``."""
        return tuple(v.decode().removeprefix("Variable-") for v in self._by_header.values())

    def lines(self, headers: bytes) -> bytes:
        """The variable lines for ``headers`` (lines not naming an identity header are dropped)."""
        known = self._remembered.get(headers)
        if known is not None:
            return known
        out = []
        for line in headers.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            variable = self._by_header.get(canonical(name.strip())) if sep else None
            if variable is not None:
                out.append(variable + b": " + value.strip() + b"\r\n")
        found = b"".join(out)
        if len(self._remembered) >= _MAX_REMEMBERED:
            self._remembered.clear()
        self._remembered[headers] = found
        return found
