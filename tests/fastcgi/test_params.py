"""CGI parameters → the request head the gate reads: the same normalization as the proxy."""

from __future__ import annotations

from itertools import count

import pytest

from portcullis.fastcgi.params import BadParams, request_head
from portcullis.http.request import RequestHead

_ids = count(1)


def head(uri: str = "/", *, strip: frozenset[bytes] = frozenset(), **env: str) -> RequestHead:
    pairs = [(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", uri.encode("latin-1"))]
    pairs += [(name.encode(), value.encode("latin-1")) for name, value in env.items()]
    return request_head(pairs, new_request_id=lambda: f"gen-{next(_ids)}", strip=strip)


def test_what_apache_sends_becomes_a_request_head() -> None:
    found = head(
        "/app/x?a=1&b=%2F",
        HTTP_HOST="App.Example.COM:8443",
        HTTP_COOKIE="portcullis=abc; other=1",
        HTTP_ACCEPT="text/html",
        HTTP_USER_AGENT="Mozilla/5.0",
        REMOTE_ADDR="192.0.2.7",
        REQUEST_SCHEME="http",
        SERVER_PROTOCOL="HTTP/1.1",
        FCGI_ROLE="AUTHORIZER",
    )
    assert (found.method, found.path, found.query) == ("GET", "/app/x", b"?a=1&b=%2F")
    assert (found.host, found.authority) == ("app.example.com", b"App.Example.COM:8443")
    assert found.client_ip == "192.0.2.7"
    assert found.accept == b"text/html"
    assert found.version == "1.1"
    assert found.scheme == "http"
    assert (b"COOKIE", b"portcullis=abc; other=1") in found.headers
    assert (b"USER-AGENT", b"Mozilla/5.0") in found.headers
    assert not found.has_body and not found.keep_alive


@pytest.mark.parametrize(
    ("uri", "path", "query"),
    [
        ("/a/../admin/./x", "/admin/x", b""),
        ("//admin//x", "/admin/x", b""),
        ("/%61dmin/x", "/admin/x", b""),  # unreserved escapes decoded once
        ("/admin%2Fx", "/admin%2Fx", b""),  # an encoded slash stays data
        ("/x?y=/../admin", "/x", b"?y=/../admin"),  # the query never changes the path
        ("/x#frag", "/x", b""),
        ("http://App.Test/admin?q", "/admin", b"?q"),  # absolute-form request target
    ],
)
def test_the_path_is_normalized_as_the_proxy_normalizes_it(
    uri: str, path: str, query: bytes
) -> None:
    found = head(uri, HTTP_HOST="app.test")
    assert (found.path, found.query) == (path, query)


def test_an_absolute_url_names_the_host() -> None:
    found = head("https://Other.Test:444/x", HTTP_HOST="app.test")
    assert (found.host, found.authority) == ("other.test", b"Other.Test:444")


def test_without_a_host_header_the_server_name_is_used() -> None:
    assert head("/", SERVER_NAME="www.example.org").host == "www.example.org"
    assert head("/").host == ""
    assert head("/", HTTP_HOST="[2001:db8::1]:8080").host == "[2001:db8::1]"


def test_https_is_read_from_the_https_variable() -> None:
    assert head("/", HTTPS="on").scheme == "https"
    assert head("/", HTTPS="off", REQUEST_SCHEME="https").scheme == "http"


def test_identity_forwarding_and_hop_by_hop_fields_never_reach_the_gate() -> None:
    found = head(
        "/",
        HTTP_X_PORTCULLIS_USER="mallory",
        HTTP_X_FORWARDED_FOR="10.0.0.1",
        HTTP_X_REAL_IP="10.0.0.1",
        HTTP_REMOTE_USER="mallory",
        HTTP_CONNECTION="close",
        HTTP_MY_USER="mallory",  # a configured identity header name (strip)
        HTTP_X_OK="kept",
        strip=frozenset({b"my-user"}),
    )
    assert found.headers == [(b"X-OK", b"kept")]


def test_a_request_id_comes_from_mod_unique_id_when_plain() -> None:
    assert head("/", UNIQUE_ID="ZXhhbXBsZS1pZA").request_id == "ZXhhbXBsZS1pZA"
    assert head("/", UNIQUE_ID="bad id\r\n").request_id.startswith("gen-")
    assert head("/").request_id.startswith("gen-")


def test_http_1_0_is_recognized() -> None:
    assert head("/", SERVER_PROTOCOL="HTTP/1.0").version == "1.0"


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([(b"REQUEST_URI", b"/")], "REQUEST_METHOD"),
        ([(b"REQUEST_METHOD", b"G T"), (b"REQUEST_URI", b"/")], "REQUEST_METHOD"),
        ([(b"REQUEST_METHOD", b"GET")], "neither a path"),
        ([(b"REQUEST_METHOD", b"OPTIONS"), (b"REQUEST_URI", b"*")], "neither a path"),
        ([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/%zz")], "percent"),
        ([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/a\\b")], "backslash"),
        ([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/a%00")], "NUL"),
        ([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"ftp://x/")], "neither a path"),
        ([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"http://u@x/")], "not a valid URL"),
        ([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/"), (b"HTTP_HOST", b"a b")], "host"),
        ([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/"), (b"HTTP_HOST", b"x:y")], "host"),
        ([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/"), (b"HTTP_HOST", b"[::1")], "host"),
    ],
)
def test_what_cannot_be_authorized_is_refused(
    pairs: list[tuple[bytes, bytes]], message: str
) -> None:
    with pytest.raises(BadParams, match=message):
        request_head(pairs, new_request_id=lambda: "x")
