"""Fixtures for end-to-end tests: a real Apache upstream and Portcullis in front of it.

A missing apache2 makes these tests fail, never skip: CI must prove the proxy
against the real server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.apache import APACHE_BIN, Apache, run_apache
from tests.support.proxy import Proxy, run_proxy

LARGE_SIZE = 200 * 1024 * 1024


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
