"""Records as lines for people: a fixed-width table that works while following (``tail -f``).

Columns: time (UTC), event, identity (display name, else the id), kind,
method and path, reason. Every value is made printable first: a display name
or path holding terminal escape sequences is shown escaped, never executed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["HEADER", "format_row", "format_time", "printable"]

_WIDTHS: Final = (20, 15, 30, 5, 44)
HEADER: Final = (
    "  ".join(
        title.ljust(width)
        for title, width in zip(
            ("TIME", "EVENT", "IDENTITY", "KIND", "REQUEST"), _WIDTHS, strict=True
        )
    )
    + "  REASON"
)


def printable(value: object) -> str:
    """``value`` as text with control characters escaped (``\\x1b``, ``\\n``, ...)."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def format_time(stamp: object) -> str:
    if not isinstance(stamp, int | float):
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def format_row(record: Mapping[str, Any]) -> str:
    get = record.get
    identity = get("name") or get("object_id") or get("client_id") or "-"
    request = " ".join(str(part) for part in (get("method"), get("path")) if part) or "-"
    cells = (
        format_time(get("time")),
        get("event") or "-",
        identity,
        get("kind") or "-",
        request,
    )
    line = "  ".join(
        _fit(printable(cell), width) for cell, width in zip(cells, _WIDTHS, strict=True)
    )
    return f"{line}  {printable(get('reason') or '-')}"


def _fit(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"
