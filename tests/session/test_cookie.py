"""Sealed cookies: AEAD round trip, tamper → None, rotation, and Set-Cookie/Cookie helpers."""

from __future__ import annotations

import base64
import os

import pytest

from portcullis.secret import Secret
from portcullis.session.cookie import (
    PURPOSE_LOGIN,
    PURPOSE_SESSION,
    CookieCodec,
    clear_cookie_header,
    cookie_header,
    cookie_name,
    read_cookie,
)
from portcullis.session.model import new_session_id

KEY_A, KEY_B, KEY_C = (bytes([n]) * 32 for n in (1, 2, 3))


def test_round_trip() -> None:
    codec = CookieCodec([KEY_A])
    value = codec.seal(b"payload", purpose=PURPOSE_SESSION)
    assert codec.open(value, purpose=PURPOSE_SESSION) == b"payload"
    assert codec.open(codec.seal(b"", purpose=b"x"), purpose=b"x") == b""


def test_layout_is_key_id_nonce_ciphertext_tag() -> None:
    value = CookieCodec([KEY_A]).seal(b"12345", purpose=PURPOSE_SESSION)
    assert "=" not in value
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    assert len(raw) == 1 + 12 + 5 + 16


def test_nonce_is_random() -> None:
    codec = CookieCodec([KEY_A])
    values = {codec.seal(b"same", purpose=PURPOSE_SESSION) for _ in range(50)}
    assert len(values) == 50


def test_plaintext_does_not_show() -> None:
    value = CookieCodec([KEY_A]).seal(b"session-id-in-clear", purpose=PURPOSE_SESSION)
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    assert b"session-id-in-clear" not in raw


def test_wrong_purpose_is_none() -> None:
    codec = CookieCodec([KEY_A])
    value = codec.seal(b"payload", purpose=PURPOSE_LOGIN)
    assert codec.open(value, purpose=PURPOSE_SESSION) is None


def test_every_flipped_byte_is_none() -> None:
    codec = CookieCodec([KEY_A])
    raw = bytearray(base64.urlsafe_b64decode(codec.seal(b"0123456789abcdef", purpose=b"s") + "=="))
    for index in range(len(raw)):
        for bit in (0x01, 0x80):
            tampered = bytearray(raw)
            tampered[index] ^= bit
            text = base64.urlsafe_b64encode(bytes(tampered)).rstrip(b"=").decode()
            assert codec.open(text, purpose=b"s") is None, (index, bit)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "A",
        "AAAA",
        "AB=",
        "not base64!",
        "with space",
        "plus+slash/",
        "é" * 40,
        "\x00" * 40,
        "A" * 5000,
        base64.urlsafe_b64encode(b"\x00" * 28).decode(),  # one byte short of a minimum
        base64.urlsafe_b64encode(os.urandom(64)).rstrip(b"=").decode(),  # random junk
    ],
)
def test_malformed_values_are_none(value: str) -> None:
    assert CookieCodec([KEY_A]).open(value, purpose=PURPOSE_SESSION) is None


def test_truncated_and_extended_are_none() -> None:
    codec = CookieCodec([KEY_A])
    value = codec.seal(b"payload", purpose=PURPOSE_SESSION)
    for cut in range(1, len(value)):
        assert codec.open(value[:cut], purpose=PURPOSE_SESSION) is None
    assert codec.open(value + "AAAA", purpose=PURPOSE_SESSION) is None


def test_rotation_first_seals_all_open() -> None:
    old = CookieCodec([KEY_A])
    rotated = CookieCodec([KEY_B, KEY_A])
    from_old = old.seal(b"old", purpose=PURPOSE_SESSION)
    from_new = rotated.seal(b"new", purpose=PURPOSE_SESSION)
    assert rotated.open(from_old, purpose=PURPOSE_SESSION) == b"old"
    assert rotated.open(from_new, purpose=PURPOSE_SESSION) == b"new"
    assert old.open(from_new, purpose=PURPOSE_SESSION) is None  # sealed with the new key
    retired = CookieCodec([KEY_B])
    assert retired.open(from_old, purpose=PURPOSE_SESSION) is None


def test_key_order_does_not_strand_cookies() -> None:
    value = CookieCodec([KEY_A, KEY_B, KEY_C]).seal(b"x", purpose=PURPOSE_SESSION)
    assert CookieCodec([KEY_C, KEY_A]).open(value, purpose=PURPOSE_SESSION) == b"x"
    assert CookieCodec([KEY_B, KEY_C]).open(value, purpose=PURPOSE_SESSION) is None


def test_unknown_key_id_is_none() -> None:
    codec = CookieCodec([KEY_A])
    raw = bytearray(base64.urlsafe_b64decode(codec.seal(b"x", purpose=b"s") + "=="))
    for kid in range(256):
        raw[0] = kid
        text = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
        opened = codec.open(text, purpose=b"s")
        assert opened is None or opened == b"x"  # only the real key id opens


