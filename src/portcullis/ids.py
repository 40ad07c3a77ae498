"""Small predicates on identifiers shared across the package: directory GUIDs, loopback hosts."""

from __future__ import annotations

import ipaddress
import re

__all__ = ["GUID_RE", "is_guid", "is_loopback"]

GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_guid(value: object) -> bool:
    """A lower-case directory object or tenant id (callers lower-case first)."""
    return isinstance(value, str) and GUID_RE.match(value) is not None


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (IPv4 127/8, ``::1``); brackets allowed."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
