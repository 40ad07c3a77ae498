"""The open-redirect guard: relative paths, or https URLs on an exact host allowlist.

Every row of REJECTED must come back as the default; the shapes include the ones
behind the redirect CVEs named in SECURITY.md item 12 (oauth2-proxy, mod_auth_openidc,
mod_auth_mellon): slash/backslash confusion, whitespace and control characters
(raw and percent-encoded) between slashes, userinfo, other schemes, suffix tricks.
"""

from __future__ import annotations

import pytest

from portcullis.redirects import MAX_RETURN_TO, safe_return_to

ALLOWED = frozenset({"ok.example.com", "App.Example.com", "ports.example.com:8443", ".example.com"})
DEFAULT = "/__default__"


def check(value: str | None, **kwargs: bool) -> str:
    return safe_return_to(value, allowed_hosts=ALLOWED, default=DEFAULT, **kwargs)


ACCEPTED: list[tuple[str, str]] = [
    ("/", "/"),
    ("/app", "/app"),
    ("/app/page?x=1&y=2#frag", "/app/page?x=1&y=2#frag"),
    ("/a/b/../c", "/a/b/../c"),
    ("/caf%C3%A9", "/caf%C3%A9"),  # encoded UTF-8 in a path is fine
    ("/search?q=a%20b", "/search?q=a%20b"),  # an encoded space is kept by browsers
    ("/My%20File.pdf", "/My%20File.pdf"),
    ("/a%2Fb", "/a%2Fb"),  # an encoded slash inside a path is not a network path
    ("/?next=//evil.com", "/?next=//evil.com"),  # only the path decides where we go
    ("https://ok.example.com", "https://ok.example.com/"),
    ("https://ok.example.com/", "https://ok.example.com/"),
    ("https://ok.example.com/p?q=1#f", "https://ok.example.com/p?q=1#f"),
    ("https://ok.example.com?x=1", "https://ok.example.com/?x=1"),
    ("HTTPS://OK.EXAMPLE.COM/Path", "https://ok.example.com/Path"),
    ("https://app.example.com/", "https://app.example.com/"),  # allowlist is lower-cased
    ("https://ports.example.com:8443/x", "https://ports.example.com:8443/x"),
    ("https://ok.example.com#@evil.com", "https://ok.example.com/#@evil.com"),
    ("https://ok.example.com/?@evil.com", "https://ok.example.com/?@evil.com"),
]


@pytest.mark.parametrize(("value", "expected"), ACCEPTED)
def test_accepted(value: str, expected: str) -> None:
    assert check(value) == expected


