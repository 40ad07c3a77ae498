"""The JWS algorithms Portcullis implements (RFC 7518 §3), as one table.

Only asymmetric algorithms exist here. ``none`` and every ``HS*`` are absent on
purpose: there is no code path that would treat a public key as an HMAC secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

__all__ = ["ALGORITHMS", "MIN_RSA_BITS", "Algorithm"]

MIN_RSA_BITS = 2048  # RFC 7518 §3.3


@dataclass(frozen=True, slots=True)
class Algorithm:
    name: str
    kty: Literal["RSA", "EC"]
    hash: type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]
    pss: bool = False
    curve: type[ec.EllipticCurve] | None = None  # EC only
    crv: str | None = None  # JWK curve name, EC only
    coord_size: int = 0  # bytes per EC coordinate / per r and s

    def fits(self, key: PublicKeyTypes) -> bool:
        """Whether ``key`` is the right type (and curve) for this algorithm."""
        if self.kty == "RSA":
            return isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS
        return (
            isinstance(key, ec.EllipticCurvePublicKey)
            and self.curve is not None
            and isinstance(key.curve, self.curve)
        )

    def rsa_padding(self) -> padding.AsymmetricPadding:
        if self.pss:
            # RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
            h = self.hash()
            return padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
        return padding.PKCS1v15()

    def raw_to_der(self, signature: bytes) -> bytes | None:
        """JWS ``r || s`` to DER for ``cryptography``; ``None`` if the length is wrong."""
        n = self.coord_size
        if len(signature) != 2 * n:
            return None
        r = int.from_bytes(signature[:n], "big")
        s = int.from_bytes(signature[n:], "big")
        return utils.encode_dss_signature(r, s)

    def der_to_raw(self, der: bytes) -> bytes:
        r, s = utils.decode_dss_signature(der)
        return r.to_bytes(self.coord_size, "big") + s.to_bytes(self.coord_size, "big")


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("RS256", "RSA", hashes.SHA256),
        Algorithm("RS384", "RSA", hashes.SHA384),
        Algorithm("RS512", "RSA", hashes.SHA512),
        Algorithm("PS256", "RSA", hashes.SHA256, pss=True),
        Algorithm("PS384", "RSA", hashes.SHA384, pss=True),
        Algorithm("PS512", "RSA", hashes.SHA512, pss=True),
        Algorithm("ES256", "EC", hashes.SHA256, curve=ec.SECP256R1, crv="P-256", coord_size=32),
        Algorithm("ES384", "EC", hashes.SHA384, curve=ec.SECP384R1, crv="P-384", coord_size=48),
        Algorithm("ES512", "EC", hashes.SHA512, curve=ec.SECP521R1, crv="P-521", coord_size=66),
    )
}
