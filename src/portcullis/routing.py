"""Route matching: the route for a (host, normalized path), compiled once at load.

Order: an exact host beats a ``*.domain`` wildcard (longer suffix first) beats
``*``; within those, the longest path prefix wins (of two equally long, the one
listed first). A prefix matches at a segment boundary: ``/api`` matches ``/api``
and ``/api/x`` but not ``/apix``; ``/`` matches every path. A route with
``case_insensitive`` matches its prefix in any case.

The routes are compiled into an index, so a decision costs what the host's
patterns and the path's depth cost, not what the number of routes does:

- hosts: one *bucket* per host pattern. An exact host is one dict lookup;
  wildcards are found by looking up each dot-suffix of the host (longest first)
  in a dict of ``*.domain`` buckets; ``*`` comes last. The buckets of a host
  are cached (bounded).
- paths: each bucket holds a trie with one dict per segment, and a second one
  of lower-cased segments if it has case-insensitive routes. The request path
  is split once, at most as deep as the deepest route, and walked down the
  tries (lower-casing a segment at a time for the second); the deepest node
  that ends a route is the longest matching prefix.

The first bucket with any match decides: host specificity outranks prefix
length, exactly as a sort by (host specificity, prefix length) would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from portcullis.config.schema import Route

__all__ = ["RouteTarget", "Router", "host_matches"]

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class RouteTarget(Generic[P]):
    """A configured route at run time, with the pool of its upstream origin."""

    index: int
    config: Route
    pool: P
    policy: Any = None  # the route's compiled RoutePolicy (None: public, or not compiled)

    @property
    def public(self) -> bool:
        return self.config.public


def host_matches(pattern: str, host: str) -> bool:
    """``*`` matches all, ``*.example.com`` matches at a dot boundary only."""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


class _Node(Generic[P]):
    """One path segment of a trie; ``target`` is set where a route's prefix ends."""

    __slots__ = ("children", "rank", "target")

    def __init__(self) -> None:
        self.children: dict[str, _Node[P]] = {}
        self.target: RouteTarget[P] | None = None
        self.rank: tuple[int, int] = (-1, 0)

    def put(self, target: RouteTarget[P]) -> None:
        # Longest prefix first, then the route listed first (as a stable sort would).
        rank = (len(target.config.path.rstrip("/")), -target.index)
        if rank > self.rank:
            self.target, self.rank = target, rank


class _Bucket(Generic[P]):
    """The routes of one host pattern, in two segment tries.

    The root of ``tree`` holds the routes with path ``/`` (they match every path), its
    descendants the case-sensitive prefixes; ``folded``, if any route needs it, holds the
    lower-cased case-insensitive ones (a case-insensitive ``/`` is just ``/``).
    """

    __slots__ = ("folded", "tree")

    def __init__(self) -> None:
        self.tree: _Node[P] = _Node()
        self.folded: _Node[P] | None = None

    def add(self, target: RouteTarget[P]) -> int:
        """File ``target`` under its prefix; returns the prefix's depth in segments."""
        base = target.config.path.rstrip("/")
        if not base:
            self.tree.put(target)
            return 0
        node = self.tree
        if target.config.case_insensitive:
            node = self.folded = self.folded or _Node()
            base = base.lower()
        segments = base[1:].split("/")
        for segment in segments:
            child = node.children.get(segment)
            if child is None:
                child = node.children[segment] = _Node()
            node = child
        node.put(target)
        return len(segments)


class Router(Generic[P]):
    """Finds the route for a request; the index is immutable once built (the host cache is not)."""

    _CACHE_MAX = 1024

    def __init__(
        self,
        routes: Sequence[Route],
        pool_for: Callable[[Route], P],
        policies: Sequence[Any] = (),
    ) -> None:
        self.targets = tuple(
            RouteTarget(i, r, pool_for(r), policies[i] if i < len(policies) else None)
            for i, r in enumerate(routes)
        )
        self._exact: dict[str, _Bucket[P]] = {}
        self._wildcards: dict[str, _Bucket[P]] = {}  # by the suffix after '*.'
        self._any: _Bucket[P] | None = None
        depth = 0
        for target in self.targets:
            host = target.config.host
            if host == "*":
                bucket = self._any = self._any or _Bucket()
            elif host.startswith("*."):
                bucket = self._wildcards.setdefault(host[2:], _Bucket())
            else:
                bucket = self._exact.setdefault(host, _Bucket())
            depth = max(depth, bucket.add(target))
        self._depth = depth
        # The buckets of every configured exact host stay; other hosts come and go.
        self._fixed = {host: self._buckets(host) for host in self._exact}
        self._cache = dict(self._fixed)

    def _buckets(self, host: str) -> tuple[tuple[_Node[P], _Node[P] | None], ...]:
        """The tries of the host patterns that match ``host``, most specific first."""
        found: list[_Bucket[P]] = []
        exact = self._exact.get(host)
        if exact is not None:
            found.append(exact)
        if self._wildcards:
            # '*.example.com' matches 'a.example.com': a dot not at the start, then the suffix.
            dot = host.find(".", 1)
            while dot != -1:
                wildcard = self._wildcards.get(host[dot + 1 :])
                if wildcard is not None:
                    found.append(wildcard)
                dot = host.find(".", dot + 1)
        if self._any is not None:
            found.append(self._any)
        return tuple((bucket.tree, bucket.folded) for bucket in found)

    def match(self, host: str, path: str) -> RouteTarget[P] | None:
        buckets = self._cache.get(host)
        if buckets is None:
            buckets = self._buckets(host)
            if len(self._cache) >= len(self._fixed) + self._CACHE_MAX:
                self._cache = dict(self._fixed)
            self._cache[host] = buckets
        segments: list[str] | tuple[()] | None = None
        for tree, folded in buckets:
            node = tree if tree.target is not None else None  # '/'
            children = tree.children
            if children or folded is not None:
                if segments is None:
                    segments = path[1:].split("/", self._depth) if path[:1] == "/" else ()
                for segment in segments:  # the deepest case-sensitive prefix
                    child = children.get(segment)
                    if child is None:
                        break
                    if child.target is not None:
                        node = child
                    children = child.children
                if folded is not None:  # case-insensitive prefixes, if they are longer
                    children = folded.children
                    for segment in segments:
                        child = children.get(segment.lower())
                        if child is None:
                            break
                        if child.target is not None and (node is None or child.rank > node.rank):
                            node = child
                        children = child.children
            if node is not None:
                return node.target
        return None
