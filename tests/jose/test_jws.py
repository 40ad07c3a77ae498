"""Hostile tokens against parse() + verify(): each must fail with an exact code."""

from __future__ import annotations

import base64
import datetime
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from portcullis.jose import (
    KeySet,
    TokenError,
    UnknownKeyId,
    parse,
    public_jwk,
    sign_jws,
    verify,
)
from tests.jose.forge import b64, forge, raw_sign

ALGS = frozenset({"RS256", "PS256", "ES256"})
CLAIMS = {"iss": "https://idp.example", "sub": "alice", "aud": "api", "exp": 2_000_000_000}


@dataclass
class World:
    idp_rsa: rsa.RSAPrivateKey
    idp_ec: ec.EllipticCurvePrivateKey
    attacker: rsa.RSAPrivateKey
    attacker_ec: ec.EllipticCurvePrivateKey
    keys: KeySet  # idp_rsa as "rsa1", idp_ec as "ec1"

    def attacker_jwk(self) -> dict[str, Any]:
        return public_jwk(self.attacker, kid="rsa1", alg="RS256")

    def attacker_cert_b64(self) -> str:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example")])
        now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.attacker.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(self.attacker, hashes.SHA256())
        )
        return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()

    def rsa_pem(self) -> bytes:
        return self.idp_rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def rsa_der(self) -> bytes:
        return self.idp_rsa.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def tamper_payload(self) -> str:
        token = sign_jws(CLAIMS, self.idp_rsa, alg="RS256", kid="rsa1")
        header, _, signature = token.split(".")
        evil = b64(b'{"iss":"https://idp.example","sub":"admin","aud":"api","exp":2000000000}')
        return f"{header}.{evil}.{signature}"

    def flip_signature_bit(self) -> str:
        token = sign_jws(CLAIMS, self.idp_ec, alg="ES256", kid="ec1")
        head, payload, sig = token.split(".")
        raw = bytearray(_dec(sig))
        raw[-1] ^= 1
        return f"{head}.{payload}.{b64(bytes(raw))}"

    def swap_header(self) -> str:
        token = sign_jws(CLAIMS, self.idp_rsa, alg="RS256", kid="rsa1")
        _, payload, sig = token.split(".")
        other = b64(b'{"alg":"RS256","kid":"rsa1","typ":"at+jwt"}')
        return f"{other}.{payload}.{sig}"

    def es256_der_signature(self) -> str:
        header = {"alg": "ES256", "kid": "ec1"}
        unsigned = forge(header, CLAIMS, signature=b"")
        signing_input = unsigned.rsplit(".", 1)[0].encode()
        der = self.idp_ec.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        return forge(header, CLAIMS, signature=der)


