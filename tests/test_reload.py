"""Hot reload, in-process: the plan (pure) and the Reloader on a real ProxyServer.

A real server object, real sign-in and real upstream pools; the end-to-end side (signals,
workers, load) is tests/e2e/test_reload.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from portcullis.assertion import generate_key
from portcullis.auth.build import SignIn, build_sign_in
from portcullis.config import Config, load_config, validate
from portcullis.control import ControlEndpoints, Handler
from portcullis.http.clock import CoarseClock
from portcullis.http.pages import LocalResponse
from portcullis.http.request import RequestHead
from portcullis.http.server import ProxyServer
from portcullis.reload import (
    Reloader,
    RouteChanges,
    digest,
    file_stamp,
    plan_reload,
    route_changes,
    signing_keys,
)
from portcullis.runtime import build_state
from tests.support.heads import request_head

T = TypeVar("T")

UP = "http://127.0.0.1:9"
SESSION_KEY = "0123456789abcdef0123456789abcdef0123"


def route(path: str, upstream: str = UP, **extra: Any) -> dict[str, Any]:
    return {"path": path, "upstream": upstream, "public": True, **extra}


def auth(**session: Any) -> dict[str, Any]:
    return {
        "external_url": "http://127.0.0.1:4180",
        "providers": [
            {
                "type": "entra",
                "tenant": "00000000-0000-0000-0000-000000000001",
                "client_id": "app",
                "client_secret": [{"value": "s3cret"}],
            }
        ],
        "session": {"store": "memory", "keys": [{"value": SESSION_KEY}], **session},
    }


def config(routes: list[dict[str, Any]], **sections: Any) -> dict[str, Any]:
    return {"routes": routes, **sections}


def write(path: Path, data: dict[str, Any] | str) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def cfg(data: dict[str, Any]) -> Config:
    return validate(data)


def run(body: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await body()

    return asyncio.run(main())


@asynccontextmanager
async def worker(
    path: Path, extra: dict[str, Handler] | None = None
) -> AsyncIterator[tuple[ProxyServer, Reloader]]:
    """What runtime._worker builds, without the listener and the signals."""
    loop = asyncio.get_running_loop()
    clock = CoarseClock(loop)
    loaded = load_config(path)
    generated = (generate_key(),)
    keys = signing_keys(loaded.auth, generated)
    sign_in = build_sign_in(loaded.auth, keys=keys) if loaded.auth is not None else None
    state = build_state(
        loop,
        clock,
        loaded,
        gate=sign_in.gate if sign_in else None,
        strip_headers=sign_in.strip_headers if sign_in else frozenset(),
    )
    server = ProxyServer(loop, state, clock, sign_in.endpoints if sign_in else None)

    def control(sign_in: SignIn | None) -> ControlEndpoints:
        endpoints = {**(extra or {}), **(sign_in.endpoints if sign_in else {})}
        return ControlEndpoints(lambda: server.draining, endpoints)

    server.control = control(sign_in)
    reloader = Reloader(
        server,
        loaded,
        build=lambda new, gate, strip: build_state(loop, clock, new, gate, strip),
        control=control if extra else None,
        sign_in=sign_in,
        keys=keys,
        generated=generated,
        path=path,
    )
    try:
        yield server, reloader
    finally:
        server.state.pools.close()
        await reloader.close()


def head(path: str) -> RequestHead:
    return request_head(
        "GET", path, host="127.0.0.1", authority=b"127.0.0.1:4180", request_id="test-1"
    )


def jwks(server: ProxyServer) -> bytes:
    response = server.control(head("/.portcullis/jwks.json"), b"")
    assert isinstance(response, LocalResponse)
    assert response.status == 200
    return response.body


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


# --- the plan ------------------------------------------------------------------------------


def test_route_changes_count_by_host_and_path() -> None:
    old = cfg(config([route("/"), route("/api"), route("/old")])).routes
    new = cfg(
        config([route("/", public=False), route("/api/"), route("/new"), route("/more")])
    ).routes
    # '/api/' is the same route as '/api' (same requests); '/' turned private.
    assert route_changes(old, new) == RouteChanges(added=2, removed=1, changed=2)
    assert str(RouteChanges(1, 2, 3)) == "1 added, 2 removed, 3 changed"
    assert route_changes(old, old) == RouteChanges()


def test_plan_keeps_settings_that_need_a_restart() -> None:
    current = cfg(config([route("/")], listen={"port": 4180}, server={"workers": 2}))
    new = cfg(
        config(
            [route("/")],
            listen={
                "port": 5000,
                "address": "0.0.0.0",
                "tls": {"cert_file": "cert.pem", "key_file": "key.pem"},
                "trusted_proxies": ["10.0.0.0/8"],
            },
            server={"workers": 4, "pool_max_idle": 7},
            authorizer={"listen": "127.0.0.1:9000"},
        )
    )
    plan = plan_reload(current, new, "abc")
    assert plan.needs_restart == (
        "listen.address",
        "listen.port",
        "listen.tls",
        "server.workers",
        "authorizer",
    )
    assert plan.config.authorizer is None
    assert plan.config.listen.port == 4180
    assert plan.config.listen.address == "127.0.0.1"
    assert plan.config.listen.tls is None
    assert plan.config.server.workers == 2
    # What a reload can apply, it applies.
    assert plan.config.listen.trusted_proxies == ["10.0.0.0/8"]
    assert plan.config.server.pool_max_idle == 7
    assert plan_reload(current, current, "abc").needs_restart == ()


def test_plan_tells_whether_auth_and_the_assertion_keys_changed(tmp_path: Path) -> None:
    pem = write_key(tmp_path / "assertion.pem")
    plain = cfg(config([route("/")]))
    signed_in = cfg(config([route("/")], auth=auth()))
    renamed = cfg(config([route("/")], auth=auth(cookie_name="other")))
    keyed = cfg(config([route("/")], auth={**auth(), "assertion": {"keys": [{"file": pem}]}}))

    same = plan_reload(signed_in, cfg(config([route("/x")], auth=auth())), "d")
    assert (same.auth_changed, same.keys_changed) == (False, False)
    other = plan_reload(signed_in, renamed, "d")
    assert (other.auth_changed, other.keys_changed) == (True, False)
    # No auth and auth without keys both sign with the key generated at start.
    added = plan_reload(plain, signed_in, "d")
    assert (added.auth_changed, added.keys_changed) == (True, False)
    rekeyed = plan_reload(signed_in, keyed, "d")
    assert (rekeyed.auth_changed, rekeyed.keys_changed) == (True, True)
    assert rekeyed.summary() == "routes: 0 added, 0 removed, 0 changed; sign-in rebuilt"


def write_key(path: Path) -> str:
    key = generate_key()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


def test_signing_keys_are_the_generated_ones_unless_configured(tmp_path: Path) -> None:
    generated = (generate_key(),)
    assert signing_keys(None, generated) == list(generated)
    assert signing_keys(cfg(config([route("/")], auth=auth())).auth, generated) == list(generated)
    pem = write_key(tmp_path / "k.pem")
    keyed = load_config(
        write(
            tmp_path / "c.yaml",
            config([route("/")], auth={**auth(), "assertion": {"keys": [{"file": pem}]}}),
        )
    )
    (key,) = signing_keys(keyed.auth, generated)
    assert key.private_numbers() != generated[0].private_numbers()


def test_file_stamp_sees_rewrites_and_renames(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "a: 1\n")
    first = file_stamp(path)
    assert first is not None and first == file_stamp(path)
    os.utime(path, ns=(first.mtime_ns + 10**9, first.mtime_ns + 10**9))
    assert file_stamp(path) != first
    replacement = write(tmp_path / "new.yaml", "a: 1\n")
    os.utime(replacement, ns=(first.mtime_ns, first.mtime_ns))
    replacement.replace(path)  # same size and mtime, another inode
    assert file_stamp(path) != first
    assert file_stamp(tmp_path / "missing.yaml") is None
    assert digest(b"x") == hashlib.sha256(b"x").hexdigest()[:12]


# --- the Reloader on a server --------------------------------------------------------------


def test_a_valid_change_swaps_in_a_new_state(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "c.yaml", config([route("/")]))

    async def body() -> None:
        async with worker(path) as (server, reloader):
            old = server.state
            assert old.router.match("a.test", "/api/x").config.path == "/"  # type: ignore[union-attr]
            write(path, config([route("/"), route("/api", "http://127.0.0.1:10")]))
            with caplog.at_level(logging.INFO, "portcullis"):
                assert reloader.reload() is True
            new = server.state
            assert new is not old
            target = new.router.match("a.test", "/api/x")
            assert target is not None and target.config.upstream == "http://127.0.0.1:10"
            assert old.router.match("a.test", "/api/x").config.path == "/"  # type: ignore[union-attr]

    run(body)
    file_digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    assert messages(caplog, logging.INFO) == [
        f"configuration reloaded (2 routes, sha256 {file_digest}): "
        "routes: 1 added, 0 removed, 0 changed; sign-in kept"
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            config([route("/", "ftp://x")]),
            ["routes[0].upstream: not an http(s) URL"],
        ),
        (
            config([route("/"), {"path": "/b", "upstream": UP, "public": "maybe"}], bogus=1),
            ["bogus: unknown key", "routes[1].public: expected true or false, got a string"],
        ),
        ("routes: [\n", ["{path}: invalid YAML on line 2"]),
        (
            config([route("/")], auth=auth(keys=[{"file": "missing-key"}])),
            ["auth.session.keys[0].file: cannot read secret file"],
        ),
    ],
    ids=["bad-value", "several-problems", "invalid-yaml", "missing-secret-file"],
)
def test_a_broken_config_is_refused_with_key_paths(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    content: dict[str, Any] | str,
    expected: list[str],
) -> None:
    path = write(tmp_path / "c.yaml", config([route("/")]))

    async def body() -> None:
        async with worker(path) as (server, reloader):
            old, old_config = server.state, reloader.config
            write(path, content)
            with caplog.at_level(logging.INFO, "portcullis"):
                assert reloader.reload() is False
            assert server.state is old
            assert reloader.config is old_config

    run(body)
    errors = messages(caplog, logging.ERROR)
    assert errors[-1] == "reload refused: still serving the previous configuration"
    assert len(errors) == len(expected) + 1
    for text in expected:
        text = text.format(path=tmp_path / "c.yaml")
        assert [line for line in errors if line.startswith(f"reload refused: {text}")]
    assert messages(caplog, logging.INFO) == []


def test_an_unreadable_file_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path / "c.yaml", config([route("/")]))

    async def body() -> None:
        async with worker(path) as (server, reloader):
            old = server.state
            path.unlink()
            assert reloader.reload() is False
            assert server.state is old

    run(body)
    assert f"reload refused: {path}: cannot read: No such file or directory" in messages(
        caplog, logging.ERROR
    )


def test_unchanged_auth_keeps_the_sign_in(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", config([route("/")], auth=auth()))

    async def body() -> None:
        async with worker(path) as (server, reloader):
            sign_in, gate, control = reloader.sign_in, server.state.gate, server.control
            assert sign_in is not None and gate is sign_in.gate
            write(path, config([route("/"), route("/new")], auth=auth()))
            assert reloader.reload() is True
            assert reloader.sign_in is sign_in
            assert server.state.gate is gate
            assert server.control is control
            assert server.state.strip_headers == sign_in.strip_headers

    run(body)


def test_changed_auth_rebuilds_the_sign_in_keeps_the_keys_and_closes_the_old_one_later(
    tmp_path: Path,
) -> None:
    timeouts = {"timeouts": {"shutdown": 0.3}}
    path = write(tmp_path / "c.yaml", config([route("/")], auth=auth(), server=timeouts))

    async def body() -> None:
        async with worker(path) as (server, reloader):
            old = reloader.sign_in
            assert old is not None
            closed: list[float] = []
            loop = asyncio.get_running_loop()
            real_close = old.close

            async def close() -> None:
                closed.append(loop.time())
                await real_close()

            old.close = close  # type: ignore[method-assign]
            keys_before = jwks(server)
            write(path, config([route("/")], auth=auth(cookie_name="renamed"), server=timeouts))
            swapped = loop.time()
            assert reloader.reload() is True
            new = reloader.sign_in
            assert new is not None and new is not old
            assert server.state.gate is new.gate
            assert jwks(server) == keys_before  # same assertion keys, served by the new endpoints
            await asyncio.sleep(0.1)
            assert closed == []  # in-flight requests may still use it
            await asyncio.sleep(0.4)
            assert len(closed) == 1 and closed[0] - swapped >= 0.3

    run(body)


def test_renamed_identity_headers_close_idle_connections(tmp_path: Path) -> None:
    """Renamed identity headers close idle connections: their clients reconnect."""
    path = write(tmp_path / "c.yaml", config([route("/")], auth=auth()))

    async def body() -> None:
        async with worker(path) as (server, reloader):
            listener = await asyncio.get_running_loop().create_server(
                server.protocol, "127.0.0.1", 0
            )
            port = listener.sockets[0].getsockname()[1]
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                await asyncio.sleep(0.05)
                assert len(server.connections) == 1
                renamed = {**auth(), "headers": {"user": "X-Remote-User"}}
                write(path, config([route("/")], auth=renamed))
                assert reloader.reload() is True
                assert b"x-remote-user" in server.state.strip_headers
                assert await asyncio.wait_for(reader.read(), 2) == b""  # closed by the proxy
                writer.close()
            finally:
                listener.close()
                await listener.wait_closed()

    run(body)


def test_changed_assertion_keys_are_loaded(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", config([route("/")], auth=auth()))
    pem = write_key(tmp_path / "assertion.pem")

    async def body() -> None:
        async with worker(path) as (server, reloader):
            generated = jwks(server)
            write(
                path, config([route("/")], auth={**auth(), "assertion": {"keys": [{"file": pem}]}})
            )
            assert reloader.reload() is True
            configured = jwks(server)
            assert configured != generated
            # Back to no keys: the key generated at start, not a new one.
            write(path, config([route("/")], auth=auth()))
            assert reloader.reload() is True
            assert jwks(server) == generated

    run(body)


def test_removing_auth_drops_the_sign_in_endpoints_only(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", config([route("/")], auth=auth()))
    other: dict[str, Handler] = {
        "/.portcullis/other": lambda head, body: LocalResponse(200, b"other\n")
    }

    async def body() -> None:
        async with worker(path, other) as (server, reloader):
            write(path, config([route("/")]))
            assert reloader.reload() is True
            assert reloader.sign_in is None
            response = server.control(head("/.portcullis/jwks.json"), b"")
            assert isinstance(response, LocalResponse) and response.status == 404
            response = server.control(head("/.portcullis/other"), b"")
            assert isinstance(response, LocalResponse) and response.body == b"other\n"

    run(body)


def test_a_listen_change_warns_and_keeps_the_running_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "c.yaml", config([route("/")], listen={"port": 4180}))

    async def body() -> None:
        async with worker(path) as (server, reloader):
            write(
                path,
                config(
                    [route("/")],
                    listen={"port": 4181, "trusted_proxies": ["10.0.0.0/8"]},
                    server={"workers": 3},
                ),
            )
            assert reloader.reload() is True
            assert reloader.config.listen.port == 4180
            assert reloader.config.server.workers == 1
            assert "10.0.0.1" in server.state.trusted

    run(body)
    assert messages(caplog, logging.WARNING) == [
        "reload: listen.port changed; it takes effect only after a restart",
        "reload: server.workers changed; it takes effect only after a restart",
    ]


def test_old_pools_stop_pooling_idle_connections_close_busy_ones_finish(tmp_path: Path) -> None:
    async def body() -> None:
        accepted: list[asyncio.StreamWriter] = []

        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)

        upstream = await asyncio.start_server(on_client, "127.0.0.1", 0)
        port = upstream.sockets[0].getsockname()[1]
        path = write(tmp_path / "c.yaml", config([route("/", f"http://127.0.0.1:{port}")]))
        try:
            async with worker(path) as (server, reloader):
                target = server.state.router.match("a.test", "/")
                assert target is not None
                pool = target.pool
                idle, busy, stuck = [await pool.connect() for _ in range(3)]
                pool.busy.add(idle)
                pool.release(idle)
                pool.busy.update((busy, stuck))
                stuck.deadline = server.clock.now + 0.1  # its response is due by then
                assert pool.idle == [idle]
                assert reloader.reload() is True
                assert idle.transport is not None and idle.transport.is_closing()
                assert busy.transport is not None and not busy.transport.is_closing()
                pool.release(busy)  # its exchange ends: closed, not pooled
                assert busy.transport.is_closing() and pool.idle == []
                # The retired pool's response deadlines still fire (the server sweeps only
                # the current state's pools).
                assert stuck.transport is not None and not stuck.transport.is_closing()
                await asyncio.sleep(0.2)
                server.clock.refresh()
                await asyncio.sleep(server.clock.tick + 0.1)
                assert stuck.transport.is_closing() or stuck not in pool.busy
                new = server.state.router.match("a.test", "/")
                assert new is not None and new.pool is not pool
        finally:
            for writer in accepted:
                writer.close()
            upstream.close()
            await upstream.wait_closed()

    run(body)


def test_the_watcher_reloads_on_change_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    watching = {"reload": {"watch": True, "interval": 0.5}}
    path = write(tmp_path / "c.yaml", config([route("/")], server=watching))
    caplog.set_level(logging.INFO, "portcullis")

    async def body() -> None:
        async with worker(path) as (server, reloader):
            assert reloader.poll() == 0.5
            assert reloader.digest == ""  # nothing reloaded
            write(path, config([route("/"), route("/new")], server=watching))
            bump(path)
            reloader.poll()
            assert server.state.router.match("a.test", "/new/x").config.path == "/new"  # type: ignore[union-attr]
            write(path, "routes: [\n")
            bump(path)
            reloader.poll()
            reloader.poll()  # the same broken file is not tried again
            write(path, config([route("/")], server={"reload": {"interval": 1.0}}))
            bump(path)
            assert reloader.poll() == 1.0
            # watch is off now: changes wait for SIGHUP
            write(path, config([route("/"), route("/later")]))
            bump(path)
            reloader.poll()
            assert server.state.router.match("a.test", "/later").config.path == "/"  # type: ignore[union-attr]

    run(body)
    assert len([m for m in messages(caplog, logging.INFO) if "reloaded" in m]) == 2
    assert len([m for m in messages(caplog, logging.ERROR) if "invalid YAML" in m]) == 1


def bump(path: Path) -> None:
    """Move the file's mtime on, as a later write would (file systems tick coarsely)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
