"""Header hygiene: what is hop-by-hop, what a client may not set, and the forwarding headers.

Names are compared in a canonical form: lower case with ``_`` read as ``-``,
because CGI-style gateways (Apache's ``HTTP_*`` variables, PHP, WSGI) fold the
two together; ``X_Forwarded_For`` must not slip through as a different header.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable

__all__ = [
    "FORWARD_AUTH",
    "HOP_BY_HOP",
    "TrustedProxies",
    "canonical",
    "connection_tokens",
    "is_spoofable",
    "original_client",
    "request_id_prefix",
    "valid_request_id",
]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"http2-settings",
    }
)

# Forwarding and identity headers a client outside the trusted proxies may not set.
_SPOOFABLE_EXACT = frozenset(
    {
        b"forwarded",
        b"x-real-ip",
        b"x-request-id",
        b"x-original-url",
        b"x-original-uri",
        b"x-original-method",
        b"x-rewrite-url",
        b"x-client-ip",
        b"true-client-ip",
        b"client-ip",
        b"x-cluster-client-ip",
        b"remote-user",
        b"x-remote-user",
    }
)
_SPOOFABLE_PREFIXES = (b"x-forwarded-", b"x-portcullis-")
# How a trusted front proxy describes the request it asks Portcullis to authorize
# (forward-auth, portcullis.auth.forward): kept only on /.portcullis/ endpoints, never forwarded.
FORWARD_AUTH = frozenset(
    {b"x-forwarded-uri", b"x-forwarded-method", b"x-original-url", b"x-original-method"}
)
# Headers a trusted front proxy may set and Portcullis then believes.
TRUSTED_FORWARDING = (
    frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-request-id"})
    | FORWARD_AUTH
)


def canonical(name: bytes) -> bytes:
    """Lower case, ``_`` as ``-``: the form every header comparison uses."""
    return name.lower().replace(b"_", b"-")


def is_spoofable(lname: bytes) -> bool:
    """Whether a (canonical) header name claims forwarding or identity information."""
    return lname in _SPOOFABLE_EXACT or lname.startswith(_SPOOFABLE_PREFIXES)


def connection_tokens(values: Iterable[bytes]) -> set[bytes]:
    """The canonical header names listed in ``Connection`` values."""
    tokens: set[bytes] = set()
    for value in values:
        for raw in value.split(b","):
            token = raw.strip()
            if token:
                tokens.add(canonical(token))
    return tokens


_ID_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:+=/")


def valid_request_id(value: bytes) -> bool:
    """A request id from a trusted proxy is kept only when short and plain."""
    return 0 < len(value) <= 128 and all(c in _ID_CHARS for c in value)


def request_id_prefix() -> str:
    """A random per-process prefix; a counter after it makes request ids unique."""
    return os.urandom(6).hex()


def original_client(chain: list[bytes], trusted: TrustedProxies) -> str:
    """The client behind trusted proxies: the rightmost X-Forwarded-For address that is not
    a trusted proxy (addresses left of it were written by whoever the client is, and prove
    nothing). ``chain`` holds the header's values as received; "" when none is usable."""
    addresses = [a.strip() for value in chain for a in value.decode("latin-1").split(",")]
    for address in reversed(addresses):
        if address and address not in trusted:
            return address if _looks_like_ip(address) else ""
    return addresses[0] if addresses and _looks_like_ip(addresses[0]) else ""


def _looks_like_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


class TrustedProxies:
    """The addresses whose forwarding headers are believed."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        self._networks = tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
        self._cache: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, address: str) -> bool:
        known = self._cache.get(address)
        if known is not None:
            return known
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        trusted = any(ip in net for net in self._networks)
        if len(self._cache) < 4096:
            self._cache[address] = trusted
        return trusted
