"""Unit tests for portcullis.http.pages: escaped, small, and never echoing secrets."""

from portcullis.http.pages import error_response, serialize


def test_html_page_escapes_message_and_request_id() -> None:
    page = error_response(400, "<script>alert(1)</script>", request_id="<id>")
    assert b"<script>" not in page.body
    assert b"&lt;script&gt;" in page.body
    assert b"&lt;id&gt;" in page.body
    assert page.content_type.startswith(b"text/html")


def test_json_when_client_prefers_json() -> None:
    page = error_response(502, "down", request_id="abc", accept=b"application/json")
    assert page.body == b'{"error":"bad_gateway","message":"down","request_id":"abc"}'


def test_serialize_is_one_complete_http_message() -> None:
    page = error_response(404, "nope", request_id="r")
    raw = serialize(page, request_id="r", keep_alive=False, head_only=False)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert b"Connection: close" in head
    assert b"X-Request-Id: r" in head
    assert f"Content-Length: {len(body)}".encode() in head
    head_only = serialize(page, request_id="r", keep_alive=True, head_only=True)
    assert head_only.endswith(b"Connection: keep-alive\r\n\r\n")
