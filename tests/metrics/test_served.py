"""/.portcullis/metrics on a real Portcullis process: several workers, access, reload, expiry."""

from __future__ import annotations

import http.client
import re
import signal
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.metrics.support import samples
from tests.support.proxy import Proxy, free_port, run_proxy


def get(proxy: Proxy, headers: dict[str, str] | None = None) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        conn.request("GET", "/.portcullis/metrics", headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Content-Type") or ""
    finally:
        conn.close()


def base(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "routes": [{"upstream": f"http://127.0.0.1:{free_port()}", "public": True}],
        "audit": {"sqlite": {"path": str(tmp_path / "audit.db")}},
        **extra,
    }


def wait_for(proxy: Proxy, text: str, count: int = 1, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while proxy.log().count(text) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not logged:\n{proxy.log()}")
        time.sleep(0.02)


def test_one_scrape_sees_every_worker(tmp_path: Path) -> None:
    with run_proxy(base(tmp_path), tmp_path, args=("--workers", "2")) as proxy:
        wait_for(proxy, "listening on", count=2)
        # Open connections land on both workers (SO_REUSEPORT); each worker counts its own.
        idle = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(20)]
        try:
            time.sleep(1.5)  # each worker publishes its gauges every second
            status, body, content_type = get(proxy)
        finally:
            for sock in idle:
                sock.close()
    assert status == 200
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    found = samples(body)
    assert found["portcullis_workers"] == 2
    assert found["portcullis_connections"] == 21  # the 20, and the scrape's own
    assert re.search(rb'^portcullis_build_info\{version="[^"]+",python="[^"]+"\} 1$', body, re.M)


def test_only_allowed_addresses_and_no_visitor_behind_a_proxy(tmp_path: Path) -> None:
    config = base(tmp_path, listen={"trusted_proxies": ["127.0.0.1"]})
    with run_proxy(config, tmp_path) as proxy:
        assert get(proxy)[0] == 200  # Prometheus on this machine
        # The same loopback peer, but relaying (and naming) a visitor: refused.
        status, body, _ = get(proxy, {"X-Forwarded-For": "203.0.113.5"})
        assert status == 403 and b"portcullis_" not in body
        # A reload narrows the allowed addresses at once.
        listen = {"address": "127.0.0.1", "port": proxy.port, "trusted_proxies": ["127.0.0.1"]}
        narrowed = {**config, "listen": listen, "metrics": {"allow": ["10.0.0.0/8"]}}
        proxy.config_path.write_text(yaml.safe_dump(narrowed))
        proxy.process.send_signal(signal.SIGHUP)
        wait_for(proxy, "configuration reloaded")
        assert get(proxy)[0] == 403


def test_dated_credentials_are_logged_at_start_and_exported(tmp_path: Path) -> None:
    soon = (datetime.now(UTC) + timedelta(days=5)).date()
    config = base(
        tmp_path,
        auth={
            "external_url": "http://127.0.0.1:4180",
            "providers": [
                {
                    "type": "oidc",
                    "issuer": f"http://127.0.0.1:{free_port()}",
                    "client_id": "portal",
                    "client_secret": [{"value": "a-secret-value", "expires": soon.isoformat()}],
                }
            ],
            "session": {
                "keys": [{"value": "k" * 40}],
                "sqlite_path": str(tmp_path / "sessions.db"),
            },
        },
    )
    with run_proxy(config, tmp_path) as proxy:
        wait_for(proxy, "WARNING portcullis.credentials")
        status, body, _ = get(proxy)
        log = proxy.log()
    assert status == 200
    key = (
        'portcullis_secret_expiry_timestamp_seconds{what="secret",'
        'key="auth.providers[0].client_secret[0]"}'
    )
    expected = datetime.combine(soon, datetime.min.time(), UTC).timestamp()
    assert samples(body)[key] == expected
    assert f"auth.providers[0].client_secret[0]: secret expires {soon.isoformat()}" in log
    assert "a-secret-value" not in log and b"a-secret-value" not in body
