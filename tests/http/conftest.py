"""Fixtures for the HTTP/1.1 engine conformance suite.

Every test talks to a real ``python -m portcullis serve`` subprocess over raw
sockets; behind it run the scripted origins of :mod:`tests.http.upstream_app`.
The shared proxy (``proxy``) has these routes:

==================  ===========  ====================================================
host                path         goes to
==================  ===========  ====================================================
``app.test``        ``/``        ``upstream`` (public)
``app.test``        ``/api``     ``api_upstream`` (public)
``app.test``        ``/private`` ``upstream`` (not public: denied, no sign-in yet)
``app.test``        ``/timeout`` ``upstream`` (public, ``timeouts.response: 0.5``)
``app.test``        ``/ws``      the websocket echo of ``upstream`` (public)
``api.test``        ``/only``    ``api_upstream`` (public)
``*.wild.test``     ``/``        ``api_upstream`` (public)
``rewrite.test``    ``/``        ``upstream``, ``preserve_host: false``
``down.test``       ``/``        a port nobody listens on
``blackhole.test``  ``/``        a listener whose backlog is full (``connect: 0.5``)
==================  ===========  ====================================================
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest

from tests.http.rawhttp import Conn, Response
from tests.http.upstream_app import Upstream
from tests.support.proxy import Proxy, free_port, run_proxy


def route(host: str, path: str, upstream: str, **extra: Any) -> dict[str, Any]:
    return {"host": host, "path": path, "upstream": upstream, "public": True, **extra}


def config(routes: list[dict[str, Any]], **sections: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {"routes": routes, "log": {"level": "info"}}
    for key, value in sections.items():
        cfg[key] = value
    return cfg


@contextmanager
def blackhole_listener() -> Iterator[int]:
    """A port whose accept queue is full: SYNs are dropped, connects hang."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        with suppress(BlockingIOError):
            s.connect(("127.0.0.1", port))
        fillers.append(s)
    try:
        yield port
    finally:
        for s in fillers:
            s.close()
        listener.close()


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    with Upstream("main") as up:
        yield up


@pytest.fixture(scope="session")
def api_upstream() -> Iterator[Upstream]:
    with Upstream("api") as up:
        yield up


@pytest.fixture(scope="session")
def blackhole_port() -> Iterator[int]:
    with blackhole_listener() as port:
        yield port


def main_routes(up: Upstream, api: Upstream, blackhole: int) -> list[dict[str, Any]]:
    return [
        route("app.test", "/", up.url),
        route("app.test", "/api", api.url),
        {"host": "app.test", "path": "/private", "upstream": up.url},
        route("app.test", "/timeout", up.url, timeouts={"response": 0.5}),
        route("app.test", "/ws", up.ws_url),
        route("api.test", "/only", api.url),
        route("*.wild.test", "/", api.url),
        route("rewrite.test", "/", up.url, preserve_host=False),
        route("down.test", "/", f"http://127.0.0.1:{free_port()}"),
        route("blackhole.test", "/", f"http://127.0.0.1:{blackhole}", timeouts={"connect": 0.5}),
    ]


@pytest.fixture(scope="session")
def proxy(
    upstream: Upstream,
    api_upstream: Upstream,
    blackhole_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proxy]:
    """The shared proxy: default limits, no trusted proxies."""
    cfg = config(main_routes(upstream, api_upstream, blackhole_port))
    with run_proxy(cfg, tmp_path_factory.mktemp("proxy")) as p:
        yield p


@pytest.fixture(scope="session")
def trusting_proxy(
    upstream: Upstream,
    api_upstream: Upstream,
    blackhole_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proxy]:
    """Like ``proxy``, but 127.0.0.1 is a trusted proxy."""
    cfg = config(
        main_routes(upstream, api_upstream, blackhole_port),
        listen={"trusted_proxies": ["127.0.0.1/32"]},
    )
    with run_proxy(cfg, tmp_path_factory.mktemp("trusting")) as p:
        yield p


@pytest.fixture
def conn(proxy: Proxy) -> Iterator[Conn]:
    with Conn(proxy.port) as c:
        yield c


def assert_no_traceback(*texts: str | bytes) -> None:
    for text in texts:
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        assert "Traceback" not in text, text[-3000:]
        assert 'File "' not in text, text[-3000:]


def assert_error_page(resp: Response, status: int | tuple[int, ...]) -> None:
    """A generated error: the status, a small body, nothing of Python in it."""
    statuses = (status,) if isinstance(status, int) else status
    assert resp.status in statuses, (resp.status, resp.body[:300])
    assert len(resp.body) < 4096, len(resp.body)
    assert_no_traceback(resp.body)
