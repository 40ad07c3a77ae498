"""How Portcullis authenticates itself at the token endpoint.

``client_secret_basic`` (RFC 6749 2.3.1: form-urlencoded id and secret in HTTP
Basic), ``client_secret_post``, and ``private_key_jwt`` (RFC 7523: a short-lived
signed assertion; with a certificate, Entra's ``x5t#S256`` header).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from portcullis.jose import PrivateKey, jwk_thumbprint, public_jwk, sign_jws, x5t_s256
from portcullis.secret import Secret

__all__ = ["ClientAuth", "load_signing_key"]

_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ASSERTION_LIFETIME = 300


def load_signing_key(pem: Secret[str]) -> PrivateKey:
    key = load_pem_private_key(pem.reveal().encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("the private key must be RSA or EC P-256")
    return key


@dataclass(frozen=True)
class ClientAuth:
    """Credentials for one client; ``form_and_headers`` adds them to a token request."""

    client_id: str
    method: str
    secret: Secret[str] | None = None
    key: PrivateKey | None = None
    certificate_pem: bytes | None = None

    @classmethod
    def from_config(
        cls,
        client_id: str,
        method: str,
        secrets_: Sequence[Secret[str]],
        keys: Sequence[Secret[str]],
        certificate_pem: bytes | None,
    ) -> tuple[ClientAuth, ...]:
        """One credential per configured secret or key, in order: the first is tried first."""
        if method == "private_key_jwt":
            first, *others = keys
            return (
                cls(
                    client_id, method, key=load_signing_key(first), certificate_pem=certificate_pem
                ),
                *(cls(client_id, method, key=load_signing_key(k)) for k in others),
            )
        return tuple(cls(client_id, method, secret=s) for s in secrets_)

    def form_and_headers(
        self, token_endpoint: str, *, now: float
    ) -> tuple[dict[str, str], dict[str, str]]:
        if self.method == "client_secret_basic":
            assert self.secret is not None
            pair = f"{quote(self.client_id, safe='')}:{quote(self.secret.reveal(), safe='')}"
            basic = base64.b64encode(pair.encode()).decode()
            return {}, {"Authorization": f"Basic {basic}"}
        if self.method == "client_secret_post":
            assert self.secret is not None
            return {"client_id": self.client_id, "client_secret": self.secret.reveal()}, {}
        return {
            "client_id": self.client_id,
            "client_assertion_type": _ASSERTION_TYPE,
            "client_assertion": self._assertion(token_endpoint, now),
        }, {}

    def _assertion(self, token_endpoint: str, now: float) -> str:
        assert self.key is not None
        alg = "ES256" if isinstance(self.key, ec.EllipticCurvePrivateKey) else "RS256"
        header: dict[str, str] = {}
        kid = jwk_thumbprint(public_jwk(self.key, kid=None, alg=alg))
        if self.certificate_pem is not None:
            cert = x509.load_pem_x509_certificate(self.certificate_pem)
            header["x5t#S256"] = x5t_s256(cert.public_bytes(Encoding.DER))
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": token_endpoint,
            "jti": secrets.token_urlsafe(24),
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + _ASSERTION_LIFETIME,
        }
        return sign_jws(claims, self.key, alg=alg, kid=kid, extra_header=header or None)
