"""Identity-provider checks against the in-process dev IdP and a broken stand-in."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest

from portcullis.config.auth_schema import Provider
from portcullis.devidp import DevIdp
from portcullis.doctor.idp import check_provider, clock_check
from portcullis.doctor.report import Check, Status
from tests.doctor.support import closed_port, http_server


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdp]:
    with DevIdp() as running:
        yield running


def entra(idp: DevIdp, **extra: object) -> Provider:
    return Provider.model_validate(
        {
            "type": "entra",
            "tenant": idp.tenant_id,
            "authority_host": idp.url,
            "client_id": idp.config.clients[0].client_id,
            **extra,
        }
    )


def run(provider: Provider, clock: float = 0.0) -> list[Check]:
    return asyncio.run(check_provider(provider, timeout=2, clock=lambda: time.time() + clock))


def test_a_working_provider(idp: DevIdp) -> None:
    discovery, keys, clock = run(entra(idp))
    assert discovery == Check(
        "idp default: discovery",
        Status.OK,
        f"{idp.discovery_url} answers; issuer {idp.issuer}",
    )
    assert keys.status is Status.OK and keys.detail.endswith(": 1 key")
    assert clock.status is Status.OK
    assert "agrees with this one within 1 s" in clock.detail


def test_an_unreachable_provider_fails_at_discovery() -> None:
    provider = Provider.model_validate(
        {"type": "oidc", "issuer": f"http://127.0.0.1:{closed_port()}", "client_id": "x"}
    )
    [check] = run(provider)
    assert check.status is Status.FAIL
    assert check.name == "idp default: discovery"
    assert "ConnectError" in check.detail


def test_an_issuer_that_differs_fails(idp: DevIdp) -> None:
    # Same server under another name: OpenID discovery must name exactly the issuer asked.
    other = idp.issuer.replace("127.0.0.1", "localhost")
    provider = Provider.model_validate({"type": "oidc", "issuer": other, "client_id": "x"})
    [check] = run(provider)
    assert check.status is Status.FAIL
    assert check.detail == f"discovery: issuer {idp.issuer} is not {other}"


def test_unavailable_keys_fail() -> None:
    documents: dict[str, bytes] = {}
    with http_server(documents) as url:
        documents["/.well-known/openid-configuration"] = json.dumps(
            {
                "issuer": url,
                "authorization_endpoint": f"{url}/authorize",
                "token_endpoint": f"{url}/token",
                "jwks_uri": f"{url}/keys",
            }
        ).encode()
        provider = Provider.model_validate({"type": "oidc", "issuer": url, "client_id": "x"})
        discovery, keys, _ = run(provider)
        documents["/keys"] = b'{"keys": []}'
        _, empty, _ = run(provider)
    assert discovery.status is Status.OK
    assert keys == Check("idp default: keys", Status.FAIL, f"{url}/keys: GET {url}/keys: HTTP 404")
    assert empty == Check("idp default: keys", Status.FAIL, f"{url}/keys lists no keys")


@pytest.mark.parametrize(
    ("ours_ahead_by", "status"), [(-45, Status.WARN), (45, Status.WARN), (120, Status.FAIL)]
)
def test_a_clock_that_drifted(idp: DevIdp, ours_ahead_by: float, status: Status) -> None:
    _, _, clock = run(entra(idp), clock=ours_ahead_by)
    assert clock.status is status, clock
    direction = "behind" if ours_ahead_by > 0 else "ahead of"
    assert f"s {direction} this one (clock_skew 60 s)" in clock.detail


def test_clock_thresholds() -> None:
    assert clock_check("x", None, skew=60).status is Status.WARN
    assert clock_check("x", 31.0, skew=60).status is Status.OK  # a date is ±1 s
    assert clock_check("x", 32.5, skew=60).status is Status.WARN
    assert clock_check("x", -61.0, skew=60).status is Status.WARN
    assert clock_check("x", -62.5, skew=60).status is Status.FAIL
