"""RFC 7662 introspection for opaque tokens: strict answers, cached by hash, never past exp."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from portcullis.bearer.introspection import Introspector
from portcullis.bearer.validator import BearerValidator, TokenRejected
from portcullis.config.auth_schema import Api, Provider
from portcullis.identity import Kind
from portcullis.oidc.client_auth import ClientAuth
from portcullis.oidc.provider import ProviderClient
from portcullis.secret import Secret

ISSUER = "https://idp.example"
ENDPOINT = "https://idp.example/introspect"


class StubFetcher:
    def __init__(self) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        self.posts: list[dict[str, str]] = []

    async def get_json(self, url: str) -> dict[str, Any]:
        raise AssertionError(f"nothing should be fetched, got {url}")

    async def post_form(
        self, url: str, form: dict[str, str], *, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        assert url == ENDPOINT
        assert headers and headers["Authorization"].startswith("Basic ")
        self.posts.append(form)
        return 200, self.answers.get(form["token"], {"active": False})


def _validator(now: list[float]) -> tuple[BearerValidator, StubFetcher]:
    fetcher = StubFetcher()
    provider_config = Provider.model_validate(
        {"type": "oidc", "issuer": ISSUER, "client_id": "px", "client_secret": [{"value": "s"}]}
    )
    api = Api.model_validate(
        {
            "name": "api",
            "provider": "default",
            "audiences": ["https://api.example"],
            "introspection": {
                "endpoint": ENDPOINT,
                "client_id": "px",
                "client_secret": [{"value": "introspection-secret"}],
                "cache_seconds": 60,
            },
        }
    )
    clock = lambda: now[0]  # noqa: E731
    provider = ProviderClient(
        provider_config,
        client_auth=[ClientAuth("px", "client_secret_basic", secret=Secret("s"))],
        redirect_uri="https://px/cb",
        fetcher=fetcher,  # type: ignore[arg-type]
        clock=clock,
    )
    introspector = Introspector(
        api.introspection,  # type: ignore[arg-type]
        Secret("introspection-secret"),
        issuer=ISSUER,
        audiences=api.audiences,
        user_clients=[],
        fetcher=fetcher,  # type: ignore[arg-type]
        clock=clock,
    )
    validator = BearerValidator(
        api,
        provider,
        fetcher=fetcher,
        clock=clock,
        user_clients=[],  # type: ignore[arg-type]
        introspector=introspector,
    )
    return validator, fetcher


def _check(validator: BearerValidator, token: str) -> Any:
    key, cached = validator.cached(token)
    return cached or asyncio.run(validator.validate(token, key))


def test_active_token_is_admitted_and_cached_for_cache_seconds() -> None:
    now = [1000.0]
    validator, fetcher = _validator(now)
    fetcher.answers["opaque-1"] = {
        "active": True,
        "exp": 5000,
        "aud": "https://api.example",
        "client_id": "bot",
        "sub": "bot",
        "scope": "reports.read",
    }
    principal = _check(validator, "opaque-1")
    assert principal.identity.kind is Kind.APP and principal.identity.client_id == "bot"
    _check(validator, "opaque-1")
    assert len(fetcher.posts) == 1  # the second came from the cache
    now[0] += 61
    _check(validator, "opaque-1")
    assert len(fetcher.posts) == 2  # cache_seconds passed: asked again


def test_cache_never_outlives_exp() -> None:
    now = [1000.0]
    validator, fetcher = _validator(now)
    fetcher.answers["short"] = {
        "active": True,
        "exp": 1010,
        "aud": "https://api.example",
        "sub": "u",
        "client_id": "c",
        "scope": "x",
    }
    _check(validator, "short")
    now[0] = 1010.5
    assert validator.cached("short")[1] is None


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({"active": False}, "inactive"),
        ({"active": "true", "exp": 5000, "aud": "https://api.example"}, "inactive"),
        ({"active": True, "exp": 500, "aud": "https://api.example"}, "expired"),
        ({"active": True, "aud": "https://api.example"}, "expired"),
        ({"active": True, "exp": 5000}, "bad_audience"),
        ({"active": True, "exp": 5000, "aud": "https://other.example"}, "bad_audience"),
        (
            {"active": True, "exp": 5000, "aud": "https://api.example", "iss": "https://evil"},
            "bad_issuer",
        ),
    ],
)
def test_refused_answers(answer: dict[str, Any], code: str) -> None:
    validator, fetcher = _validator([1000.0])
    fetcher.answers["t"] = answer
    with pytest.raises(TokenRejected) as err:
        _check(validator, "t")
    assert err.value.code == code
    assert "t" not in str(err.value).split()
