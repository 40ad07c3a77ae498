"""Build arbitrary (hostile) compact JWS tokens, independently of portcullis.jose."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode_json(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()


def raw_sign(alg: str, key: Key | bytes, data: bytes) -> bytes:
    """Sign ``data`` the way RFC 7518 says, with no checks at all."""
    if alg.startswith("HS"):
        assert isinstance(key, bytes)
        return hmac.new(key, data, hashlib.sha256).digest()
    if isinstance(key, rsa.RSAPrivateKey):
        if alg.startswith("PS"):
            pad: padding.AsymmetricPadding = padding.PSS(
                mgf=padding.MGF1(hashes.SHA256()), salt_length=32
            )
        else:
            pad = padding.PKCS1v15()
        return key.sign(data, pad, hashes.SHA256())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def forge(
    header: dict[str, Any] | bytes,
    payload: Any,
    *,
    key: Key | bytes | None = None,
    signature: bytes | None = None,
) -> str:
    """A compact JWS with exactly this header and payload, signed by ``key`` (or not)."""
    signing_input = f"{b64(encode_json(header))}.{b64(encode_json(payload))}"
    if signature is None:
        if key is None:
            signature = b""
        else:
            alg = header["alg"] if isinstance(header, dict) else "RS256"
            signature = raw_sign(alg, key, signing_input.encode())
    return f"{signing_input}.{b64(signature)}"
