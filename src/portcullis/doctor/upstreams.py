"""Upstream checks: does each upstream origin accept a connection, and answer ``HEAD /``?

One check per distinct origin (several routes often share one), with the TLS settings of
the first route naming it. A refused or timed-out connection is a FAIL; an origin that
accepts the connection but whose certificate does not verify is a FAIL too (every request
would get a 502); one that accepts it but does not answer ``HEAD /`` in time is a WARN
(some applications answer only their own paths).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from urllib.parse import urlsplit

import httpx

from portcullis.config.schema import Config, Route
from portcullis.doctor.report import Check, Status

__all__ = ["check_upstreams"]


async def check_upstreams(
    config: Config, *, timeout: float = 3.0, head: bool = True
) -> list[Check]:
    """One check per upstream origin, run concurrently; ``head=False``: TCP only."""
    first: dict[str, Route] = {}
    for route in config.routes:
        first.setdefault(route.upstream, route)
    return list(await asyncio.gather(*(_check(r, timeout, head) for r in first.values())))


async def _check(route: Route, timeout: float, head: bool) -> Check:
    name = f"upstream {route.upstream}"
    parts = urlsplit(route.upstream)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        return Check(name, Status.FAIL, f"no connection within {timeout:g} s")
    except ConnectionRefusedError:
        return Check(name, Status.FAIL, f"connection refused by {host}:{port}")
    except OSError as exc:
        return Check(name, Status.FAIL, f"cannot connect to {host}:{port}: {exc.strerror or exc}")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    if not head:
        return Check(name, Status.OK, f"accepts connections on {host}:{port}")
    verify: bool | ssl.SSLContext = route.tls_verify
    if route.tls_verify and route.tls_ca_file:
        verify = ssl.create_default_context(cafile=route.tls_ca_file)
    try:
        async with httpx.AsyncClient(verify=verify, timeout=timeout) as client:
            response = await client.head(route.upstream + "/")
    except httpx.ConnectError as exc:
        if isinstance(exc.__cause__, ssl.SSLCertVerificationError) or "CERTIFICATE" in str(exc):
            return Check(name, Status.FAIL, f"TLS certificate not accepted: {exc}")
        return Check(name, Status.WARN, f"connects, but HEAD / failed: {exc}")
    except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
        return Check(name, Status.WARN, f"connects, but HEAD / failed: {type(exc).__name__}")
    return Check(name, Status.OK, f"connects; HEAD / answered {response.status_code}")
