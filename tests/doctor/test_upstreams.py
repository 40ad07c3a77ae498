"""Upstream checks against real servers: up, down, silent, TLS verified or not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from portcullis.config import validate
from portcullis.doctor.report import Check, Status
from portcullis.doctor.upstreams import check_upstreams
from tests.credentials.support import certificate
from tests.doctor.support import closed_port, http_server, silent_listener


def run(*routes: dict[str, object], timeout: float = 2.0, head: bool = True) -> list[Check]:
    config = validate({"routes": list(routes)})
    return asyncio.run(check_upstreams(config, timeout=timeout, head=head))


def test_an_answering_upstream_is_ok_once_per_origin() -> None:
    with http_server() as url:
        checks = run({"upstream": url}, {"path": "/api", "upstream": url + "/"})
    assert checks == [Check(f"upstream {url}", Status.OK, "connects; HEAD / answered 204")]


def test_a_closed_port_fails() -> None:
    port = closed_port()
    [check] = run({"upstream": f"http://127.0.0.1:{port}"})
    assert check.status is Status.FAIL
    assert check.detail == f"connection refused by 127.0.0.1:{port}"


def test_a_silent_upstream_warns() -> None:
    with silent_listener() as port:
        [check] = run({"upstream": f"http://127.0.0.1:{port}"}, timeout=0.3)
        [tcp_only] = run({"upstream": f"http://127.0.0.1:{port}"}, head=False)
    assert check.status is Status.WARN
    assert check.detail == "connects, but HEAD / failed: ReadTimeout"
    assert tcp_only == Check(
        f"upstream http://127.0.0.1:{port}", Status.OK, f"accepts connections on 127.0.0.1:{port}"
    )


def test_tls_is_verified_as_the_proxy_would(tmp_path: Path) -> None:
    cert, key = certificate("127.0.0.1", datetime.now(UTC) + timedelta(days=30))
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    with http_server(tls=(tmp_path / "c.pem", tmp_path / "k.pem")) as url:
        [untrusted] = run({"upstream": url})
        [trusted] = run({"upstream": url, "tls_ca_file": str(tmp_path / "c.pem")})
        [unverified] = run({"upstream": url, "tls_verify": False})
    assert untrusted.status is Status.FAIL
    assert untrusted.detail.startswith("TLS certificate not accepted")
    assert trusted.status is Status.OK, trusted
    assert unverified.status is Status.OK
