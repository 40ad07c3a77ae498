"""The signing-key cache: refresh policy per ENTRA.md, with an injected clock (no sleeps)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from portcullis.jose import public_jwk
from portcullis.oidc.keycache import KeyCache


class Source:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.jwks: dict[str, Any] = {"keys": [_jwk("k1")]}

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.fail:
            raise OSError("IdP down")
        return self.jwks


def _jwk(kid: str) -> dict[str, Any]:
    return public_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), kid=kid, alg="ES256")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_unknown_kid_refreshes_at_most_once_per_interval() -> None:
    now = [1000.0]
    source = Source()
    cache = KeyCache(source, clock=lambda: now[0])
    run(cache.current())
    assert source.calls == 1
    # A flood of unknown kids: the first refresh waits for the interval, then one fetch.
    now[0] += 301
    results = [run(cache.refresh_for_unknown_kid()) for _ in range(50)]
    assert results.count(True) == 1
    assert source.calls == 2
    now[0] += 299
    assert run(cache.refresh_for_unknown_kid()) is False
    assert source.calls == 2
    now[0] += 2
    source.jwks = {"keys": [_jwk("k2")]}
    assert run(cache.refresh_for_unknown_kid()) is True
    assert run(cache.current()).kids == frozenset({"k2"})


def test_periodic_refresh_and_last_known_good_keys() -> None:
    now = [0.0]
    source = Source()
    cache = KeyCache(source, clock=lambda: now[0], max_age=3600)
    first = run(cache.current())
    now[0] += 1800
    assert run(cache.current()) is first and source.calls == 1  # fresh enough
    now[0] += 1801
    source.fail = True
    assert run(cache.current()) is first  # refresh failed: last-known-good keys stay
    assert source.calls == 2
    assert run(cache.current()) is first and source.calls == 2  # backs off, no hammering


def test_no_keys_at_all_is_an_error_not_an_empty_set() -> None:
    source = Source()
    source.fail = True
    cache = KeyCache(source, clock=lambda: 0.0)
    with pytest.raises(LookupError):
        run(cache.current())
