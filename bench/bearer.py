"""Bearer-token helpers for ``bench/run.py``: the dev IdP and its tokens, Portcullis' config for
an API behind it, and a client that sends each of many tokens exactly once.

- :func:`run_dev_idp`: the in-package dev IdP (:mod:`portcullis.devidp`, Entra-shaped) with
  one client-credentials token of the machine client ``reporting-bot`` for the demo API
  (app role ``Reports.Read``), the token every request of the cached-token cases sends.
- :func:`fetch_tokens`: ``count`` more such tokens over the token endpoint (each has a fresh
  ``uti``, so each is a new token to a resource server).
- :func:`proxy_config`: Portcullis with one route, ``accept: [bearer]``, ``api: demo-api``
  (an ``entra`` provider at the dev IdP), ``allow: {app_roles: [Reports.Read]}`` → upstream.
- :class:`SendOnce`: the load of the first-seen case: keep-alive connections (asyncio, raw
  HTTP/1.1) that take the tokens from one shared iterator, so each is sent exactly once;
  statuses, body sizes and latencies are counted.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from portcullis.devidp import (
    BOT_CLIENT_ID,
    BOT_CLIENT_SECRET,
    CLIENT_ID,
    CLIENT_SECRET,
    DEMO_API_ID,
    DEMO_API_URI,
    DevIdp,
)

__all__ = [
    "API",
    "APP_ROLE",
    "AUDIENCES",
    "BenchIdp",
    "SendOnce",
    "fetch_tokens",
    "proxy_config",
    "run_dev_idp",
]

API = "demo-api"
APP_ROLE = "Reports.Read"
AUDIENCES = (DEMO_API_ID, DEMO_API_URI)
SESSION_KEY = "bench-session-key-0123456789abcdef0123456789"
# The dev IdP's http.server writes a response's head and body separately, so every token
# request on a connection waits out the client's delayed ACK (~40 ms): fetch on many at once.
FETCH_CONNECTIONS = 32


@dataclass(frozen=True)
class BenchIdp:
    """A running dev IdP, its JWKS and one valid ``reporting-bot`` token for the demo API."""

    idp: DevIdp
    token: str

    def jwks(self) -> dict[str, Any]:
        """The JWKS as published: discovery's ``jwks_uri``, fetched."""
        with urllib.request.urlopen(self.idp.discovery_url, timeout=10) as response:
            jwks_uri = json.load(response)["jwks_uri"]
        with urllib.request.urlopen(jwks_uri, timeout=10) as response:
            keys: dict[str, Any] = json.load(response)
        return keys

    @property
    def token_endpoint(self) -> str:
        return self.idp.endpoint("token")


@contextmanager
def run_dev_idp() -> Iterator[BenchIdp]:
    with DevIdp() as idp:
        (token,) = fetch_tokens(idp.endpoint("token"), 1)
        yield BenchIdp(idp, token)


def fetch_tokens(token_endpoint: str, count: int) -> list[str]:
    """``count`` distinct client-credentials tokens of ``reporting-bot`` for the demo API."""
    url = urllib.parse.urlsplit(token_endpoint)
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": BOT_CLIENT_ID,
            "client_secret": BOT_CLIENT_SECRET,
            "scope": f"{DEMO_API_URI}/.default",
        }
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    local = threading.local()
    opened: list[http.client.HTTPConnection] = []

    def one(_: int) -> str:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
            opened.append(local.conn)
        local.conn.request("POST", url.path, body=form, headers=headers)
        response = local.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"dev IdP token endpoint: {response.status} {body[:200]!r}")
        return str(json.loads(body)["access_token"])

    workers = max(1, min(FETCH_CONNECTIONS, count))
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="bench-token") as pool:
            tokens = list(pool.map(one, range(count)))
    finally:
        for conn in opened:
            conn.close()
    if len(set(tokens)) != len(tokens):
        raise RuntimeError("the dev IdP handed out the same token twice")
    return tokens


