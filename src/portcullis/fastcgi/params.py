"""CGI parameters of an authorizer request → the :class:`RequestHead` the gate reads.

The web server describes the client's request in CGI variables: ``REQUEST_METHOD``,
``REQUEST_URI`` (the request target exactly as the client sent it), ``HTTP_*``
(its header fields, ``-`` written as ``_``), ``REMOTE_ADDR``, ``HTTPS`` or
``REQUEST_SCHEME``. The path is normalized exactly as the proxy normalizes it
(:func:`normalize_path`): the rule that applies is the rule for the path the web
server serves. Forwarding, identity and hop-by-hop fields are dropped as the
proxy drops them; a request without a method or a usable target is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from portcullis.http.headers import HOP_BY_HOP, canonical, is_spoofable, valid_request_id
from portcullis.http.paths import InvalidPath, normalize_path
from portcullis.http.request import RequestHead

__all__ = ["BadParams", "request_head"]

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")
_METHOD_CHARS = frozenset(  # RFC 9110 token
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


# What a parameter is (plain ints: compared per parameter on the hot path).
_HEADER = 1  # HTTP_*: a header field the gate may read
_HOST = 2
_ACCEPT = 3
_ENV_VAR = 4  # a CGI variable read below
_DROP = 5  # forwarding, identity or hop-by-hop fields; CGI variables nobody reads


_ENV = frozenset(
    {
        b"REQUEST_METHOD",
        b"REQUEST_URI",
        b"REMOTE_ADDR",
        b"HTTPS",
        b"SERVER_NAME",
        b"SERVER_PROTOCOL",
        b"UNIQUE_ID",
    }
)
_KINDS: dict[bytes, tuple[int, bytes, bytes]] = {}  # parameter name -> its meaning (bounded)
_MAX_KINDS = 4096


def _classify(name: bytes) -> tuple[int, bytes, bytes]:
    """What a parameter is: ``HTTP_X_Y`` is the header ``X-Y`` (canonical ``x-y``)."""
    if not name.startswith(b"HTTP_"):
        found = (_ENV_VAR if name in _ENV else _DROP, b"", b"")
    else:
        field = name[5:].replace(b"_", b"-")
        lname = canonical(field)
        if lname == b"host":
            kind = _HOST
        elif lname in HOP_BY_HOP or is_spoofable(lname):
            kind = _DROP
        else:
            kind = _ACCEPT if lname == b"accept" else _HEADER
        found = (kind, field, lname)
    if len(_KINDS) < _MAX_KINDS:
        _KINDS[name] = found
    return found


class BadParams(ValueError):
    """The parameters do not describe a request that can be authorized (answered 400)."""


def request_head(
    pairs: Iterable[tuple[bytes, bytes]],
    *,
    new_request_id: Callable[[], str],
    strip: frozenset[bytes] = frozenset(),
) -> RequestHead:
    """The request the web server asks about; ``strip``: configured identity headers."""
    env: dict[bytes, bytes] = {}
    headers: list[tuple[bytes, bytes]] = []
    accept = b""
    authority = b""
    for name, value in pairs:
        kind, field, lname = _KINDS.get(name) or _classify(name)
        if kind == _HEADER:
            if lname not in strip:
                headers.append((field, value))
        elif kind == _ENV_VAR:
            env[name] = value
        elif kind == _HOST:
            authority = value.strip()
        elif kind == _ACCEPT:
            accept = value
            headers.append((field, value))
    method = env.get(b"REQUEST_METHOD", b"").decode("latin-1")
    if not method or not _METHOD_CHARS.issuperset(method):
        raise BadParams("REQUEST_METHOD is missing or not a method")
    target = env.get(b"REQUEST_URI", b"")
    if b"#" in target:
        target = target[: target.find(b"#")]
    if target[:1] != b"/":
        target, authority = _absolute_form(target, authority)
    raw_path, sep, query = target.partition(b"?")
    try:
        path = normalize_path(raw_path.decode("latin-1"))
    except InvalidPath as exc:
        raise BadParams(f"invalid request path: {exc}") from None
    if not authority:
        authority = env.get(b"SERVER_NAME", b"")
    scheme = "https" if env.get(b"HTTPS", b"").lower() == b"on" else "http"
    unique = env.get(b"UNIQUE_ID", b"")
    request_id = unique.decode("ascii") if valid_request_id(unique) else new_request_id()
    protocol = env.get(b"SERVER_PROTOCOL", b"HTTP/1.1")
    return RequestHead(
        method,
        path,
        sep + query,
        "1.0" if protocol == b"HTTP/1.0" else "1.1",
        _host_name(authority),
        authority,
        headers,
        env.get(b"REMOTE_ADDR", b"").decode("latin-1"),
        scheme,
        request_id,
        False,
        False,
        None,
        False,
        None,
        accept,
    )


def _absolute_form(target: bytes, authority: bytes) -> tuple[bytes, bytes]:
    """``http://host/path``: the URL's authority is the host (RFC 9112 3.2.2)."""
    if not target.lower().startswith((b"http://", b"https://")):
        raise BadParams("REQUEST_URI is neither a path nor an http(s) URL")
    parts = urlsplit(target.decode("latin-1"))
    if not parts.netloc or "@" in parts.netloc:
        raise BadParams("REQUEST_URI is not a valid URL")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return path.encode("latin-1"), parts.netloc.encode("latin-1")


def _host_name(authority: bytes) -> str:
    """The lower-case host name without port, as the proxy's router sees it."""
    text = authority.decode("latin-1").lower()
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or (len(text) > end + 1 and not text[end + 1 :].startswith(":")):
            raise BadParams("malformed host")
        return text[: end + 1]
    name, _, port = text.partition(":")
    if port and not port.isdigit():
        raise BadParams("malformed host")
    name = name.rstrip(".")
    if not _HOST_CHARS.issuperset(name):
        raise BadParams("malformed host")
    return name
