from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portcullis.devidp import DevIdp, default_config
from portcullis.devidp.model import Client
from portcullis.jose import PrivateKey, public_jwk

CERT_CLIENT_ID = "9e1d3c5b-7a2f-4e6d-8c0b-1a3e5f7d9b21"


@pytest.fixture(scope="session")
def client_keys() -> dict[str, PrivateKey]:
    return {
        "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec-1": ec.generate_private_key(ec.SECP256R1()),
    }


@pytest.fixture(scope="session")
def idp(client_keys: dict[str, PrivateKey]) -> Iterator[DevIdp]:
    """The default demo IdP plus a client that authenticates with ``private_key_jwt``."""
    jwks = {"keys": [public_jwk(k, kid=kid, alg=None) for kid, k in client_keys.items()]}
    base = default_config()
    cert_client = Client(
        client_id=CERT_CLIENT_ID,
        name="Certificate client",
        redirect_uris=base.clients[0].redirect_uris,
        jwks=jwks,
    )
    config = dataclasses.replace(base, clients=(*base.clients, cert_client))
    with DevIdp(config) as running:
        yield running
