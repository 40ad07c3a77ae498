from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portcullis.devidp import DevIdp, default_config
from portcullis.devidp.defaults import DEMO_API_ID
from portcullis.devidp.model import Client
from portcullis.jose import PrivateKey, public_jwk
from portcullis.secret import Secret

CERT_CLIENT_ID = "9e1d3c5b-7a2f-4e6d-8c0b-1a3e5f7d9b21"
# The demo API's own app registration as a confidential client: the middle tier of OBO chains.
MIDDLE_TIER_SECRET = "demo-api-middle-tier-secret"


@pytest.fixture(scope="session")
def client_keys() -> dict[str, PrivateKey]:
    return {
        "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec-1": ec.generate_private_key(ec.SECP256R1()),
    }


@pytest.fixture(scope="session")
def idp(client_keys: dict[str, PrivateKey]) -> Iterator[DevIdp]:
    """The demo IdP plus a ``private_key_jwt`` client (granted ``Reports.Write``) and the
    demo API as a client of its own (the middle tier for on-behalf-of)."""
    jwks = {"keys": [public_jwk(k, kid=kid, alg=None) for kid, k in client_keys.items()]}
    base = default_config()
    cert_client = Client(
        client_id=CERT_CLIENT_ID,
        name="Certificate client",
        redirect_uris=base.clients[0].redirect_uris,
        jwks=jwks,
    )
    middle_tier = Client(client_id=DEMO_API_ID, secret=Secret(MIDDLE_TIER_SECRET))
    grants = {**base.grants, CERT_CLIENT_ID: {DEMO_API_ID: ("Reports.Write",)}}
    config = dataclasses.replace(
        base, clients=(*base.clients, cert_client, middle_tier), grants=grants
    )
    with DevIdp(config) as running:
        yield running
