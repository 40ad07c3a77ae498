"""Fixtures for end-to-end tests: a real Apache upstream, Portcullis in front of it, and a
real OpenID Provider (``op``) for sign-in.

A missing apache2, node or oidc-provider makes these tests fail, never skip: CI must
prove the proxy against the real servers.

The OP knows its clients' redirect URIs when it starts, so ``signin_ports`` reserves the
ports of the Portcullis instances that sign in through it (callback
``http://127.0.0.1:<port>/.portcullis/callback``, post-logout ``http://127.0.0.1:<port>/``).
``tests/e2e/test_oidc_provider.py`` overrides ``op`` with its own fixed redirect URIs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.apache import APACHE_BIN, Apache, run_apache
from tests.support.oidc_provider import OidcProvider, run_oidc_provider, setup_problem
from tests.support.proxy import Proxy, run_proxy
from tests.support.signin import callback_url, free_ports

LARGE_SIZE = 200 * 1024 * 1024
SIGN_IN_PROXIES = 4


@pytest.fixture(scope="session")
def apache() -> Iterator[Apache]:
    if not APACHE_BIN.exists():
        pytest.fail(
            f"{APACHE_BIN} is missing: the e2e tests need Debian's apache2 "
            "(apt-get install -y apache2, or run `make test` as root)",
            pytrace=False,
        )
    with run_apache(large_size=LARGE_SIZE) as server:
        yield server


@pytest.fixture(scope="session")
def public_config(apache: Apache) -> dict[str, Any]:
    """A Portcullis config with one public route sending everything to Apache."""
    return {"routes": [{"host": "*", "path": "/", "upstream": apache.url, "public": True}]}


@pytest.fixture(scope="session")
def large_sha256(apache: Apache) -> str:
    digest = hashlib.sha256()
    with open(apache.docroot / "large.bin", "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def proxy(
    public_config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """Portcullis (one worker) with a public route to Apache, shared by a test module."""
    tmp: Path = tmp_path_factory.mktemp("proxy")
    with run_proxy(public_config, tmp, args=("--workers", "1")) as running:
        yield running


@pytest.fixture(scope="session")
def signin_ports() -> tuple[int, ...]:
    """Ports for the Portcullis instances that sign in through ``op`` (fixed before it starts)."""
    return free_ports(SIGN_IN_PROXIES)


@pytest.fixture(scope="session")
def op(signin_ports: tuple[int, ...]) -> Iterator[OidcProvider]:
    """The real OpenID Provider (panva/oidc-provider), redirecting to ``signin_ports``."""
    problem = setup_problem()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    with run_oidc_provider(
        redirect_uris=[callback_url(port) for port in signin_ports],
        post_logout_redirect_uris=[f"http://127.0.0.1:{port}/" for port in signin_ports],
    ) as provider:
        yield provider
