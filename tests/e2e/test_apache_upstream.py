"""Portcullis in front of a real Apache httpd: what a client and the upstream each see."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.apache import Apache
from tests.support.proxy import Proxy, run_proxy

pytestmark = pytest.mark.apache

MiB = 1024 * 1024


def connect(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def fetch(
    port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    conn = connect(port)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def echo(proxy: Proxy, **request: Any) -> tuple[http.client.HTTPResponse, dict[str, Any]]:
    """Send a request to Apache's echo CGI through the proxy; return what the CGI saw."""
    conn = connect(proxy.port)
    try:
        conn.request(url=request.pop("url", "/cgi-bin/echo.cgi"), **request)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200, body[:500]
    return response, json.loads(body)


def wait_for_log_entry(apache: Apache, marker: str, timeout: float = 5.0) -> dict[str, str]:
    """Apache writes the access log after the response; poll for the line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in apache.access_entries():
            if marker in entry.get("target", ""):
                return entry
        time.sleep(0.05)
    raise AssertionError(f"no access-log line for {marker!r} in {apache.access_log}")


def test_static_file_matches_apache(apache: Apache, proxy: Proxy) -> None:
    direct, direct_body = fetch(apache.port, "/1k.bin")
    response, body = fetch(proxy.port, "/1k.bin")
    assert response.status == 200
    assert body == direct_body == (apache.docroot / "1k.bin").read_bytes()
    assert response.getheader("Content-Type") == direct.getheader("Content-Type")
    assert response.getheader("ETag") == direct.getheader("ETag")
    assert response.getheader("X-Upstream") == "apache"
    assert response.getheader("X-Request-Id")


def test_upstream_errors_pass_through(proxy: Proxy) -> None:
    response, _ = fetch(proxy.port, "/no-such-file")
    assert response.status == 404
    assert response.getheader("X-Upstream") == "apache"


def test_client_connection_is_kept_alive(proxy: Proxy) -> None:
    conn = connect(proxy.port)
    try:
        conn.request("GET", "/1k.bin")
        first = conn.getresponse()
        assert len(first.read()) == 1024
        sock = conn.sock
        assert sock is not None, "proxy closed the connection after one request"
        for _ in range(5):
            conn.request("GET", "/1k.bin")
            response = conn.getresponse()
            assert response.status == 200
            assert len(response.read()) == 1024
            assert conn.sock is sock, "http.client had to reconnect: keep-alive not honoured"
    finally:
        conn.close()


def test_upstream_connections_are_reused(apache: Apache, proxy: Proxy) -> None:
    markers = [f"pool-{uuid.uuid4().hex}" for _ in range(8)]
    for marker in markers:
        response, _ = fetch(proxy.port, f"/1k.bin?{marker}")
        assert response.status == 200
    ports = {wait_for_log_entry(apache, m)["client_port"] for m in markers}
    assert len(ports) <= 2, f"8 sequential requests used {len(ports)} upstream connections"


def test_head_returns_headers_without_body(proxy: Proxy) -> None:
    conn = connect(proxy.port)
    try:
        conn.request("HEAD", "/1k.bin")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Length") == "1024"
        assert response.read() == b""
        conn.request("GET", "/1k.bin")  # the connection is still in sync
        assert len(conn.getresponse().read()) == 1024
    finally:
        conn.close()


def test_conditional_get_is_304_without_body(apache: Apache, proxy: Proxy) -> None:
    etag = fetch(apache.port, "/1k.bin")[0].getheader("ETag")
    assert etag
    response, body = fetch(proxy.port, "/1k.bin", headers={"If-None-Match": etag})
    assert response.status == 304
    assert body == b""
    assert response.getheader("ETag") == etag


def test_upstream_sees_forwarded_headers_and_no_hop_by_hop(proxy: Proxy) -> None:
    response, seen = echo(
        proxy,
        method="GET",
        url="/cgi-bin/echo.cgi?q=1",
        headers={
            "Host": "app.example.test",
            "Connection": "keep-alive, x-secret",
            "X-Secret": "must-not-pass",
            "Keep-Alive": "timeout=5",
            "X-Forwarded-For": "203.0.113.9",  # spoofed: the client is not a trusted proxy
            "X-Request-Id": "spoofed-id",
            "X-Custom": "kept",
        },
    )
    headers = seen["headers"]
    assert seen["method"] == "GET"
    assert seen["path"] == "/cgi-bin/echo.cgi"
    assert seen["query"] == "q=1"
    assert headers.get("x-forwarded-for") == "127.0.0.1"
    assert headers.get("x-forwarded-proto") == "http"
    assert headers.get("x-forwarded-host") == "app.example.test"
    assert headers.get("host") == "app.example.test"
    assert headers.get("x-custom") == "kept"
    assert "x-secret" not in headers
    assert "keep-alive" not in headers
    assert "x-secret" not in headers.get("connection", "").lower()
    request_id = headers.get("x-request-id")
    assert request_id
    assert request_id != "spoofed-id"
    assert response.getheader("X-Request-Id") == request_id


def test_request_id_matches_apache_access_log(apache: Apache, proxy: Proxy) -> None:
    marker = f"rid-{uuid.uuid4().hex}"
    response, _ = fetch(proxy.port, f"/1k.bin?{marker}")
    request_id = response.getheader("X-Request-Id")
    assert request_id
    entry = wait_for_log_entry(apache, marker)
    assert entry["request_id"] == request_id
    assert entry["xff"] == "127.0.0.1"


def _chunks(data: bytes, size: int = 256 * 1024) -> Any:
    return (data[i : i + size] for i in range(0, len(data), size))


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_post_10mb_body_arrives_intact(proxy: Proxy, framing: str) -> None:
    data = os.urandom(10 * MiB)
    body: Any = data if framing == "content-length" else _chunks(data)
    _, seen = echo(proxy, method="POST", url="/cgi-bin/echo.cgi?upload=1", body=body)
    sent_framing = "transfer-encoding" if framing == "chunked" else "content-length"
    assert seen["method"] == "POST"
    assert seen["body_length"] == len(data), f"sent with {sent_framing}"
    assert seen["body_sha256"] == hashlib.sha256(data).hexdigest()


def _read_head(sock: socket.socket) -> bytes:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte or len(head) > 65536:
            break
        head += byte
    return head


def test_expect_100_continue_upload(proxy: Proxy) -> None:
    data = os.urandom(MiB)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(
            b"POST /cgi-bin/echo.cgi HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(data)
        )
        interim = _read_head(sock)
        assert interim.startswith(b"HTTP/1.1 100"), f"expected 100 Continue, got {interim!r}"
        sock.sendall(data)
        response = http.client.HTTPResponse(sock, method="POST")
        response.begin()
        seen = json.loads(response.read())
        response.close()
    assert response.status == 200
    assert seen["body_length"] == len(data)
    assert seen["body_sha256"] == hashlib.sha256(data).hexdigest()


def test_large_download_streams_with_bounded_memory(
    apache: Apache, proxy: Proxy, large_sha256: str
) -> None:
    baseline = proxy.rss_kib()
    peak = baseline
    digest, length = hashlib.sha256(), 0
    conn = connect(proxy.port)
    try:
        conn.request("GET", "/large.bin")
        response = conn.getresponse()
        assert response.status == 200
        time.sleep(1.0)  # a slow reader: a buffering proxy would now hold the whole file
        while chunk := response.read(MiB):
            digest.update(chunk)
            length += len(chunk)
            if length % (16 * MiB) < MiB:
                peak = max(peak, proxy.rss_kib())
    finally:
        conn.close()
    assert length == apache.large_size
    assert digest.hexdigest() == large_sha256
    grown_mib = (peak - baseline) / 1024
    assert grown_mib < 100, f"proxy RSS grew by {grown_mib:.0f} MiB for a streamed download"


def test_two_workers_serve_requests(public_config: dict[str, Any], tmp_path: Path) -> None:
    with run_proxy(public_config, tmp_path, args=("--workers", "2")) as proxy:
        request_ids = set()
        for _ in range(20):
            response, body = fetch(proxy.port, "/1k.bin")
            assert response.status == 200
            assert len(body) == 1024
            request_ids.add(response.getheader("X-Request-Id"))
        assert len(request_ids) == 20
        response, body = fetch(proxy.port, "/.portcullis/healthz")
        assert (response.status, body.strip()) == (200, b"ok")
        assert proxy.stop() == 0


def test_sigterm_lets_inflight_download_finish(
    apache: Apache, public_config: dict[str, Any], tmp_path: Path, large_sha256: str
) -> None:
    with run_proxy(public_config, tmp_path, args=("--workers", "1")) as proxy:
        conn = connect(proxy.port)
        try:
            conn.request("GET", "/large.bin")
            response = conn.getresponse()
            assert response.status == 200
            first = response.read(MiB)
            proxy.process.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            assert proxy.process.poll() is None, "proxy exited with a download in flight"
            try:
                ready, _ = fetch(proxy.port, "/.portcullis/readyz")
                assert ready.status == 503, "readyz must report draining after SIGTERM"
            except ConnectionError:
                pass  # the listener is already closed: also fine
            digest, length = hashlib.sha256(first), len(first)
            while chunk := response.read(MiB):
                digest.update(chunk)
                length += len(chunk)
        finally:
            conn.close()
        assert length == apache.large_size
        assert digest.hexdigest() == large_sha256
        assert proxy.process.wait(timeout=15) == 0
