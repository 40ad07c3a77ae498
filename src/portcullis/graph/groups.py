"""Group memberships for "groups overage" principals, from Microsoft Graph.

When an Entra token carries too many groups it names a ``_claim_sources``
endpoint instead. Portcullis never calls that (it comes from the token);
:class:`GroupResolver` asks the *configured* Graph with Portcullis' own app
token::

    POST {graph_base}/v1.0/users/{oid}/getMemberObjects           (users, OBO)
    POST {graph_base}/v1.0/directoryObjects/{oid}/getMemberObjects (apps, agents)
    {"securityEnabledOnly": false}   (``security_enabled_only=True``: security groups only)

and follows ``@odata.nextLink`` only within the configured Graph origin
(:func:`~portcullis.graph.urls.graph_link`), for at most ``max_pages`` pages and
``max_groups`` groups. Each id must be a GUID. Memberships are transitive; the
ids also include directory roles and administrative units the principal is in
(harmless: a rule matches only the group ids it names).

Failure handling, all fail-closed (:class:`Unresolved`, never "no groups"):

- 401: the token is dropped and a new one fetched, once per lookup;
- 429/503: ``Retry-After`` honoured (default 1 s) when ≤ ``max_retry_after``,
  at most ``max_retries`` times, through the injected ``sleep``;
- any other status, a malformed answer, a paging link elsewhere, a network or
  token-endpoint failure: Unresolved, remembered for ``negative_ttl`` (longer if
  Graph's ``Retry-After`` says so, at most 5 min).

Answers are cached per (tid, oid) (:class:`GroupCache`); concurrent lookups of
one principal share one Graph call, and at most ``max_concurrency`` Graph
lookups run at once. :meth:`GroupResolver.peek` reads the cache without I/O
for the hot path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from portcullis.graph.cache import GroupCache, Key
from portcullis.graph.page import Collector, PageError, parse_page
from portcullis.graph.result import GroupsResult, Resolved, Unresolved
from portcullis.graph.token import GraphTokens
from portcullis.graph.transport import GraphHttp, Reply
from portcullis.graph.urls import (
    PrincipalCollection,
    check_graph_base,
    graph_link,
    is_guid,
    member_objects_url,
)
from portcullis.identity import Kind
from portcullis.metrics import GRAPH_CALLS_ERROR, GRAPH_CALLS_OK, METRICS
from portcullis.oidc.fetch import IdpUnavailable

__all__ = ["GroupResolver"]

log = logging.getLogger("portcullis.graph")

UNAVAILABLE = "group membership could not be resolved"
_DEFAULT_RETRY_AFTER = 1.0
_MAX_NEGATIVE_TTL = 300.0


class _Failed(Exception):
    """Ends a lookup: ``reason`` for the Unresolved, ``ttl`` for the negative cache."""

    def __init__(self, reason: str, ttl: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ttl = ttl


@dataclass
class _Lookup:
    tenant: str
    refreshed: bool = False  # the one 401-driven token refresh was used


def _collection(kind: Kind) -> PrincipalCollection:
    return "users" if kind in (Kind.USER, Kind.ON_BEHALF_OF) else "directoryObjects"


class GroupResolver:
    def __init__(
        self,
        *,
        graph_base: str,
        tokens: GraphTokens,
        http: GraphHttp,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        ttl: float = 600.0,
        negative_ttl: float = 30.0,
        max_entries: int = 10_000,
        max_pages: int = 50,
        max_groups: int = 10_000,
        max_retries: int = 2,
        max_retry_after: float = 5.0,
        max_concurrency: int = 4,
        allowed_tenants: Collection[str] | None = None,
        security_enabled_only: bool = False,
    ) -> None:
        self.graph_base = check_graph_base(graph_base)
        self._tokens = tokens
        self._http = http
        self._clock = clock
        self._sleep = sleep
        self.cache = GroupCache(
            clock=clock, ttl=ttl, negative_ttl=negative_ttl, max_entries=max_entries
        )
        self._max_pages = max_pages
        self._max_groups = max_groups
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after
        self._slots = asyncio.Semaphore(max_concurrency)
        self._tenants = None if allowed_tenants is None else {t.lower() for t in allowed_tenants}
        self._body = {"securityEnabledOnly": security_enabled_only}
        self._inflight: dict[Key, asyncio.Task[GroupsResult]] = {}
        self.lookups = 0  # Graph lookups started (cache misses not joined to one in flight)

    def __repr__(self) -> str:
        return f"GroupResolver(graph_base={self.graph_base!r}, cached={len(self.cache)})"

    def peek(self, tenant_id: str, object_id: str) -> GroupsResult | None:
        """The cached answer for this principal, if fresh; never does I/O."""
        key = _key(tenant_id, object_id)
        return None if key is None else self.cache.get(key)

    def forget(self, tenant_id: str, object_id: str) -> None:
        key = _key(tenant_id, object_id)
        if key is not None:
            self.cache.forget(key)

    async def resolve(
        self, tenant_id: str, object_id: str, *, kind: Kind = Kind.USER
    ) -> GroupsResult:
        """The principal's groups from Graph (or the cache); never raises for Graph trouble."""
        key = _key(tenant_id, object_id)
        if key is None:
            return Unresolved("tenant or object id is not a GUID")
        if self._tenants is not None and key[0] not in self._tenants:
            return Unresolved("tenant is not configured for group lookups")
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        task = self._inflight.get(key)
        if task is None:
            self.lookups += 1
            task = asyncio.get_running_loop().create_task(self._lookup(key, kind))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        # shield: a caller that gives up does not cancel the lookup the others wait for.
        return await asyncio.shield(task)

    def _finished(self, key: Key, task: asyncio.Task[GroupsResult]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]

    async def _lookup(self, key: Key, kind: Kind) -> GroupsResult:
        ttl: float | None = None
        try:
            async with self._slots:
                result: GroupsResult = await self._fetch(key, kind)
        except _Failed as failure:
            result, ttl = Unresolved(failure.reason), failure.ttl
        except PageError as exc:
            result = Unresolved(str(exc))
        except IdpUnavailable as exc:
            log.warning("graph group lookup failed: %s", exc)
            result = Unresolved(UNAVAILABLE)
        except Exception as exc:  # any internal error fails closed
            log.warning("graph group lookup failed: %s", type(exc).__name__)
            result = Unresolved(UNAVAILABLE)
        if isinstance(result, Unresolved):
            log.info("groups of %s/%s unresolved: %s", key[0], key[1], result.reason)
        METRICS.cells[GRAPH_CALLS_OK if isinstance(result, Resolved) else GRAPH_CALLS_ERROR] += 1
        self.cache.put(key, result, ttl=ttl)
        return result

    async def _fetch(self, key: Key, kind: Kind) -> Resolved:
        tenant, oid = key
        lookup = _Lookup(tenant)
        collector = Collector(max_pages=self._max_pages, max_groups=self._max_groups)
        url: str | None = member_objects_url(self.graph_base, oid, _collection(kind))
        while url is not None:
            reply = await self._call(lookup, url)
            if reply.status != 200 or reply.body is None:
                raise _refusal(reply, self._negative_ttl(reply))
            page = parse_page(reply.body)
            collector.add(page)
            url = None
            if page.next_link is not None:
                url = graph_link(self.graph_base, page.next_link)
                if url is None:
                    log.warning("graph paging link is not on %s; not followed", self.graph_base)
                    raise _Failed("graph paging link leaves the configured Graph URL")
        return Resolved(collector.groups, self._clock())

    async def _call(self, lookup: _Lookup, url: str) -> Reply:
        throttled = 0
        while True:
            token = await self._tokens.get(lookup.tenant)
            reply = await self._http.post_json(url, self._body, bearer=token)
            if reply.status == 401 and not lookup.refreshed:
                lookup.refreshed = True
                self._tokens.invalidate(lookup.tenant, token)
                continue
            if reply.status in (429, 503) and throttled < self._max_retries:
                delay = reply.retry_after
                delay = _DEFAULT_RETRY_AFTER if delay is None else delay
                if delay <= self._max_retry_after:
                    throttled += 1
                    await self._sleep(delay)
                    continue
            return reply

    def _negative_ttl(self, reply: Reply) -> float | None:
        if reply.retry_after is None:
            return None
        return min(max(self.cache.negative_ttl, reply.retry_after), _MAX_NEGATIVE_TTL)


def _key(tenant_id: str, object_id: str) -> Key | None:
    tenant, oid = str(tenant_id).lower(), str(object_id).lower()
    return (tenant, oid) if is_guid(tenant) and is_guid(oid) else None


def _refusal(reply: Reply, ttl: float | None) -> _Failed:
    status = reply.status
    if status == 200:
        return _Failed("graph answer is not a JSON object")
    if status == 401:
        return _Failed("graph rejected the app token", ttl)
    if status == 403:
        log.warning(
            "graph denied the group lookup: the app needs the GroupMember.Read.All "
            "(or Directory.Read.All) application permission with admin consent"
        )
        return _Failed("graph denied access to group memberships", ttl)
    if status == 404:
        return _Failed("principal not found in the directory", ttl)
    if status in (429, 503):
        return _Failed("graph is throttling or unavailable", ttl)
    return _Failed(f"graph answered HTTP {status}", ttl)
