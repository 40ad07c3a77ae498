"""Unit tests for portcullis.http.headers."""

from portcullis.http.headers import (
    TrustedProxies,
    canonical,
    connection_tokens,
    is_spoofable,
    original_client,
    valid_request_id,
)


def test_canonical_folds_case_and_underscore() -> None:
    assert canonical(b"X_Forwarded_For") == b"x-forwarded-for"
    assert canonical(b"X-PORTCULLIS-User") == b"x-portcullis-user"


def test_spoofable_names() -> None:
    for name in [
        b"x-forwarded-for",
        b"x-forwarded-anything",
        b"forwarded",
        b"x-real-ip",
        b"x-portcullis-user",
        b"x-request-id",
        b"x-original-url",
    ]:
        assert is_spoofable(name), name
    for name in [b"accept", b"x-forwardedfor", b"cookie", b"authorization"]:
        assert not is_spoofable(name), name


def test_connection_tokens() -> None:
    assert connection_tokens([b"close, X_Secret", b" keep-alive "]) == {
        b"close",
        b"x-secret",
        b"keep-alive",
    }


def test_trusted_proxies() -> None:
    trusted = TrustedProxies(["10.0.0.0/8", "::1/128"])
    assert "10.1.2.3" in trusted
    assert "::ffff:10.1.2.3" in trusted
    assert "::1" in trusted
    assert "11.0.0.1" not in trusted
    assert "not-an-ip" not in trusted
    assert not TrustedProxies([])


def test_request_id_validation() -> None:
    assert valid_request_id(b"abc-123")
    assert not valid_request_id(b"")
    assert not valid_request_id(b"a" * 129)
    assert not valid_request_id(b"a b")
    assert not valid_request_id(b"a\r\nb")


def test_the_original_client_is_the_rightmost_untrusted_address() -> None:
    trusted = TrustedProxies(["10.0.0.0/8"])
    assert original_client([b"203.0.113.5"], trusted) == "203.0.113.5"
    # The client wrote the left part itself: only what trusted proxies appended counts.
    assert original_client([b"1.2.3.4, 203.0.113.5, 10.0.0.7"], trusted) == "203.0.113.5"
    assert original_client([b"1.2.3.4", b"203.0.113.5"], trusted) == "203.0.113.5"
    assert original_client([b"10.0.0.9, 10.0.0.7"], trusted) == "10.0.0.9"
    assert original_client([b"evil, 10.0.0.7"], trusted) == ""  # not an address: none
    assert original_client([b""], trusted) == ""
