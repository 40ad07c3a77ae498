"""Sign-in fixtures: the dev IdP in-process, the demo app and Portcullis as real processes."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portcullis.devidp import DevIdp
from portcullis.devidp.defaults import default_config
from tests.support.proxy import Proxy, free_port, run_proxy, wait_for_port

SESSION_KEY = "test-session-key-0123456789abcdef0123456789"


@pytest.fixture(scope="module")
def proxy_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def spare_port() -> int:
    """A second proxy port registered at the IdP, for tests that need their own proxy."""
    return free_port()


@pytest.fixture(scope="module")
def idp(proxy_port: int, spare_port: int) -> Iterator[DevIdp]:
    config = default_config()
    client = config.clients[0]
    bases = [f"http://127.0.0.1:{port}" for port in (proxy_port, spare_port)]
    client = dataclasses.replace(
        client,
        redirect_uris=(*client.redirect_uris, *(f"{b}/.portcullis/callback" for b in bases)),
        post_logout_redirect_uris=(*client.post_logout_redirect_uris, *(f"{b}/" for b in bases)),
    )
    with DevIdp(dataclasses.replace(config, clients=(client,))) as running:
        yield running


@pytest.fixture(scope="module")
def app() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "portcullis.demo.app", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def sign_in_config(idp: DevIdp, app: str, port: int, tmp: Path, **provider: Any) -> dict[str, Any]:
    client = idp.config.clients[0]
    assert client.secret is not None
    return {
        "listen": {"port": port},
        "routes": [
            {"path": "/admin", "upstream": app, "allow": {"roles": ["Portal.Admin"]}},
            {"path": "/staff", "upstream": app, "allow": {"groups": [_alice_only_group(idp)]}},
            {"path": "/public", "upstream": app, "public": True},
            {"path": "/", "upstream": app},
        ],
        "auth": {
            "external_url": f"http://127.0.0.1:{port}",
            "providers": [
                {
                    "type": "entra",
                    "tenant": idp.tenant_id,
                    "authority_host": idp.url,
                    "client_id": client.client_id,
                    "client_secret": [{"value": client.secret.reveal()}],
                    **provider,
                }
            ],
            "session": {"keys": [{"value": SESSION_KEY}], "sqlite_path": str(tmp / "s.db")},
        },
    }


def _alice_only_group(idp: DevIdp) -> str:
    alice, bob = idp.config.user("alice"), idp.config.user("bob")
    assert alice is not None and bob is not None
    return sorted(set(alice.groups) - set(bob.groups))[0]


@pytest.fixture(scope="module")
def proxy(
    idp: DevIdp, app: str, proxy_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    tmp = tmp_path_factory.mktemp("signin")
    with run_proxy(sign_in_config(idp, app, proxy_port, tmp), tmp) as running:
        yield running
