"""Group lookups remembered per principal: a bounded LRU with a TTL, failures included.

Pure code with an injected clock. A :class:`Resolved` answer is kept for
``ttl`` seconds (group changes show up within that time); an
:class:`Unresolved` one for ``negative_ttl`` (or longer when Graph asked us,
via ``Retry-After``, to back off) so an outage costs one Graph call per
principal per interval, not one per request. At most ``max_entries`` entries;
the least recently used goes first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from portcullis.graph.result import GroupsResult, Resolved

__all__ = ["GroupCache", "Key"]

Key = tuple[str, str]  # (tenant id, object id), lowercase


class GroupCache:
    __slots__ = ("_clock", "_entries", "max_entries", "negative_ttl", "ttl")

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        ttl: float = 600.0,
        negative_ttl: float = 30.0,
        max_entries: int = 10_000,
    ) -> None:
        if ttl < 0 or negative_ttl < 0 or max_entries < 1:
            raise ValueError("cache TTLs must be ≥ 0 and max_entries ≥ 1")
        self._clock = clock
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[Key, tuple[float, GroupsResult]] = OrderedDict()

    def get(self, key: Key) -> GroupsResult | None:
        """The fresh entry for ``key`` (marked recently used), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, result = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return result

    def put(self, key: Key, result: GroupsResult, *, ttl: float | None = None) -> None:
        """Remember ``result``; ``ttl`` overrides the default for its kind."""
        if ttl is None:
            ttl = self.ttl if isinstance(result, Resolved) else self.negative_ttl
        self._entries[key] = (self._clock() + ttl, result)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: Key) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
