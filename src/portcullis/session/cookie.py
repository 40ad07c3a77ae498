"""Sealed cookies: AES-256-GCM with a random nonce, a key id, and key rotation.

A sealed value is ``base64url(key_id | nonce | AES-256-GCM(payload, aad=purpose))``
without padding: one key-id byte, a 12-byte random nonce, then the ciphertext
and its 16-byte tag. The AES key is never a configured secret itself: each
purpose (``b"session"``, ``b"login"``, ...) gets its own subkey derived with
HKDF-SHA256, and the purpose is also the associated data, so a value sealed for
one purpose never opens as another.

Rotation follows ``cryptography``'s ``MultiFernet``: the **first** key seals,
**every** key opens. The key id is derived from the key material (not its
position in the list), so reordering keys during a rotation never strands a
cookie. :meth:`CookieCodec.open` returns ``None`` on any problem — bad base64,
wrong length, unknown key, failed tag, wrong purpose — so a tampered cookie is
"no session", never an exception.

The ``Set-Cookie`` helpers always emit ``Path=/; HttpOnly; SameSite=...`` and,
over HTTPS, ``Secure`` with the ``__Host-`` name prefix (SECURITY.md item 13).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence
from typing import Final, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portcullis.secret import Secret

__all__ = [
    "KEY_SIZE",
    "MAX_SEALED_CHARS",
    "MIN_SECRET_BYTES",
    "PURPOSE_LOGIN",
    "PURPOSE_SESSION",
    "CookieCodec",
    "SameSite",
    "clear_cookie_header",
    "cookie_header",
    "cookie_name",
    "read_cookie",
]

KEY_SIZE: Final = 32
MIN_SECRET_BYTES: Final = 32
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
MAX_PAYLOAD: Final = 2048
MAX_SEALED_CHARS: Final = 4096
PURPOSE_SESSION: Final = b"session"
PURPOSE_LOGIN: Final = b"login"

_SALT: Final = b"portcullis/cookie-secret/v1"
_SUBKEY_INFO: Final = b"portcullis/cookie/aes-256-gcm/v1/"
_KEY_ID_INFO: Final = b"portcullis/cookie/key-id/v1"
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 7230 token: a valid cookie name
_COOKIE_OCTETS = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")  # RFC 6265
_HOST_PREFIX: Final = "__Host-"
_MAX_SUBKEYS: Final = 64

SameSite = Literal["Lax", "Strict", "None"]


def _hkdf(key: bytes, info: bytes, *, salt: bytes | None = None) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=info).derive(key)


class CookieCodec:
    """Seal and open short cookie payloads; the first key seals, all keys open."""

    __slots__ = ("_by_id", "_keys", "_seal_kid", "_subkeys")

    def __init__(self, keys: Sequence[bytes]) -> None:
        if isinstance(keys, bytes | str) or not keys:
            raise ValueError("CookieCodec needs a non-empty sequence of 32-byte keys")
        for index, key in enumerate(keys):
            if not isinstance(key, bytes) or len(key) != KEY_SIZE:
                raise ValueError(f"cookie key #{index + 1} must be exactly {KEY_SIZE} bytes")
        if len(set(keys)) != len(keys):
            raise ValueError("cookie keys must be distinct")
        self._keys: tuple[bytes, ...] = tuple(keys)
        self._by_id: dict[int, tuple[int, ...]] = {}
        for index, key in enumerate(self._keys):
            kid = _hkdf(key, _KEY_ID_INFO)[0]
            self._by_id[kid] = (*self._by_id.get(kid, ()), index)
        self._seal_kid = _hkdf(self._keys[0], _KEY_ID_INFO)[0]
        self._subkeys: dict[tuple[int, bytes], AESGCM] = {}

    @classmethod
    def from_secrets(cls, secrets_: Sequence[Secret[str]]) -> CookieCodec:
        """Build a codec from configured secrets (first = current), each ≥ 32 bytes of UTF-8."""
        keys: list[bytes] = []
        for index, secret in enumerate(secrets_):
            raw = secret.reveal().encode("utf-8")
            if len(raw) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"cookie secret #{index + 1} is {len(raw)} bytes; "
                    f"at least {MIN_SECRET_BYTES} are required"
                )
            keys.append(_hkdf(raw, b"portcullis/cookie-key/v1", salt=_SALT))
        return cls(keys)

    def __repr__(self) -> str:
        return f"CookieCodec(<{len(self._keys)} key(s)>)"

    def _aead(self, index: int, purpose: bytes) -> AESGCM:
        cached = self._subkeys.get((index, purpose))
        if cached is None:
            if len(self._subkeys) >= _MAX_SUBKEYS:
                self._subkeys.clear()
            cached = AESGCM(_hkdf(self._keys[index], _SUBKEY_INFO + purpose))
            self._subkeys[(index, purpose)] = cached
        return cached

    def seal(self, payload: bytes, *, purpose: bytes) -> str:
        """Encrypt and authenticate ``payload`` for ``purpose`` with the first key."""
        _check_purpose(purpose)
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"cookie payload is {len(payload)} bytes; at most {MAX_PAYLOAD}")
        nonce = secrets.token_bytes(NONCE_SIZE)
        sealed = self._aead(0, purpose).encrypt(nonce, payload, purpose)
        raw = bytes((self._seal_kid,)) + nonce + sealed
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def open(self, value: str, *, purpose: bytes) -> bytes | None:
        """The payload sealed in ``value`` for ``purpose``, or ``None`` if anything is wrong."""
        _check_purpose(purpose)
        if not isinstance(value, str) or len(value) > MAX_SEALED_CHARS:
            return None
        if not _B64URL.fullmatch(value):
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) < 1 + NONCE_SIZE + TAG_SIZE:
            return None
        nonce, sealed = raw[1 : 1 + NONCE_SIZE], raw[1 + NONCE_SIZE :]
        for index in self._by_id.get(raw[0], ()):
            try:
                return self._aead(index, purpose).decrypt(nonce, sealed, purpose)
            except (InvalidTag, ValueError):
                continue
        return None


def _check_purpose(purpose: bytes) -> None:
    if not isinstance(purpose, bytes) or not purpose:
        raise ValueError("a cookie purpose is a non-empty bytes label")


def cookie_name(base: str, *, secure: bool) -> str:
    """``__Host-<base>`` over HTTPS (host-only, Path=/, Secure enforced by browsers)."""
    if not _TOKEN.fullmatch(base) or base.startswith(_HOST_PREFIX):
        raise ValueError(f"cookie name {base!r} is not a valid base name")
    return _HOST_PREFIX + base if secure else base


def cookie_header(
    name: str,
    value: str,
    *,
    secure: bool,
    max_age: int | None,
    same_site: SameSite = "Lax",
) -> bytes:
    """The value of a ``Set-Cookie`` header (pair it with ``b"set-cookie"``).

    ``max_age=None`` makes a browser-session cookie. Never sets ``Domain``.
    """
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"cookie name {name!r} is not an RFC 7230 token")
    if not _COOKIE_OCTETS.fullmatch(value):
        raise ValueError(f"cookie {name!r}: value has characters not allowed in a cookie")
    if same_site not in ("Lax", "Strict", "None"):
        raise ValueError(f"cookie {name!r}: SameSite must be Lax, Strict or None")
    if not secure and (name.startswith(_HOST_PREFIX) or same_site == "None"):
        raise ValueError(f"cookie {name!r}: __Host- names and SameSite=None require secure")
    parts = [f"{name}={value}", "Path=/", "HttpOnly", f"SameSite={same_site}"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
            raise ValueError(f"cookie {name!r}: Max-Age must be a non-negative int")
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts).encode("ascii")


def clear_cookie_header(name: str, *, secure: bool) -> bytes:
    """A ``Set-Cookie`` value that deletes cookie ``name`` (empty value, ``Max-Age=0``)."""
    return cookie_header(name, "", secure=secure, max_age=0)


def read_cookie(cookie_header_values: Sequence[bytes], name: str) -> str | None:
    """The first value of cookie ``name`` across the ``Cookie`` header values, or ``None``.

    Splits each header on ``;`` (RFC 6265 §5.4), trims blanks, skips pairs
    without ``=`` or with an empty name, and unwraps one pair of double quotes.
    """
    for header in cookie_header_values:
        text = header.decode("latin-1")
        for pair in text.split(";"):
            key, eq, value = pair.partition("=")
            if not eq:
                continue
            key = key.strip(" \t")
            if not key or key != name:
                continue
            value = value.strip(" \t")
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
    return None
