"""Unit tests for portcullis.http.pages: escaped, small, and never echoing secrets."""

from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from portcullis.decision import Decision, Reason
from portcullis.http.pages import decision_response, error_response, serialize, status_line
from portcullis.http.request import RequestHead
from tests.support.heads import request_head


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


def test_status_line_has_the_standard_phrase_or_none() -> None:
    assert status_line(200) == b"HTTP/1.1 200 OK\r\n"
    assert status_line(101) == b"HTTP/1.1 101 Switching Protocols\r\n"
    assert status_line(599) == b"HTTP/1.1 599 \r\n"  # unregistered: no phrase is invented


# step-up (Reason.STEP_UP) ------------------------------------------------------------------------
_RFC9470 = (
    b'Bearer error="insufficient_user_authentication", '
    b'error_description="A more recent authentication is required", max_age=300'
)


def _head(
    method: str = "GET", accept: bytes = b"text/html", headers: tuple[tuple[bytes, bytes], ...] = ()
) -> RequestHead:
    return request_head(method, "/admin/x", b"?a=1&b=/", host="h", headers=headers, accept=accept)


def _step_up(max_age: int | None = 300, challenge: bytes = b"") -> Decision:
    return Decision(
        False, Reason.STEP_UP, "signed in too long ago", challenge=challenge, max_age=max_age
    )


def _login_query(location: str) -> dict[str, list[str]]:
    parts = urlsplit(location)
    assert parts.path == "/.portcullis/login" and not parts.netloc
    return parse_qs(parts.query, keep_blank_values=True)


def test_step_up_sends_a_browser_to_sign_in_again_with_max_age() -> None:
    response = decision_response(_step_up(), _head())
    assert response.status == 302
    location = dict(response.headers)[b"Location"].decode()
    assert location == "/.portcullis/login?rd=%2Fadmin%2Fx%3Fa%3D1%26b%3D%2F&max_age=300"
    assert _login_query(location) == {"rd": ["/admin/x?a=1&b=/"], "max_age": ["300"]}
    assert not response.body


@pytest.mark.parametrize(
    ("method", "accept", "headers"),
    [
        ("GET", b"application/json", ()),
        ("POST", b"text/html", ()),
        ("GET", b"text/html", ((b"X-Requested-With", b"XMLHttpRequest"),)),
        ("GET", b"*/*", ((b"Sec-Fetch-Mode", b"cors"),)),
    ],
)
def test_step_up_gives_api_clients_401_json_naming_the_login_url(
    method: str, accept: bytes, headers: tuple[tuple[bytes, bytes], ...]
) -> None:
    response = decision_response(_step_up(), _head(method, accept, headers))
    assert response.status == 401
    assert response.content_type == b"application/json"
    assert not any(name in (b"Location", b"WWW-Authenticate") for name, _ in response.headers)
    body = orjson.loads(response.body)
    assert body["error"] == "step_up"
    assert body["request_id"] == "rid-1"
    assert _login_query(body["login_url"]) == {"rd": ["/admin/x?a=1&b=/"], "max_age": ["300"]}


def test_step_up_for_a_bearer_token_is_an_rfc9470_challenge() -> None:
    for head in (_head(), _head(accept=b"application/json")):
        response = decision_response(_step_up(challenge=_RFC9470), head)
        assert response.status == 401
        assert response.headers == ((b"WWW-Authenticate", _RFC9470),)
        body = orjson.loads(response.body)
        assert (body["error"], body["request_id"], body["max_age"]) == ("step_up", "rid-1", 300)
        assert "login_url" not in body


@pytest.mark.parametrize(
    ("max_age", "sent"), [(None, "0"), (0, "0"), (-5, "0"), (90 * 86400, "2592000")]
)
def test_step_up_max_age_is_one_a_login_accepts(max_age: int | None, sent: str) -> None:
    response = decision_response(_step_up(max_age), _head())
    location = dict(response.headers)[b"Location"].decode()
    assert _login_query(location)["max_age"] == [sent]
