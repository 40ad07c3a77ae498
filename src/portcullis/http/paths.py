"""Request-target normalization: the path that is authorized is the path that is forwarded.

``normalize_path`` decodes percent-encoded *unreserved* characters once
(``%41`` -> ``A``, ``%2e`` -> ``.``), keeps every other escape encoded with
upper-case hex (``%2f`` -> ``%2F``: an encoded slash stays data), resolves dot
segments (RFC 3986 section 5.2.4) and collapses runs of ``/``. It rejects what
has no single meaning: NUL, backslashes, malformed escapes and paths that do
not start with ``/``.

``normalize_request_path`` is what the server applies to every request: the same,
except for an Envoy ext_authz check (``ENVOY_AUTH_PREFIX`` + the original path,
:mod:`portcullis.auth.forward`), whose original path is normalized on its own so
that dot segments cannot climb out of the prefix into another endpoint.
"""

from __future__ import annotations

__all__ = ["ENVOY_AUTH_PREFIX", "InvalidPath", "normalize_path", "normalize_request_path"]

ENVOY_AUTH_PREFIX = "/.portcullis/auth/envoy"
_ENVOY_CHECK = ENVOY_AUTH_PREFIX + "/"

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")


class InvalidPath(ValueError):
    """The request path cannot be normalized to one meaning."""


def normalize_path(path: str) -> str:
    """Return the normalized form of an origin-form path (no query)."""
    if not path.startswith("/"):
        raise InvalidPath("the path must start with '/'")
    if "\\" in path or "\x00" in path:
        raise InvalidPath("backslash or NUL in the path")
    if "%" in path:
        path = _decode_unreserved(path)
    if "//" in path:
        while "//" in path:
            path = path.replace("//", "/")
    if "/." in path:
        path = _remove_dot_segments(path)
    return path


def normalize_request_path(path: str) -> str:
    """``normalize_path``, keeping an Envoy check's prefix out of reach of its original path."""
    if path.startswith(_ENVOY_CHECK):
        return ENVOY_AUTH_PREFIX + normalize_path(path[len(ENVOY_AUTH_PREFIX) :])
    return normalize_path(path)


def _decode_unreserved(path: str) -> str:
    parts = path.split("%")
    out = [parts[0]]
    for part in parts[1:]:
        hex2 = part[:2]
        if len(hex2) < 2 or hex2[0] not in _HEX or hex2[1] not in _HEX:
            raise InvalidPath("malformed percent-encoding")
        code = int(hex2, 16)
        if code == 0:
            raise InvalidPath("encoded NUL in the path")
        if code in _UNRESERVED:
            out.append(chr(code) + part[2:])
        else:
            out.append("%" + hex2.upper() + part[2:])
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    segments = path.split("/")
    out: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    trailing = segments[-1] in (".", "..")
    result = "/" + "/".join(out)
    if trailing and not result.endswith("/"):
        result += "/"
    return result
