"""The authorizer's listener: configuration, unix sockets, and real worker processes."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from portcullis.config import ConfigError, validate
from portcullis.fastcgi.listen import AuthorizerService
from portcullis.http.clock import CoarseClock
from portcullis.runtime import build_state
from tests.fastcgi.client import Client, authorizer_request
from tests.support.proxy import free_port, run_proxy, wait_for_port

ROUTES = [
    {"path": "/open", "upstream": "http://127.0.0.1:8080", "public": True},
    {"path": "/", "upstream": "http://127.0.0.1:8080"},
]
REQUEST = [(b"REQUEST_METHOD", b"GET"), (b"HTTP_HOST", b"app.test")]


def config(listen: str, **authorizer: Any) -> dict[str, Any]:
    return {"routes": ROUTES, "authorizer": {"listen": listen, **authorizer}}


# configuration ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "listen", ["127.0.0.1:9001", "0.0.0.0:0", "[::1]:9001", "localhost:9001", "unix:/run/p.sock"]
)
def test_valid_addresses(listen: str) -> None:
    settings = validate(config(listen, timeout=5)).authorizer
    assert settings is not None and (settings.listen, settings.timeout) == (listen, 5)
    assert validate({"routes": ROUTES}).authorizer is None


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        ("9001", "expected 'unix:/path' or 'address:port'"),
        ("127.0.0.1:", "expected"),
        ("127.0.0.1:70000", "expected"),
        ("app.example.com:9001", "not an IP address"),
        ("::1:9001", "in brackets"),
        ("unix:run/p.sock", "must be absolute"),
        ("unix:/" + "x" * 120, "at most 107 bytes"),
    ],
)
def test_invalid_addresses_name_the_key(listen: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate(config(listen))
    [problem] = caught.value.problems
    assert problem.path == "authorizer.listen"
    assert message in problem.message


def test_a_listen_address_is_required() -> None:
    with pytest.raises(ConfigError) as caught:
        validate({"routes": ROUTES, "authorizer": {}})
    assert [str(p) for p in caught.value.problems] == ["authorizer.listen: required"]


# a unix socket, in-process ---------------------------------------------------------------------
def serve_once(path: Path) -> tuple[int, int]:
    """Start the service on ``path``, ask once; (answer status, socket file mode)."""

    async def scenario() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        settings = validate(config(f"unix:{path}"))
        state = build_state(loop, CoarseClock(loop), settings)
        service = await AuthorizerService.start(
            settings, lambda: state, lambda: settings, reuse_port=False
        )
        assert service is not None
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
            client = await Client.connect_unix(str(path))
            await client.send(authorizer_request(1, [*REQUEST, (b"REQUEST_URI", b"/open/x")]))
            status = (await client.answer()).status
            await client.close()
        finally:
            service.close()
            await service.drain(1.0)
        return status, mode

    return asyncio.run(scenario())


def test_a_unix_socket_is_group_accessible_and_answers(tmp_path: Path) -> None:
    assert serve_once(tmp_path / "authz.sock") == (200, 0o660)


def test_a_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "authz.sock"
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(path))  # bound, never listening: nobody accepts
    assert serve_once(path)[0] == 200


def test_a_live_socket_or_another_file_is_not_taken_over(tmp_path: Path) -> None:
    live = tmp_path / "live.sock"
    with socket.socket(socket.AF_UNIX) as other:
        other.bind(str(live))
        other.listen()
        with pytest.raises(OSError, match="another process listens"):
            serve_once(live)
    regular = tmp_path / "file.sock"
    regular.write_text("not a socket")
    with pytest.raises(OSError, match="not a socket"):
        serve_once(regular)
    assert regular.read_text() == "not a socket"


# real processes --------------------------------------------------------------------------------
def ask_over(connect: Any, count: int) -> list[int]:
    async def scenario() -> list[int]:
        statuses = []
        for n in range(count):
            client = await connect()
            await client.send(authorizer_request(1, [*REQUEST, (b"REQUEST_URI", f"/{n}".encode())]))
            statuses.append((await client.answer()).status)
            await client.close()
        return statuses

    return asyncio.run(scenario())


def test_two_workers_share_a_tcp_port(tmp_path: Path) -> None:
    port = free_port()
    with run_proxy(config(f"127.0.0.1:{port}"), tmp_path, args=("--workers", "2")) as proxy:
        wait_for_port(port)
        # without a sign-in provider, a route that is not public is denied: 401
        assert ask_over(lambda: Client.connect(port), 20) == [401] * 20
        deadline = time.monotonic() + 10
        while proxy.log().count("FastCGI authorizer listening") < 2:
            assert time.monotonic() < deadline, proxy.log()
            time.sleep(0.05)
        assert "cannot listen" not in proxy.log()


def test_two_workers_share_a_unix_socket_removed_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "authz.sock"
    with run_proxy(config(f"unix:{path}"), tmp_path, args=("--workers", "2")) as proxy:
        assert ask_over(lambda: Client.connect_unix(str(path)), 20) == [401] * 20
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        assert proxy.stop() == 0
    assert not path.exists()


def test_a_busy_authorizer_port_stops_the_start_with_a_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = config(f"127.0.0.1:{port}") | {"listen": {"port": free_port()}}
        (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
        done = subprocess.run(
            [sys.executable, "-m", "portcullis", "serve", "-c", str(tmp_path / "c.yaml")],
            cwd=tmp_path,  # where the default audit store goes
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"authorizer.listen 127.0.0.1:{port}" in done.stderr + done.stdout
