"""The sample app: content negotiation, escaping, identity headers, over a real socket."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator

import pytest

from portcullis.demo.app import DemoServer, describe, make_server, prefers_html, render_html


@pytest.fixture
def server() -> Iterator[DemoServer]:
    srv = make_server("127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def get(
    server: DemoServer, path: str, headers: dict[str, str]
) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("text/html", True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.9, application/json;q=0.8", True),
        ("text/*", True),
        ("text/html;q=0, */*", False),
        ("text/html;q=bogus, application/json;q=0.1", False),
    ],
)
def test_prefers_html(accept: str | None, expected: bool) -> None:
    assert prefers_html(accept) is expected


def test_describe_lowercases_headers_and_extracts_identity() -> None:
    info = describe("/a?b=1", {"Host": "x", "X-Portcullis-Email": "ada@example.com"})
    assert info == {
        "path": "/a?b=1",
        "headers": {"host": "x", "x-portcullis-email": "ada@example.com"},
        "identity": {"email": "ada@example.com"},
    }


def test_render_html_escapes_everything() -> None:
    evil = "<script>alert(1)</script>"
    page = render_html(describe(f"/{evil}", {"X-Evil": evil, "X-Portcullis-User": evil}))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_render_html_shows_anonymous_without_identity() -> None:
    assert "Anonymous" in render_html(describe("/", {"Host": "x"}))


def test_json_response_reports_path_and_headers(server: DemoServer) -> None:
    response, body = get(server, "/some/path?q=1", {"X-Custom": "yes", "Accept": "*/*"})
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/json"
    info = json.loads(body)
    assert info["path"] == "/some/path?q=1"
    assert info["headers"]["x-custom"] == "yes"
    assert info["identity"] == {}


def test_html_response_when_browser_asks(server: DemoServer) -> None:
    response, body = get(
        server,
        "/<b>",
        {"Accept": "text/html,*/*;q=0.8", "X-Portcullis-Email": "ada@example.com"},
    )
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    page = body.decode()
    assert "ada@example.com" in page
    assert "/&lt;b&gt;" in page
