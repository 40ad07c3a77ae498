"""Where a browser may be sent after login or logout: the open-redirect guard.

:func:`safe_return_to` accepts exactly two shapes and returns ``default`` for
everything else (SECURITY.md item 12):

* a **relative path**: starts with one ``/`` (not ``//``, not ``/\\``), and
  still does so after percent-decoding and dot-segment removal;
* an **absolute URL** ``https://host[:port]/...`` (``http://`` only with
  ``allow_http=True``) whose host — or ``host:port`` when a port is given — is
  *exactly* in ``allowed_hosts``. There are no wildcards: ``.example.com``
  matches no host at all. No userinfo, no IP-literal brackets, ASCII only.

The whole value must be printable ASCII without spaces or backslashes, at most
2048 characters, with well-formed ``%XX`` escapes; percent-decoding (repeated
until stable) must not reveal control characters (tab, CR, LF, NUL...),
backslashes, or Unicode format/separator characters. An encoded space
(``%20``) is the one blank allowed — browsers keep it, unlike tab/CR/LF,
which they strip — except right after the leading ``/`` of a path.

The decision is made on the parsed parts, and an accepted absolute URL is
returned re-assembled from them (scheme and host lower-cased), so what was
checked is what is used.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final
from urllib.parse import unquote

__all__ = ["MAX_RETURN_TO", "safe_return_to"]

MAX_RETURN_TO: Final = 2048
_MAX_DECODE_ROUNDS: Final = 4

_PRINTABLE = re.compile(r"[\x21-\x5b\x5d-\x7e]+")  # printable ASCII minus space and backslash
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ABSOLUTE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<rest>.*)")
_AUTHORITY = re.compile(r"(?P<host>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::(?P<port>[0-9]{1,5}))?")


def safe_return_to(
    value: str | None,
    *,
    allowed_hosts: frozenset[str],
    default: str = "/",
    allow_http: bool = False,
) -> str:
    """``value`` if it is a safe post-login/logout target (see the module doc), else ``default``."""
    if not isinstance(value, str) or not value or len(value) > MAX_RETURN_TO:
        return default
    if not _PRINTABLE.fullmatch(value) or _BAD_ESCAPE.search(value):
        return default
    if value.startswith("/"):
        return value if _safe_relative(value) else default
    absolute = _ABSOLUTE.fullmatch(value)
    if absolute is None:
        return default  # other schemes, scheme-relative and path-relative references
    scheme = absolute["scheme"].lower()
    if scheme != "https" and not (scheme == "http" and allow_http):
        return default
    authority = absolute["authority"].lower()
    parsed = _AUTHORITY.fullmatch(authority)  # rejects userinfo, escapes, brackets, empty
    if parsed is None:
        return default
    allowed = {host.lower() for host in allowed_hosts}
    if authority not in allowed:  # "host" or "host:port", exactly as listed
        return default
    rest = absolute["rest"]
    if not rest.startswith("/"):
        rest = "/" + rest
    if not _clean_when_decoded(rest):
        return default
    return f"{scheme}://{authority}{rest}"


def _safe_relative(value: str) -> bool:
    if value.startswith("//"):
        return False
    if not _clean_when_decoded(value):
        return False
    path = re.split(r"[?#]", value, maxsplit=1)[0]
    decoded = _fully_decoded(path)
    if decoded is None or decoded.startswith(("//", "/\\", "/ ")):
        return False
    return not _remove_dot_segments(decoded).startswith("//")


def _fully_decoded(text: str) -> str | None:
    """``text`` percent-decoded until it stops changing, or ``None`` if it never does."""
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = unquote(text, errors="replace")
        if decoded == text:
            return text
        text = decoded
    return None


def _clean_when_decoded(text: str) -> bool:
    decoded = _fully_decoded(text)
    if decoded is None or "\\" in decoded:
        return False
    return not any(
        ch < " " or ch == "\x7f" or unicodedata.category(ch)[0] in "CZ"
        for ch in decoded
        if ch < " " or ch >= "\x7f"
    )


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, as a browser resolves the path."""
    output: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if output:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)
