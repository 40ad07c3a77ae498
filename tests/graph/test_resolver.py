"""GroupResolver against the Graph stand-in: paging, caching, coalescing, failures (closed)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from portcullis.config.auth_schema import Provider
from portcullis.graph import Resolved, Unresolved
from portcullis.graph.groups import UNAVAILABLE
from portcullis.identity import Kind
from portcullis.oidc.fetch import Fetcher
from portcullis.oidc.provider import ProviderClient
from tests.graph.conftest import APP, OTHER_USER, USER, graph_stack
from tests.support.graph_standin import CLIENT_ID, CLIENT_SECRET, TENANT, GraphStandIn
from tests.support.proxy import free_port


def test_pages_are_followed_and_groups_collected_in_order(standin: GraphStandIn) -> None:
    groups = standin.groups(250)
    standin.memberships[USER] = groups

    async def main() -> None:
        async with graph_stack(standin) as stack:
            result = await stack.resolver.resolve(TENANT, USER)
            assert isinstance(result, Resolved)
            assert result.groups == tuple(groups)
            assert result.at == stack.clock.now

    asyncio.run(main())
    assert standin.graph_calls == 3  # 100 + 100 + 50
    assert standin.graph_paths == [f"/v1.0/users/{USER}/getMemberObjects"] * 3
    assert standin.token_calls == 1


def test_a_cached_answer_costs_no_second_call_and_peek_sees_it(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(3)

    async def main() -> None:
        async with graph_stack(standin) as stack:
            assert stack.resolver.peek(TENANT, USER) is None
            first = await stack.resolver.resolve(TENANT, USER)
            second = await stack.resolver.resolve(TENANT.upper(), USER.upper())
            assert first == second
            assert stack.resolver.peek(TENANT, USER) == first

    asyncio.run(main())
    assert standin.graph_calls == 1


def test_answers_expire_after_the_ttl(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(3)

    async def main() -> None:
        async with graph_stack(standin, ttl=600) as stack:
            await stack.resolver.resolve(TENANT, USER)
            stack.clock.advance(599)
            await stack.resolver.resolve(TENANT, USER)
            assert standin.graph_calls == 1
            stack.clock.advance(2)
            assert stack.resolver.peek(TENANT, USER) is None
            standin.memberships[USER] = standin.groups(1)
            result = await stack.resolver.resolve(TENANT, USER)
            assert isinstance(result, Resolved) and len(result.groups) == 1
            assert standin.graph_calls == 2

    asyncio.run(main())


def test_concurrent_lookups_of_one_principal_share_one_graph_call(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(5)
    standin.memberships[OTHER_USER] = standin.groups(2)
    standin.delay = 0.05

    async def main() -> None:
        async with graph_stack(standin) as stack:
            results = await asyncio.gather(
                *(stack.resolver.resolve(TENANT, USER) for _ in range(10)),
                stack.resolver.resolve(TENANT, OTHER_USER),
            )
            assert len(set(results[:10])) == 1 and isinstance(results[0], Resolved)
            assert stack.resolver.lookups == 2

    asyncio.run(main())
    assert standin.graph_calls == 2  # one per principal
    assert standin.token_calls == 1  # one token refresh in flight at a time


def test_a_caller_giving_up_does_not_cancel_the_shared_lookup(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(5)
    standin.delay = 0.1

    async def main() -> None:
        async with graph_stack(standin) as stack:
            impatient = asyncio.ensure_future(stack.resolver.resolve(TENANT, USER))
            patient = asyncio.ensure_future(stack.resolver.resolve(TENANT, USER))
            await asyncio.sleep(0.02)
            impatient.cancel()
            assert isinstance(await patient, Resolved)

    asyncio.run(main())
    assert standin.graph_calls == 1


def test_a_401_refreshes_the_token_once_and_retries(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(3)
    standin.memberships[OTHER_USER] = standin.groups(2)

    async def main() -> None:
        async with graph_stack(standin) as stack:
            await stack.resolver.resolve(TENANT, USER)
            standin.revoke_tokens()  # e.g. the app's consent was re-granted
            result = await stack.resolver.resolve(TENANT, OTHER_USER)
            assert isinstance(result, Resolved) and len(result.groups) == 2

    asyncio.run(main())
    assert standin.token_calls == 2
    assert standin.graph_calls == 3
    assert standin.bearers_seen[1] != standin.bearers_seen[2]


def test_a_persistent_401_is_unresolved_after_one_refresh(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(3)
    standin.fail_next(401, times=5)

    async def main() -> None:
        async with graph_stack(standin) as stack:
            result = await stack.resolver.resolve(TENANT, USER)
            assert result == Unresolved("graph rejected the app token")

    asyncio.run(main())
    assert standin.token_calls == 2
    assert standin.graph_calls == 2


def test_429_with_retry_after_is_waited_out_and_retried(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(3)
    standin.fail_next(429, retry_after="2")

    async def main() -> None:
        async with graph_stack(standin) as stack:
            result = await stack.resolver.resolve(TENANT, USER)
            assert isinstance(result, Resolved)
            assert stack.sleeps == [2.0]

    asyncio.run(main())
    assert standin.graph_calls == 2


def test_throttling_retries_are_bounded(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(3)
    standin.fail_next(503, times=10)  # no Retry-After: 1 s default

    async def main() -> None:
        async with graph_stack(standin, max_retries=2) as stack:
            result = await stack.resolver.resolve(TENANT, USER)
            assert result == Unresolved("graph is throttling or unavailable")
            assert stack.sleeps == [1.0, 1.0]

    asyncio.run(main())
    assert standin.graph_calls == 3


def test_a_long_retry_after_is_not_waited_but_backs_off_the_cache(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(3)
    standin.fail_next(429, retry_after="120")

    async def main() -> None:
        async with graph_stack(standin, max_retry_after=5, negative_ttl=30) as stack:
            result = await stack.resolver.resolve(TENANT, USER)
            assert isinstance(result, Unresolved)
            assert stack.sleeps == []
            stack.clock.advance(60)
            assert await stack.resolver.resolve(TENANT, USER) == result  # still backing off
            stack.clock.advance(61)
            assert isinstance(await stack.resolver.resolve(TENANT, USER), Resolved)

    asyncio.run(main())
    assert standin.graph_calls == 2


def test_a_500_is_unresolved_and_negative_cached(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(3)
    standin.fail_next(500)

    async def main() -> None:
        async with graph_stack(standin, negative_ttl=30) as stack:
            assert await stack.resolver.resolve(TENANT, USER) == Unresolved(
                "graph answered HTTP 500"
            )
            for _ in range(20):  # an outage does not hammer Graph
                assert isinstance(await stack.resolver.resolve(TENANT, USER), Unresolved)
            assert isinstance(stack.resolver.peek(TENANT, USER), Unresolved)
            assert standin.graph_calls == 1
            stack.clock.advance(31)
            assert isinstance(await stack.resolver.resolve(TENANT, USER), Resolved)
            assert standin.graph_calls == 2

    asyncio.run(main())


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (403, "graph denied access to group memberships"),
        (404, "principal not found in the directory"),
        (400, "graph answered HTTP 400"),
    ],
)
def test_refusals_are_unresolved(standin: GraphStandIn, status: int, reason: str) -> None:
    standin.memberships[USER] = standin.groups(3)
    standin.fail_next(status)

    async def main() -> None:
        async with graph_stack(standin) as stack:
            assert await stack.resolver.resolve(TENANT, USER) == Unresolved(reason)

    asyncio.run(main())


def test_an_unknown_principal_is_unresolved(standin: GraphStandIn) -> None:
    async def main() -> None:
        async with graph_stack(standin) as stack:
            result = await stack.resolver.resolve(TENANT, USER)
            assert result == Unresolved("principal not found in the directory")

    asyncio.run(main())


def test_a_next_link_to_another_host_is_not_followed(
    standin: GraphStandIn, evil: GraphStandIn
) -> None:
    standin.memberships[USER] = standin.groups(250)
    evil.memberships[USER] = evil.groups(1)
    standin.next_link_base = evil.url

    async def main() -> None:
        async with graph_stack(standin) as stack:
            result = await stack.resolver.resolve(TENANT, USER)
            assert result == Unresolved("graph paging link leaves the configured Graph URL")

    asyncio.run(main())
    assert standin.graph_calls == 1
    assert evil.graph_calls == 0 and evil.token_calls == 0  # the bearer token never left


def test_a_next_link_with_a_lookalike_host_is_not_followed(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(250)
    standin.next_link_base = standin.url.replace("127.0.0.1", "127.0.0.1.evil.example")

    async def main() -> None:
        async with graph_stack(standin) as stack:
            assert isinstance(await stack.resolver.resolve(TENANT, USER), Unresolved)

    asyncio.run(main())
    assert standin.graph_calls == 1


def test_an_id_that_is_not_a_guid_fails_the_lookup(standin: GraphStandIn) -> None:
    standin.memberships[USER] = [*standin.groups(2), "admins, 00000000-0000-0000-0000-000000000000"]
    standin.memberships[OTHER_USER] = [g.upper() for g in standin.groups(2)]

    async def main() -> None:
        async with graph_stack(standin) as stack:
            bad = await stack.resolver.resolve(TENANT, USER)
            assert bad == Unresolved("graph answer holds an id that is not a GUID")
            good = await stack.resolver.resolve(TENANT, OTHER_USER)
            assert isinstance(good, Resolved) and good.groups == tuple(standin.groups(2))

    asyncio.run(main())


def test_page_and_group_counts_are_bounded(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(30)
    standin.memberships[OTHER_USER] = standin.groups(30)
    standin.page_size = 5

    async def main() -> None:
        async with graph_stack(standin, max_pages=3) as stack:
            result = await stack.resolver.resolve(TENANT, USER)
            assert result == Unresolved("graph answer spans more than 3 pages")
            assert standin.graph_calls == 3  # page 4 was never requested
        async with graph_stack(standin, max_groups=12) as stack:
            result = await stack.resolver.resolve(TENANT, OTHER_USER)
            assert result == Unresolved("principal is in more than 12 groups")

    asyncio.run(main())


def test_a_token_supplied_claim_source_is_never_fetched(
    standin: GraphStandIn, evil: GraphStandIn
) -> None:
    """Overage claims name a URL (``_claim_sources``); only the configured Graph is asked."""
    groups = standin.groups(3)
    standin.memberships[USER] = groups
    evil.memberships[USER] = evil.groups(1, prefix="ffff")
    claims = {
        "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0",
        "sub": "subject",
        "tid": TENANT,
        "oid": USER,
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": f"{evil.url}/v1.0/users/{USER}/getMemberObjects"}},
    }

    async def main() -> None:
        fetcher = Fetcher()
        provider = ProviderClient(
            Provider(type="entra", tenant=TENANT, client_id=CLIENT_ID),
            client_auth=(),
            redirect_uri="https://portcullis.example/.portcullis/callback",
            fetcher=fetcher,
            clock=lambda: 0.0,
        )
        identity = provider.identity(claims)
        await fetcher.close()
        assert identity.groups_unknown and identity.groups == ()
        assert identity.tenant_id and identity.object_id
        async with graph_stack(standin) as stack:
            result = await stack.resolver.resolve(identity.tenant_id, identity.object_id)
            assert isinstance(result, Resolved) and result.groups == tuple(groups)

    asyncio.run(main())
    assert standin.graph_calls == 1
    assert evil.graph_calls == 0 and evil.token_calls == 0


def test_service_principals_are_looked_up_as_directory_objects(standin: GraphStandIn) -> None:
    standin.memberships[APP] = standin.groups(2)

    async def main() -> None:
        async with graph_stack(standin) as stack:
            result = await stack.resolver.resolve(TENANT, APP, kind=Kind.APP)
            assert isinstance(result, Resolved) and len(result.groups) == 2

    asyncio.run(main())
    assert standin.graph_paths == [f"/v1.0/directoryObjects/{APP}/getMemberObjects"]


@pytest.mark.parametrize(
    ("tenant", "oid"),
    [
        (TENANT, "../../../evil"),
        (TENANT, f"{USER}/../../x"),
        (TENANT, f"{USER}?x=1"),
        ("../" + TENANT, USER),
        ("common", USER),
        (TENANT, ""),
    ],
)
def test_ids_that_are_not_guids_never_reach_the_network(
    standin: GraphStandIn, tenant: str, oid: str
) -> None:
    async def main() -> None:
        async with graph_stack(standin) as stack:
            result = await stack.resolver.resolve(tenant, oid)
            assert result == Unresolved("tenant or object id is not a GUID")
            assert stack.resolver.peek(tenant, oid) is None

    asyncio.run(main())
    assert standin.graph_calls == 0 and standin.token_calls == 0


def test_tenants_outside_the_allowlist_are_not_looked_up(standin: GraphStandIn) -> None:
    other_tenant = "99999999-9999-4999-8999-999999999999"
    standin.tenants.add(other_tenant)
    standin.memberships[USER] = standin.groups(1)

    async def main() -> None:
        async with graph_stack(standin, allowed_tenants=[TENANT.upper()]) as stack:
            assert isinstance(await stack.resolver.resolve(TENANT, USER), Resolved)
            refused = await stack.resolver.resolve(other_tenant, USER)
            assert refused == Unresolved("tenant is not configured for group lookups")

    asyncio.run(main())
    assert standin.token_calls == 1


def test_network_failures_are_unresolved(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(1)
    closed = f"http://127.0.0.1:{free_port()}"

    async def main() -> None:
        async with graph_stack(standin, graph_base=closed) as stack:
            # The token is asked for the configured Graph scope; the stand-in expects its own.
            standin.scope = f"{closed}/.default"
            assert await stack.resolver.resolve(TENANT, USER) == Unresolved(UNAVAILABLE)
        async with graph_stack(standin, authority_host=closed) as stack:
            assert await stack.resolver.resolve(TENANT, USER) == Unresolved(UNAVAILABLE)
            assert standin.graph_calls == 0

    asyncio.run(main())


def test_a_slow_graph_times_out_into_unresolved(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(1)
    standin.delay = 2.0

    async def main() -> None:
        async with graph_stack(standin, timeout=0.2) as stack:
            assert await stack.resolver.resolve(TENANT, USER) == Unresolved(UNAVAILABLE)

    asyncio.run(main())


def test_a_token_endpoint_refusal_is_unresolved(standin: GraphStandIn) -> None:
    standin.memberships[USER] = standin.groups(1)
    standin.secrets[CLIENT_ID] = "rotated-elsewhere"

    async def main() -> None:
        async with graph_stack(standin) as stack:
            assert await stack.resolver.resolve(TENANT, USER) == Unresolved(UNAVAILABLE)
            # Another principal moments later: the token endpoint is not asked again yet.
            assert await stack.resolver.resolve(TENANT, OTHER_USER) == Unresolved(UNAVAILABLE)

    asyncio.run(main())
    assert standin.graph_calls == 0
    assert standin.token_calls == 1


def test_security_enabled_only_is_passed_on(standin: GraphStandIn) -> None:
    groups = standin.groups(4)
    standin.memberships[USER] = groups
    standin.security_groups = set(groups[:2])

    async def main() -> None:
        async with graph_stack(standin, security_enabled_only=True) as stack:
            result = await stack.resolver.resolve(TENANT, USER)
            assert isinstance(result, Resolved) and result.groups == tuple(groups[:2])

    asyncio.run(main())


def test_the_cache_is_a_bounded_lru(standin: GraphStandIn) -> None:
    users = [f"cccccccc-0000-4000-8000-{i:012x}" for i in range(3)]
    for user in users:
        standin.memberships[user] = standin.groups(1)

    async def main() -> None:
        async with graph_stack(standin, max_entries=2) as stack:
            for user in users:
                await stack.resolver.resolve(TENANT, user)
            assert stack.resolver.peek(TENANT, users[0]) is None
            assert stack.resolver.peek(TENANT, users[2]) is not None
            assert len(stack.resolver.cache) == 2

    asyncio.run(main())


def test_no_token_or_secret_reaches_logs_or_reprs(
    standin: GraphStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    standin.memberships[USER] = standin.groups(250)
    standin.memberships[OTHER_USER] = standin.groups(1)

    async def main() -> None:
        async with graph_stack(standin) as stack:
            await stack.resolver.resolve(TENANT, OTHER_USER)
            standin.revoke_tokens()
            standin.fail_next(401, times=3)
            await stack.resolver.resolve(TENANT, USER)
            standin.next_link_base = "http://elsewhere.invalid"
            stack.clock.advance(3600)
            await stack.resolver.resolve(TENANT, USER)
            text = f"{caplog.text} {stack.resolver!r} {stack.tokens!r}"
            assert standin.bearers_seen
            for bearer in standin.bearers_seen:
                assert bearer not in text
            assert CLIENT_SECRET not in text

    asyncio.run(main())