def proxy_config(idp: DevIdp, upstream: str) -> dict[str, Any]:
    """One bearer-only route for the demo API's ``Reports.Read`` app role → ``upstream``."""
    return {
        "routes": [
            {
                "host": "*",
                "path": "/",
                "upstream": upstream,
                "accept": ["bearer"],
                "api": API,
                "allow": {"app_roles": [APP_ROLE]},
            }
        ],
        "auth": {
            "external_url": "http://127.0.0.1",
            "providers": [
                {
                    "name": "entra",
                    "type": "entra",
                    "tenant": idp.tenant_id,
                    "authority_host": idp.url,
                    "client_id": CLIENT_ID,
                    "client_secret": [{"value": CLIENT_SECRET}],
                }
            ],
            "apis": [{"name": API, "provider": "entra", "audiences": list(AUDIENCES)}],
            "session": {"keys": [{"value": SESSION_KEY}], "store": "memory"},
        },
    }


class SendOnce:
    """GET ``url`` once per token (``Authorization: Bearer``) over keep-alive connections.

    :meth:`warm` spends the ``warmup`` tokens, :meth:`run` the ``tokens``; a token is never
    sent twice (one iterator feeds every connection) nor retried. :meth:`run` returns the
    fields of ``bench/run.py``'s ``parse_wrk`` plus ``statuses`` and ``tokens``.
    """

    def __init__(self, url: str, tokens: Sequence[str], warmup: Sequence[str] = ()) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path or "/"
        self.tokens, self.warmup = list(tokens), list(warmup)
        if len(set(self.tokens) | set(self.warmup)) != len(self.tokens) + len(self.warmup):
            raise ValueError("every token must be distinct")

    def warm(self, connections: int) -> None:
        if self.warmup:
            asyncio.run(self._send(self.warmup, connections))

    def run(self, connections: int) -> dict[str, Any]:
        started = time.perf_counter()
        stats = asyncio.run(self._send(self.tokens, connections))
        elapsed = time.perf_counter() - started
        latencies = sorted(stats.latencies)
        done = len(latencies)
        statuses = dict(sorted(stats.statuses.items()))
        return {
            "requests": done,
            "requests_per_s": round(done / elapsed, 2),
            "p50_ms": round(_percentile(latencies, 0.50) * 1e3, 3),
            "p99_ms": round(_percentile(latencies, 0.99) * 1e3, 3),
            "non_2xx": sum(n for status, n in statuses.items() if not 200 <= status < 400),
            "socket_errors": ", ".join(f"{e}: {n}" for e, n in sorted(stats.errors.items())),
            "tokens": len(self.tokens),
            "statuses": {str(s): n for s, n in statuses.items()},
        }

    async def _send(self, tokens: Sequence[str], connections: int) -> _Stats:
        stats = _Stats()
        feed = iter(tokens)
        await asyncio.gather(*(self._connection(feed, stats) for _ in range(connections)))
        return stats

    async def _connection(self, feed: Iterator[str], stats: _Stats) -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        host = f"Host: {self.host}:{self.port}\r\n"
        try:
            for token in feed:  # one shared iterator: next() hands each token out once
                request = f"GET {self.path} HTTP/1.1\r\n{host}Authorization: Bearer {token}\r\n\r\n"
                started = time.perf_counter()
                try:
                    if writer is None or reader is None:
                        reader, writer = await asyncio.open_connection(self.host, self.port)
                    writer.write(request.encode("ascii"))
                    status, size, close = await _response(reader)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                    stats.errors[type(exc).__name__] += 1
                    _close(writer)
                    writer = None
                    continue
                except ValueError as exc:  # not HTTP/1.1 as we know it
                    stats.errors[f"ValueError: {exc}"] += 1
                    _close(writer)
                    writer = None
                    continue
                stats.latencies.append(time.perf_counter() - started)
                stats.statuses[status] += 1
                if status == 200 and size != 1024:
                    stats.errors[f"200 with {size} bytes"] += 1
                if close:
                    _close(writer)
                    writer = None
        finally:
            _close(writer)


@dataclass
class _Stats:
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


async def _response(reader: asyncio.StreamReader) -> tuple[int, int, bool]:
    """Status, body length and whether the server closes, of one HTTP/1.1 response."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    close = "close" in headers.get("connection", "").lower()
    if "content-length" in headers:
        size = int(headers["content-length"])
        await reader.readexactly(size)
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        size = 0
        while chunk := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(chunk + 2)
            size += chunk
        while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
            pass
    else:
        raise ValueError("a response without Content-Length or chunked body")
    return status, size, close


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]
