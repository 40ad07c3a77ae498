"""Route matching: the route for a (host, normalized path), compiled once at load.

Order: an exact host beats a ``*.domain`` wildcard (longer suffix first) beats
``*``; within those, the longest path prefix wins. A prefix matches at a
segment boundary: ``/api`` matches ``/api`` and ``/api/x`` but not ``/apix``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from portcullis.config.schema import Route

__all__ = ["RouteTarget", "Router", "host_matches"]

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class RouteTarget(Generic[P]):
    """A configured route at run time, with the pool of its upstream origin."""

    index: int
    config: Route
    pool: P

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


def _prefix_matches(prefix: str, path: str) -> bool:
    if prefix in ("/", path):
        return True
    base = prefix.rstrip("/")
    return path.startswith(base + "/") or path == base


class Router(Generic[P]):
    """Finds the route for a request; immutable once built."""

    _CACHE_MAX = 1024

    def __init__(self, routes: Sequence[Route], pool_for: Callable[[Route], P]) -> None:
        self.targets = tuple(RouteTarget(i, r, pool_for(r)) for i, r in enumerate(routes))
        self._exact: dict[str, list[RouteTarget[P]]] = {}
        self._wildcards: list[RouteTarget[P]] = []
        self._any: list[RouteTarget[P]] = []
        for target in self.targets:
            host = target.config.host
            if host == "*":
                self._any.append(target)
            elif host.startswith("*."):
                self._wildcards.append(target)
            else:
                self._exact.setdefault(host, []).append(target)
        self._cache: dict[str, tuple[tuple[str, RouteTarget[P]], ...]] = {}
        for host in self._exact:
            self._cache[host] = self._candidates(host)

    def _candidates(self, host: str) -> tuple[tuple[str, RouteTarget[P]], ...]:
        def specificity(t: RouteTarget[P]) -> tuple[int, int]:
            h = t.config.host
            rank = 2 if h == host else (1 if h.startswith("*.") else 0)
            return (rank, len(h))

        found = [
            *self._exact.get(host, ()),
            *(t for t in self._wildcards if host_matches(t.config.host, host)),
            *self._any,
        ]
        found.sort(key=lambda t: (specificity(t), len(t.config.path.rstrip("/"))), reverse=True)
        return tuple((t.config.path, t) for t in found)

    def match(self, host: str, path: str) -> RouteTarget[P] | None:
        candidates = self._cache.get(host)
        if candidates is None:
            candidates = self._candidates(host)
            if len(self._cache) < self._CACHE_MAX:
                self._cache[host] = candidates
        for prefix, target in candidates:
            if _prefix_matches(prefix, path):
                return target
        return None
