"""Graph fixtures: the stand-in server, and the real token + Graph stack pointed at it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from portcullis.graph import GraphHttp, GraphTokens, GroupResolver
from portcullis.oidc.client_auth import ClientAuth
from portcullis.oidc.fetch import Fetcher
from portcullis.secret import Secret
from tests.support.graph_standin import CLIENT_ID, CLIENT_SECRET, GraphStandIn, run_graph_standin

USER = "aaaaaaaa-1111-4111-8111-000000000001"
OTHER_USER = "aaaaaaaa-1111-4111-8111-000000000002"
APP = "bbbbbbbb-2222-4222-8222-000000000001"


class Clock:
    """Wall-clock time that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def secret_auth(secret: str = CLIENT_SECRET, method: str = "client_secret_post") -> ClientAuth:
    return ClientAuth(CLIENT_ID, method, secret=Secret(secret))


@dataclass
class Stack:
    resolver: GroupResolver
    tokens: GraphTokens
    clock: Clock
    sleeps: list[float] = field(default_factory=list)


@asynccontextmanager
async def graph_stack(
    standin: GraphStandIn,
    *,
    clock: Clock | None = None,
    auth: Sequence[ClientAuth] | None = None,
    authority_host: str | None = None,
    graph_base: str | None = None,
    timeout: float = 5.0,
    **settings: Any,
) -> AsyncIterator[Stack]:
    clock = clock or Clock()
    fetcher = Fetcher(timeout=timeout)
    http = GraphHttp(timeout=timeout)
    base = graph_base or standin.url
    tokens = GraphTokens(
        authority_host=authority_host or standin.url,
        graph_base=base,
        client_auth=auth or (secret_auth(),),
        fetcher=fetcher,
        clock=clock,
    )
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    resolver = GroupResolver(
        graph_base=base, tokens=tokens, http=http, clock=clock, sleep=sleep, **settings
    )
    try:
        yield Stack(resolver, tokens, clock, sleeps)
    finally:
        await fetcher.close()
        await http.close()


@pytest.fixture
def standin() -> Iterator[GraphStandIn]:
    with run_graph_standin() as running:
        yield running


@pytest.fixture
def evil() -> Iterator[GraphStandIn]:
    """A second server nobody configured: it must never be called."""
    with run_graph_standin() as running:
        yield running
