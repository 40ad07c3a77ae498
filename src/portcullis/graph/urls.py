"""Every URL the Graph client may call, derived from configuration alone.

Pure functions. The token endpoint comes from the authority host and a tenant;
Graph URLs from the configured Graph base URL and a principal's object id
(a GUID, so nothing from a token can steer the path); the token scope is the
Graph base URL's origin plus ``/.default`` (national clouds included:
``https://graph.microsoft.us`` → ``https://graph.microsoft.us/.default``).

A paging link (``@odata.nextLink``) is followed only when it names the
configured Graph origin and API version — compared after parsing, so
``https://graph.microsoft.com.evil.example`` or ``https://graph.microsoft.com@evil``
do not pass — and the URL fetched is rebuilt from the configured base.
``_claim_sources`` endpoints in tokens are never used.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from portcullis.ids import is_guid, is_loopback

__all__ = [
    "API_VERSION",
    "PrincipalCollection",
    "check_graph_base",
    "graph_link",
    "graph_scope",
    "is_guid",
    "member_objects_url",
    "token_endpoint",
]

API_VERSION = "v1.0"
MAX_LINK_CHARS = 4096

PrincipalCollection = Literal["users", "directoryObjects"]

_TENANT_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,253}[a-z0-9])?$")
_UNSAFE_RE = re.compile(r"[\x00-\x20\x7f\\]")  # controls, spaces, backslashes
_DEFAULT_PORTS = {"http": 80, "https": 443}


def check_graph_base(url: str, *, what: str = "Graph base URL") -> str:
    """``https://host[:port][/path]`` without a trailing slash; plain http only on loopback."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"{what} {url!r} must use https (plain http only on loopback)")
    if parts.username or parts.password or parts.query or parts.fragment or "#" in url:
        raise ValueError(f"{what} {url!r} must not carry credentials, a query or a fragment")
    if _UNSAFE_RE.search(url) or "%" in parts.path:
        raise ValueError(f"{what} {url!r} contains spaces, control or escaped characters")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def graph_scope(graph_base: str) -> str:
    """The client-credentials scope for this Graph deployment: its origin + ``/.default``."""
    parts = urlsplit(check_graph_base(graph_base))
    return f"{parts.scheme}://{parts.netloc}/.default"


def token_endpoint(authority_host: str, tenant: str) -> str:
    """``{authority_host}/{tenant}/oauth2/v2.0/token`` for a tenant id or verified domain."""
    tenant = tenant.lower()
    if not _TENANT_RE.match(tenant) or ".." in tenant:
        raise ValueError(f"{tenant!r} is not a tenant id or domain")
    return f"{check_graph_base(authority_host, what='authority host')}/{tenant}/oauth2/v2.0/token"


def member_objects_url(graph_base: str, object_id: str, collection: PrincipalCollection) -> str:
    """``POST {base}/v1.0/{users|directoryObjects}/{oid}/getMemberObjects``."""
    if not is_guid(object_id):
        raise ValueError("the object id is not a GUID")
    return f"{graph_base}/{API_VERSION}/{collection}/{object_id}/getMemberObjects"


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None


def graph_link(graph_base: str, link: object) -> str | None:
    """The URL to fetch for a paging link, or None when the link leaves the configured Graph.

    Accepted: same scheme, host and port as ``graph_base``, no user info or
    fragment, a path under ``{base path}/v1.0/`` without dot segments or
    encoded slashes. The result is rebuilt from ``graph_base``.
    """
    if not isinstance(link, str) or len(link) > MAX_LINK_CHARS or _UNSAFE_RE.search(link):
        return None
    base = urlsplit(graph_base)
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if (
        parts.scheme.lower() != base.scheme
        or parts.username is not None
        or parts.password is not None
        or (parts.hostname or "").lower() != base.hostname
        or _port(parts) is None
        or _port(parts) != _port(base)
        or parts.fragment
        or "#" in link
    ):
        return None
    prefix = f"{base.path}/{API_VERSION}/"
    if not parts.path.startswith(prefix):
        return None
    rest = parts.path[len(prefix) :]
    segments = rest.split("/")
    if any(s in ("", ".", "..") for s in segments) or "%" in rest:
        return None
    query = f"?{parts.query}" if parts.query else ""
    return f"{graph_base}/{API_VERSION}/{rest}{query}"