REJECTED: list[str] = [
    # protocol-relative and slash/backslash confusion (oauth2-proxy CVE-2020-5233 family,
    # mod_auth_openidc CVE-2019-14857 / CVE-2019-20479, mod_auth_mellon CVE-2019-13038)
    "//evil.com",
    "///evil.com",
    "//ok.example.com",
    "/\\evil.com",
    "\\/evil.com",
    "\\\\evil.com",
    "/\\/evil.com",
    "/%5Cevil.com",
    "/%5c%5cevil.com",
    "/%2f%2fevil.com",
    "/%2F/evil.com",
    "/%252f%252fevil.com",  # double-encoded
    "/%25252525252f/evil.com",  # encoded beyond any sane depth
    "/..//evil.com",
    "/a/..//evil.com",
    "/%2e%2e//evil.com",
    # whitespace and controls, raw or encoded (oauth2-proxy CVE-2020-11053, CVE-2020-4037;
    # mod_auth_openidc CVE-2021-32786, CVE-2022-23527)
    "/\t/evil.com",
    "/%09/evil.com",
    "/%0a/evil.com",
    "/%0d/evil.com",
    "/%0B/evil.com",
    "/%20/evil.com",  # no blank right after the leading slash, even an encoded space
    "/ /evil.com",
    "/\r\nLocation: https://evil.com",
    "/%0d%0aSet-Cookie:%20x=y",
    "/page\x00",
    "/page%00",
    "/page\x7f",
    "/%E2%80%AEmoc.live",  # right-to-left override
    "/%C2%85evil",  # NEL
    " /app",
    "/app ",
    "https://ok.example.com\t",
    "https://ok.example.com/%0a",
    # userinfo (oauth2-proxy CVE-2021-21291 family)
    "https://ok.example.com@evil.com",
    "https://ok.example.com:443@evil.com",
    "https://evil.com\\@ok.example.com",
    "https://evil.com%40ok.example.com",
    "https://user:pass@ok.example.com/",
    "https://@ok.example.com/",
    # other schemes and scheme-ish shapes
    "javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "javascript://ok.example.com/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox",
    "ftp://ok.example.com/",
    "file:///etc/passwd",
    "http://ok.example.com/",  # http needs allow_http
    "https:ok.example.com",
    "https:/ok.example.com",
    "https:///ok.example.com",
    "https:\\\\ok.example.com",
    # suffix, prefix and lookalike hosts (CVE-2021-21291 shape)
    "https://ok.example.com.evil.com/",
    "https://evil.com/ok.example.com",
    "https://evil.com?ok.example.com",
    "https://evil.com#ok.example.com",
    "https://badexample.com/",
    "https://x.example.com/",  # ".example.com" is not a wildcard
    "https://.example.com/",
    "https://example.com/",
    "https://ok.example.com./",
    "https://ok.example.com%2eevil.com/",
    "https://ok%2Eexample.com/",
    "https://\u043ek.example.com/",  # Cyrillic o
    "https://ok.example.com\u3002evil.com/",  # ideographic full stop
    "https://ok.ex\u0430mple.com/",  # Cyrillic a
    # ports
    "https://ok.example.com:443/",
    "https://ok.example.com:8443/",
    "https://ports.example.com/",
    "https://ports.example.com:08443/",
    "https://ok.example.com:/",
    # IP literals and odd authorities
    "https://[::1]/",
    "https://127.0.0.1/",
    "https:///",
    "https://",
    # relative references that are not absolute paths
    "evil.com",
    "app/page",
    "?x=1",
    "#frag",
    "./app",
    "%2f%2fevil.com",
    "\uff0f\uff0fevil.com",  # fullwidth solidus
    # malformed escapes and size
    "/app%",
    "/app%zz",
    "/app%2",
    "/" + "a" * MAX_RETURN_TO,
    "",
]


@pytest.mark.parametrize("value", REJECTED)
def test_rejected(value: str) -> None:
    assert check(value) == DEFAULT


def test_the_table_is_large() -> None:
    assert len(ACCEPTED) + len(REJECTED) >= 40


def test_none_and_non_strings_give_the_default() -> None:
    assert check(None) == DEFAULT
    assert safe_return_to(b"/app", allowed_hosts=ALLOWED) == "/"  # type: ignore[arg-type]


def test_length_limit_is_inclusive() -> None:
    longest = "/" + "a" * (MAX_RETURN_TO - 1)
    assert check(longest) == longest
    assert check(longest + "a") == DEFAULT


def test_http_only_when_allowed_and_on_the_list() -> None:
    assert check("http://ok.example.com/x", allow_http=True) == "http://ok.example.com/x"
    assert check("HTTP://OK.example.com/x", allow_http=True) == "http://ok.example.com/x"
    assert check("http://evil.com/x", allow_http=True) == DEFAULT
    assert check("http://ok.example.com@evil.com/", allow_http=True) == DEFAULT


def test_empty_allowlist_allows_relative_paths_only() -> None:
    assert safe_return_to("/app", allowed_hosts=frozenset()) == "/app"
    assert safe_return_to("https://ok.example.com/", allowed_hosts=frozenset()) == "/"


def test_default_is_the_fallback() -> None:
    assert safe_return_to("//evil.com", allowed_hosts=ALLOWED) == "/"
    assert safe_return_to("//evil.com", allowed_hosts=ALLOWED, default="/home") == "/home"


@pytest.mark.parametrize("value", [v for v, _ in ACCEPTED])
def test_output_is_stable(value: str) -> None:
    once = check(value)
    assert check(once) == once  # re-checking what we return changes nothing