def _dec(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.fixture(scope="module")
def world(
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
    attacker_rsa: rsa.RSAPrivateKey,
    attacker_ec: ec.EllipticCurvePrivateKey,
) -> World:
    keys = KeySet.from_jwks(
        {
            "keys": [
                public_jwk(rsa_key, kid="rsa1", alg=None),
                public_jwk(ec_key, kid="ec1", alg=None),
            ]
        }
    )
    return World(rsa_key, ec_key, attacker_rsa, attacker_ec, keys)


Case = tuple[str, Callable[[World], str], str]

HOSTILE: list[Case] = [
    # RFC 8725 §2.1 / §3.1: algorithm "none", in every spelling, with or without a signature.
    ("none-unsigned", lambda w: forge({"alg": "none"}, CLAIMS), "alg_not_allowed"),
    ("none-kid", lambda w: forge({"alg": "none", "kid": "rsa1"}, CLAIMS), "alg_not_allowed"),
    ("None", lambda w: forge({"alg": "None"}, CLAIMS), "alg_not_allowed"),
    ("NONE", lambda w: forge({"alg": "NONE"}, CLAIMS), "alg_not_allowed"),
    (
        "none-with-signature",
        lambda w: forge({"alg": "none"}, CLAIMS, signature=raw_sign("RS256", w.idp_rsa, b"x")),
        "alg_not_allowed",
    ),
    # Key confusion: HS256 with the RSA public key as the HMAC secret.
    (
        "hs256-rsa-pem",
        lambda w: forge({"alg": "HS256", "kid": "rsa1"}, CLAIMS, key=w.rsa_pem()),
        "alg_not_allowed",
    ),
    (
        "hs256-rsa-der",
        lambda w: forge({"alg": "HS256"}, CLAIMS, key=w.rsa_der()),
        "alg_not_allowed",
    ),
    ("hs384", lambda w: forge({"alg": "HS384"}, CLAIMS, key=b"k"), "alg_not_allowed"),
    ("rs384-not-listed", lambda w: sign_jws(CLAIMS, w.idp_rsa, alg="RS384"), "alg_not_allowed"),
    (
        "lowercase-rs256",
        lambda w: forge({"alg": "rs256"}, CLAIMS, key=w.idp_rsa),
        "alg_not_allowed",
    ),
    # Key type must match the algorithm.
    (
        "rs256-with-ec-kid",
        lambda w: forge({"alg": "RS256", "kid": "ec1"}, CLAIMS, signature=b"\x01" * 256),
        "key_mismatch",
    ),
    (
        "es256-with-rsa-kid",
        lambda w: forge({"alg": "ES256", "kid": "rsa1"}, CLAIMS, key=w.idp_ec),
        "key_mismatch",
    ),
    (
        "ps256-with-ec-kid",
        lambda w: forge({"alg": "PS256", "kid": "ec1"}, CLAIMS, signature=b"\x01" * 256),
        "key_mismatch",
    ),
    # kid handling.
    ("unknown-kid", lambda w: sign_jws(CLAIMS, w.idp_rsa, alg="RS256", kid="rsa9"), "unknown_kid"),
    ("kid-case", lambda w: sign_jws(CLAIMS, w.idp_rsa, alg="RS256", kid="RSA1"), "unknown_kid"),
    ("kid-path", lambda w: sign_jws(CLAIMS, w.idp_rsa, alg="RS256", kid="../rsa1"), "unknown_kid"),
    # Embedded keys and key URLs are never trusted: the attacker's own signature fails.
    (
        "embedded-jwk",
        lambda w: forge(
            {"alg": "RS256", "kid": "rsa1", "jwk": w.attacker_jwk()}, CLAIMS, key=w.attacker
        ),
        "bad_signature",
    ),
    (
        "embedded-jwk-ec",
        lambda w: forge(
            {"alg": "ES256", "jwk": public_jwk(w.attacker_ec, kid=None, alg="ES256")},
            CLAIMS,
            key=w.attacker_ec,
        ),
        "bad_signature",
    ),
    (
        "jku",
        lambda w: forge(
            {"alg": "RS256", "kid": "rsa1", "jku": "https://evil.example/jwks.json"},
            CLAIMS,
            key=w.attacker,
        ),
        "bad_signature",
    ),
    (
        "x5u",
        lambda w: forge(
            {"alg": "RS256", "kid": "rsa1", "x5u": "https://evil.example/cert.pem"},
            CLAIMS,
            key=w.attacker,
        ),
        "bad_signature",
    ),
    (
        "x5c",
        lambda w: forge(
            {"alg": "RS256", "kid": "rsa1", "x5c": [w.attacker_cert_b64()]},
            CLAIMS,
            key=w.attacker,
        ),
        "bad_signature",
    ),
    (
        "jku-unknown-kid",
        lambda w: forge(
            {"alg": "RS256", "kid": "evil", "jku": "https://evil.example/jwks.json"},
            CLAIMS,
            key=w.attacker,
        ),
        "unknown_kid",
    ),
    # crit: no extension is understood.
    (
        "crit",
        lambda w: forge(
            {"alg": "RS256", "kid": "rsa1", "crit": ["exp"], "exp": 1}, CLAIMS, key=w.idp_rsa
        ),
        "crit_unsupported",
    ),
    (
        "crit-b64",
        lambda w: forge(
            {"alg": "RS256", "kid": "rsa1", "crit": ["b64"], "b64": False}, CLAIMS, key=w.idp_rsa
        ),
        "crit_unsupported",
    ),
    (
        "crit-empty",
        lambda w: forge({"alg": "ES256", "crit": []}, CLAIMS, key=w.idp_ec),
        "crit_unsupported",
    ),
    # Tampering.
    ("tampered-payload", lambda w: w.tamper_payload(), "bad_signature"),
    ("tampered-signature", lambda w: w.flip_signature_bit(), "bad_signature"),
    ("tampered-header", lambda w: w.swap_header(), "bad_signature"),
    ("es256-der-signature", lambda w: w.es256_der_signature(), "bad_signature"),
    (
        "es256-short-signature",
        lambda w: forge({"alg": "ES256", "kid": "ec1"}, CLAIMS, signature=b"\x01" * 63),
        "bad_signature",
    ),
    (
        "es256-zero-signature",
        lambda w: forge({"alg": "ES256", "kid": "ec1"}, CLAIMS, signature=b"\x00" * 64),
        "bad_signature",
    ),
    (
        "es256-r-above-order",
        lambda w: forge({"alg": "ES256", "kid": "ec1"}, CLAIMS, signature=b"\xff" * 64),
        "bad_signature",
    ),
    (
        "rs256-truncated-signature",
        lambda w: forge({"alg": "RS256", "kid": "rsa1"}, CLAIMS, signature=b"\x01" * 255),
        "bad_signature",
    ),
    (
        "rs256-empty-signature",
        lambda w: forge({"alg": "RS256", "kid": "rsa1"}, CLAIMS),
        "bad_signature",
    ),
    (
        "ps256-signed-claimed-rs256",
        lambda w: forge(
            {"alg": "RS256", "kid": "rsa1"},
            CLAIMS,
            signature=raw_sign(
                "PS256",
                w.idp_rsa,
                forge({"alg": "RS256", "kid": "rsa1"}, CLAIMS).rsplit(".", 1)[0].encode(),
            ),
        ),
        "bad_signature",
    ),
    (
        "wrong-key-same-kid",
        lambda w: sign_jws(CLAIMS, w.attacker, alg="RS256", kid="rsa1"),
        "bad_signature",
    ),
    # Payload must be a JSON object, even when properly signed.
    (
        "payload-array",
        lambda w: forge({"alg": "RS256", "kid": "rsa1"}, [CLAIMS], key=w.idp_rsa),
        "malformed",
    ),
    (
        "payload-string",
        lambda w: forge({"alg": "RS256", "kid": "rsa1"}, "sub", key=w.idp_rsa),
        "malformed",
    ),
    (
        "payload-not-json",
        lambda w: forge({"alg": "RS256", "kid": "rsa1"}, b"{sub:", key=w.idp_rsa),
        "malformed",
    ),
    (
        "payload-duplicate-sub",
        lambda w: forge(
            {"alg": "RS256", "kid": "rsa1"}, b'{"sub":"alice","sub":"admin"}', key=w.idp_rsa
        ),
        "malformed",
    ),
    (
        "payload-nan",
        lambda w: forge({"alg": "RS256", "kid": "rsa1"}, b'{"exp":NaN}', key=w.idp_rsa),
        "malformed",
    ),
    (
        "payload-latin1",
        lambda w: forge(
            {"alg": "RS256", "kid": "rsa1"}, '{"n":"\xe9"}'.encode("latin-1"), key=w.idp_rsa
        ),
        "malformed",
    ),
]


@pytest.mark.parametrize(("name", "make", "code"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_token(world: World, name: str, make: Callable[[World], str], code: str) -> None:
    token = make(world)
    with pytest.raises(TokenError) as caught:
        verify(parse(token), world.keys, algorithms=ALGS)
    assert caught.value.code == code
    # Errors never echo the token or any part of it.
    for part in token.split("."):
        if len(part) > 8:
            assert part not in str(caught.value)
            assert part not in repr(caught.value)


def test_unknown_kid_is_its_own_type(world: World) -> None:
    with pytest.raises(UnknownKeyId) as caught:
        verify(
            parse(sign_jws(CLAIMS, world.idp_rsa, alg="RS256", kid="new")),
            world.keys,
            algorithms=ALGS,
        )
    assert caught.value.claim == "kid"
    # After the caller refreshes its JWKS, the same token verifies.
    refreshed = KeySet.from_jwks({"keys": [public_jwk(world.idp_rsa, kid="new", alg="RS256")]})
    token = sign_jws(CLAIMS, world.idp_rsa, alg="RS256", kid="new")
    assert verify(parse(token), refreshed, algorithms=ALGS) == CLAIMS


def test_no_kid_with_one_fitting_key_uses_it(world: World) -> None:
    for key, alg in ((world.idp_rsa, "RS256"), (world.idp_rsa, "PS256"), (world.idp_ec, "ES256")):
        assert verify(parse(sign_jws(CLAIMS, key, alg=alg)), world.keys, algorithms=ALGS) == CLAIMS


def test_no_kid_with_several_keys_is_ambiguous(world: World, rsa_key2: rsa.RSAPrivateKey) -> None:
    keys = KeySet.from_jwks(
        {
            "keys": [
                public_jwk(world.idp_rsa, kid="a", alg=None),
                public_jwk(rsa_key2, kid="b", alg=None),
            ]
        }
    )
    with pytest.raises(TokenError) as caught:
        verify(parse(sign_jws(CLAIMS, world.idp_rsa, alg="RS256")), keys, algorithms=ALGS)
    assert caught.value.code == "ambiguous_key"


def test_duplicate_kid_is_ambiguous(world: World, rsa_key2: rsa.RSAPrivateKey) -> None:
    keys = KeySet.from_jwks(
        {
            "keys": [
                public_jwk(world.idp_rsa, kid="a", alg=None),
                public_jwk(rsa_key2, kid="a", alg=None),
            ]
        }
    )
    with pytest.raises(TokenError) as caught:
        verify(parse(sign_jws(CLAIMS, world.idp_rsa, alg="RS256", kid="a")), keys, algorithms=ALGS)
    assert caught.value.code == "ambiguous_key"


def test_no_kid_and_no_fitting_key(world: World) -> None:
    only_ec = KeySet.from_jwks({"keys": [public_jwk(world.idp_ec, kid="e", alg=None)]})
    with pytest.raises(UnknownKeyId):
        verify(parse(sign_jws(CLAIMS, world.idp_rsa, alg="RS256")), only_ec, algorithms=ALGS)


def test_allowlist_decides(world: World) -> None:
    token = parse(sign_jws(CLAIMS, world.idp_ec, alg="ES256", kid="ec1"))
    with pytest.raises(TokenError) as caught:
        verify(token, world.keys, algorithms=frozenset({"RS256"}))
    assert caught.value.code == "alg_not_allowed"
    assert caught.value.claim == "alg"


@pytest.mark.parametrize(
    "algorithms",
    [frozenset(), frozenset({"HS256"}), frozenset({"RS256", "none"}), frozenset({"rs256"})],
)
def test_allowlist_cannot_name_unsupported_algorithms(
    world: World, algorithms: frozenset[str]
) -> None:
    token = parse(sign_jws(CLAIMS, world.idp_rsa, alg="RS256", kid="rsa1"))
    with pytest.raises(ValueError):
        verify(token, world.keys, algorithms=algorithms)


def test_nothing_named_by_the_token_is_fetched(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    header = {
        "alg": "RS256",
        "jku": "https://evil.example/jwks.json",
        "x5u": "https://evil.example/c.pem",
        "kid": "rsa1",
    }
    with pytest.raises(TokenError) as caught:
        verify(parse(forge(header, CLAIMS, key=world.attacker)), world.keys, algorithms=ALGS)
    assert caught.value.code == "bad_signature"
    # And a genuine token carrying those headers still verifies, with the configured key.
    assert (
        verify(parse(forge(header, CLAIMS, key=world.idp_rsa)), world.keys, algorithms=ALGS)
        == CLAIMS
    )


# ---- parse(): syntax and size, before any trust decision ----


def _h(header: bytes) -> str:
    return b64(header) + ".e30.AAAA"


MALFORMED: list[tuple[str, str]] = [
    ("empty", ""),
    ("one-part", "abc"),
    ("two-parts", "eyJhbGciOiJSUzI1NiJ9.e30"),
    ("four-parts", "eyJhbGciOiJSUzI1NiJ9.e30.e30.e30"),
    ("jwe-five-parts", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"),
    ("empty-header", ".e30.sig"),
    ("empty-payload", "eyJhbGciOiJSUzI1NiJ9..sig"),
    ("padding", "eyJhbGciOiJSUzI1NiJ9.e30=.AAAA"),
    ("std-alphabet", "eyJhbGciOiJSUzI1NiJ9.e30.ab+/"),
    ("whitespace", "eyJhbGciOiJSUzI1NiJ9 .e30.AAAA"),
    ("newline", "eyJhbGciOiJSUzI1NiJ9.e30\n.AAAA"),
    ("bad-length", "eyJhbGciOiJSUzI1NiJ9.e30.AAAAA"),
    ("non-canonical-bits", "eyJhbGciOiJSUzI1NiJ9.e31.AAAA"),
    ("non-ascii", "eyJhbGciOiJSUzI1NiJ9.e30.ÀÀÀÀ"),
    ("header-not-json", _h(b"{alg:RS256}")),
    ("header-array", _h(b"[1]")),
    ("header-no-alg", _h(b"{}")),
    ("header-alg-null", _h(b'{"alg":null}')),
    ("header-alg-list", _h(b'{"alg":["RS256"]}')),
    ("header-alg-empty", _h(b'{"alg":""}')),
    ("header-kid-number", _h(b'{"alg":"RS256","kid":1}')),
    ("header-duplicate-alg", _h(b'{"alg":"RS256","alg":"none"}')),
    ("header-utf16", _h('{"alg":"RS256"}'.encode("utf-16"))),
    ("header-bad-utf8", _h(b'{"alg":"\xff"}')),
    ("header-infinity", _h(b'{"alg":"RS256","x":Infinity}')),
]


@pytest.mark.parametrize(("name", "token"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed(name: str, token: str) -> None:
    with pytest.raises(TokenError) as caught:
        parse(token)
    assert caught.value.code == "malformed"


def test_not_a_string() -> None:
    with pytest.raises(TokenError) as caught:
        parse(b"eyJ.e30.AAAA")  # type: ignore[arg-type]
    assert caught.value.code == "malformed"


def test_oversize_rejected_before_decoding() -> None:
    # Garbage that would be "malformed" if anything looked at it.
    with pytest.raises(TokenError) as caught:
        parse("!" * 16385)
    assert caught.value.code == "too_large"
    with pytest.raises(TokenError) as caught:
        parse("!" * 101, max_bytes=100)
    assert caught.value.code == "too_large"
    parse(forge({"alg": "RS256"}, {"p": "x" * 100}), max_bytes=16384)


def test_oversize_header_rejected_before_decoding() -> None:
    with pytest.raises(TokenError) as caught:
        parse("!" * 4097 + ".e30.AAAA")
    assert caught.value.code == "too_large"
    assert caught.value.claim == "header"


def test_parse_exposes_header_not_trust(world: World) -> None:
    token = sign_jws(CLAIMS, world.idp_rsa, alg="RS256", kid="rsa1")
    jws = parse(token)
    assert jws.alg == "RS256" and jws.kid == "rsa1"
    assert jws.unverified_claims() == CLAIMS
    assert token.split(".")[1] not in repr(jws) and "alice" not in repr(jws)


# ---- RFC 7515 Appendix A vectors ----

RFC7515_A2_JWK = {
    "kty": "RSA",
    "n": (
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4Q"
        "lL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBY"
        "UsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNm"
        "oudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
    ),
    "e": "AQAB",
}
RFC7515_A2_TOKEN = (
    "eyJhbGciOiJSUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujG"
    "bds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6"
    "LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
)
RFC7515_A3_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}
RFC7515_A3_TOKEN = (
    "eyJhbGciOiJFUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
)
RFC7515_CLAIMS = {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}


@pytest.mark.parametrize(
    ("jwk", "token", "alg"),
    [(RFC7515_A2_JWK, RFC7515_A2_TOKEN, "RS256"), (RFC7515_A3_JWK, RFC7515_A3_TOKEN, "ES256")],
    ids=["A.2-RS256", "A.3-ES256"],
)
def test_rfc7515_vectors(jwk: dict[str, str], token: str, alg: str) -> None:
    keys = KeySet.from_jwks({"keys": [jwk]})
    assert verify(parse(token), keys, algorithms=frozenset({alg})) == RFC7515_CLAIMS
    head, payload, sig = token.split(".")
    bad_sig = bytearray(_dec(sig))
    bad_sig[0] ^= 0x80
    with pytest.raises(TokenError) as caught:
        verify(parse(f"{head}.{payload}.{b64(bytes(bad_sig))}"), keys, algorithms=frozenset({alg}))
    assert caught.value.code == "bad_signature"


def test_deeply_nested_json_is_malformed_not_a_crash(world: World) -> None:
    deep = b"[" * 12000 + b"]" * 12000
    token = forge({"alg": "RS256", "kid": "rsa1"}, deep, key=world.idp_rsa)
    with pytest.raises(TokenError) as caught:
        verify(parse(token, max_bytes=65536), world.keys, algorithms=ALGS)
    assert caught.value.code == "malformed"
