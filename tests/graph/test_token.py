"""App-only Graph tokens: client credentials, caching per tenant, one refresh at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from portcullis.graph import GraphTokens
from portcullis.oidc.client_auth import ClientAuth
from portcullis.oidc.fetch import Fetcher, IdpUnavailable
from portcullis.secret import Secret
from tests.graph.conftest import Clock, secret_auth
from tests.support.graph_standin import CLIENT_ID, CLIENT_SECRET, TENANT, GraphStandIn

OTHER_TENANT = "99999999-9999-4999-8999-999999999999"


def _tokens(
    standin: GraphStandIn,
    fetcher: Fetcher,
    clock: Clock,
    auth: Sequence[ClientAuth] | None = None,
    graph_base: str | None = None,
) -> GraphTokens:
    return GraphTokens(
        authority_host=standin.url,
        graph_base=graph_base or standin.url,
        client_auth=auth or (secret_auth(),),
        fetcher=fetcher,
        clock=clock,
    )


def test_the_token_is_cached_until_five_minutes_before_it_expires(standin: GraphStandIn) -> None:
    clock = Clock()

    async def main() -> None:
        fetcher = Fetcher()
        tokens = _tokens(standin, fetcher, clock)
        first = await tokens.get(TENANT)
        clock.advance(3599 - 300 - 1)
        assert await tokens.get(TENANT) is first
        assert standin.token_calls == 1
        clock.advance(1)
        assert await tokens.get(TENANT) != first
        assert standin.token_calls == 2 == tokens.fetches
        await fetcher.close()

    asyncio.run(main())
    form = standin.token_forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == f"{standin.url}/.default"


def test_a_short_lived_token_is_refreshed_at_half_its_lifetime(standin: GraphStandIn) -> None:
    standin.expires_in = 120
    clock = Clock()

    async def main() -> None:
        fetcher = Fetcher()
        tokens = _tokens(standin, fetcher, clock)
        await tokens.get(TENANT)
        clock.advance(59)
        await tokens.get(TENANT)
        assert standin.token_calls == 1
        clock.advance(1)
        await tokens.get(TENANT)
        assert standin.token_calls == 2
        await fetcher.close()

    asyncio.run(main())


def test_one_refresh_in_flight_per_tenant(standin: GraphStandIn) -> None:
    standin.tenants.add(OTHER_TENANT)

    async def main() -> None:
        fetcher = Fetcher()
        tokens = _tokens(standin, fetcher, Clock())
        results = await asyncio.gather(
            *(tokens.get(TENANT) for _ in range(10)), tokens.get(OTHER_TENANT)
        )
        assert len({r.reveal() for r in results[:10]}) == 1
        assert results[10] != results[0]
        await fetcher.close()

    asyncio.run(main())
    assert standin.token_calls == 2  # one per tenant
    assert sorted(standin.issued.values()) == sorted([TENANT, OTHER_TENANT])


def test_invalidate_drops_only_the_refused_token(standin: GraphStandIn) -> None:
    async def main() -> None:
        fetcher = Fetcher()
        tokens = _tokens(standin, fetcher, Clock())
        first = await tokens.get(TENANT)
        tokens.invalidate(TENANT, first)
        second = await tokens.get(TENANT)
        assert second != first
        tokens.invalidate(TENANT, first)  # a late 401 for the old token: the new one stays
        assert await tokens.get(TENANT) is second
        await fetcher.close()

    asyncio.run(main())
    assert standin.token_calls == 2


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_secret_methods(standin: GraphStandIn, method: str) -> None:
    async def main() -> None:
        fetcher = Fetcher()
        tokens = _tokens(standin, fetcher, Clock(), auth=(secret_auth(method=method),))
        assert (await tokens.get(TENANT)).reveal() in standin.issued
        await fetcher.close()

    asyncio.run(main())


def test_private_key_jwt(standin: GraphStandIn) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    standin.keys[CLIENT_ID] = key.public_key()

    async def main() -> None:
        fetcher = Fetcher()
        auth = (ClientAuth(CLIENT_ID, "private_key_jwt", key=key),)
        tokens = _tokens(standin, fetcher, Clock(), auth=auth)
        assert (await tokens.get(TENANT)).reveal() in standin.issued
        await fetcher.close()

    asyncio.run(main())
    assert "client_secret" not in standin.token_forms[0]


def test_a_refused_credential_is_skipped_for_the_next(standin: GraphStandIn) -> None:
    async def main() -> None:
        fetcher = Fetcher()
        auth = (secret_auth("expired-secret"), secret_auth(CLIENT_SECRET))
        tokens = _tokens(standin, fetcher, Clock(), auth=auth)
        await tokens.get(TENANT)
        await fetcher.close()

    asyncio.run(main())
    assert standin.token_calls == 2


def test_refusals_raise_without_naming_the_secret(standin: GraphStandIn) -> None:
    standin.scope = "https://graph.microsoft.com/.default"  # expects another Graph

    async def main() -> None:
        fetcher = Fetcher()
        tokens = _tokens(standin, fetcher, Clock())
        with pytest.raises(IdpUnavailable) as caught:
            await tokens.get(TENANT)
        assert "invalid_scope" in str(caught.value)
        assert CLIENT_SECRET not in str(caught.value) and CLIENT_SECRET not in repr(tokens)
        await fetcher.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("expires_in", "ok"), [("3599", True), ("soon", False), (0, False), (-5, False)]
)
def test_the_token_response_is_checked(
    standin: GraphStandIn, expires_in: int | str, ok: bool
) -> None:
    standin.expires_in = expires_in

    async def main() -> None:
        fetcher = Fetcher()
        tokens = _tokens(standin, fetcher, Clock())
        if ok:
            await tokens.get(TENANT)
        else:
            with pytest.raises(IdpUnavailable, match="expires_in"):
                await tokens.get(TENANT)
        await fetcher.close()

    asyncio.run(main())


def test_the_scope_follows_the_configured_graph(standin: GraphStandIn) -> None:
    """A national-cloud Graph gets its own scope; the token endpoint checks it."""
    standin.scope = "https://graph.microsoft.us/.default"

    async def main() -> None:
        fetcher = Fetcher()
        tokens = _tokens(standin, fetcher, Clock(), graph_base="https://graph.microsoft.us/")
        assert tokens.scope == "https://graph.microsoft.us/.default"
        await tokens.get(TENANT)
        await fetcher.close()

    asyncio.run(main())
    assert standin.token_forms[0]["scope"] == "https://graph.microsoft.us/.default"


def test_construction_needs_a_credential_and_sane_urls() -> None:
    async def main() -> None:
        fetcher = Fetcher()
        with pytest.raises(ValueError, match="credential"):
            GraphTokens(
                authority_host="https://login.microsoftonline.com",
                graph_base="https://graph.microsoft.com",
                client_auth=(),
                fetcher=fetcher,
                clock=Clock(),
            )
        with pytest.raises(ValueError, match="https"):
            GraphTokens(
                authority_host="http://login.example.com",
                graph_base="https://graph.microsoft.com",
                client_auth=(ClientAuth(CLIENT_ID, "client_secret_post", secret=Secret("x")),),
                fetcher=fetcher,
                clock=Clock(),
            )
        await fetcher.close()

    asyncio.run(main())


def test_a_failing_token_endpoint_is_asked_once_per_backoff(standin: GraphStandIn) -> None:
    standin.secrets[CLIENT_ID] = "rotated-elsewhere"
    clock = Clock()

    async def main() -> None:
        fetcher = Fetcher()
        tokens = _tokens(standin, fetcher, clock)
        for _ in range(5):
            with pytest.raises(IdpUnavailable):
                await tokens.get(TENANT)
        assert standin.token_calls == 1
        clock.advance(10)
        standin.secrets[CLIENT_ID] = CLIENT_SECRET
        await tokens.get(TENANT)
        assert standin.token_calls == 2
        await fetcher.close()

    asyncio.run(main())