def test_from_secrets_any_length_from_32() -> None:
    short_ok = Secret("s" * 32)
    long_ok = Secret("a much longer configured secret " * 10)
    codec = CookieCodec.from_secrets([short_ok, long_ok])
    value = CookieCodec.from_secrets([long_ok]).seal(b"x", purpose=PURPOSE_SESSION)
    assert codec.open(value, purpose=PURPOSE_SESSION) == b"x"


def test_from_secrets_is_deterministic_across_instances() -> None:
    secret = Secret("worker processes derive the same key!")
    value = CookieCodec.from_secrets([secret]).seal(b"x", purpose=PURPOSE_SESSION)
    assert CookieCodec.from_secrets([secret]).open(value, purpose=PURPOSE_SESSION) == b"x"
    other = Secret("worker processes derive the same key?")
    assert CookieCodec.from_secrets([other]).open(value, purpose=PURPOSE_SESSION) is None


def test_short_secret_is_refused_without_showing_it() -> None:
    with pytest.raises(ValueError, match=r"#2 is 31 bytes; at least 32") as info:
        CookieCodec.from_secrets([Secret("x" * 40), Secret("hunter2-hunter2-hunter2-hunter2")])
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("keys", [[], [b"short"], [b"x" * 33], [KEY_A, KEY_A]])
def test_bad_keys_are_refused(keys: list[bytes]) -> None:
    with pytest.raises(ValueError):
        CookieCodec(keys)


def test_repr_shows_no_key() -> None:
    assert repr(CookieCodec([KEY_A, KEY_B])) == "CookieCodec(<2 key(s)>)"


def test_empty_purpose_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        CookieCodec([KEY_A]).seal(b"x", purpose=b"")


def test_session_cookie_stays_small() -> None:
    codec = CookieCodec([KEY_A])
    value = codec.seal(new_session_id().encode(), purpose=PURPOSE_SESSION)
    header = cookie_header(
        cookie_name("portcullis", secure=True), value, secure=True, max_age=8 * 3600
    )
    assert len(header) <= 512
    assert len(value) < 120


def test_cookie_name_prefix_only_when_secure() -> None:
    assert cookie_name("portcullis", secure=True) == "__Host-portcullis"
    assert cookie_name("portcullis", secure=False) == "portcullis"
    for bad in ["", "a b", "a;b", "a=b", "__Host-x"]:
        with pytest.raises(ValueError):
            cookie_name(bad, secure=True)


def test_set_cookie_secure() -> None:
    assert cookie_header("__Host-p", "abc", secure=True, max_age=3600) == (
        b"__Host-p=abc; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=3600"
    )


def test_set_cookie_plain_http_and_session_lifetime() -> None:
    assert cookie_header("p", "abc", secure=False, max_age=None, same_site="Strict") == (
        b"p=abc; Path=/; HttpOnly; SameSite=Strict"
    )


def test_clear_cookie() -> None:
    assert clear_cookie_header("__Host-p", secure=True) == (
        b"__Host-p=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0"
    )


@pytest.mark.parametrize(
    ("name", "value", "secure", "kwargs"),
    [
        ("p", "a;b", True, {}),
        ("p", "a b", True, {}),
        ("p", "a,b", True, {}),
        ("p", 'a"b', True, {}),
        ("p", "a\r\nSet-Cookie: x=y", True, {}),
        ("p;x", "a", True, {}),
        ("", "a", True, {}),
        ("__Host-p", "a", False, {}),
        ("p", "a", False, {"same_site": "None"}),
        ("p", "a", True, {"same_site": "lax"}),
        ("p", "a", True, {"max_age": -1}),
    ],
)
def test_bad_set_cookie_is_refused(
    name: str, value: str, secure: bool, kwargs: dict[str, object]
) -> None:
    args: dict[str, object] = {"max_age": None, **kwargs}
    with pytest.raises(ValueError):
        cookie_header(name, value, secure=secure, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([b"p=abc"], "abc"),
        ([b"a=1; p=abc; b=2"], "abc"),
        ([b"a=1;p=abc"], "abc"),
        ([b"  p = abc  "], "abc"),
        ([b'p="abc"'], "abc"),
        ([b"a=1", b"p=second-header"], "second-header"),
        ([b"p=first; p=second"], "first"),
        ([b"xp=1; p=2"], "2"),
        ([b"P=1; p=2"], "2"),
        ([b"garbage; =novalue; p=ok"], "ok"),
        ([b";;; p=ok;;"], "ok"),
        ([b"p="], ""),
        ([b"p=a=b"], "a=b"),
        ([b"a=1; b=2"], None),
        ([b"p"], None),
        ([], None),
        ([b"\xff\xfe=1; p=ok"], "ok"),
    ],
)
def test_read_cookie(headers: list[bytes], expected: str | None) -> None:
    assert read_cookie(headers, "p") == expected
