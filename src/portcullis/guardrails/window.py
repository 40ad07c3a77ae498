"""Bounded memory for the rules: an LRU map and a bucketed sliding-window counter.

:class:`Recent` forgets its least recently used entries beyond a limit, so a
stream of a million distinct identities costs no more than ``limit`` entries.

:class:`SlidingCount` counts events in the last ``span`` seconds with
:data:`BUCKETS` buckets, so its size does not depend on how many events it
counts. It never over-counts: an event is counted for at least
``span * (1 - 1/BUCKETS)`` and at most ``span`` seconds after it happened, so a
threshold is never reached early; a burst spread over exactly ``span`` may
fall one bucket short.

:class:`RecentCounts` is the two together: a :class:`SlidingCount` per identity,
for the ``limit`` most recently seen identities.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["BUCKETS", "Recent", "RecentCounts", "SlidingCount"]

V = TypeVar("V")

BUCKETS = 16  # a power of two
_MASK = BUCKETS - 1


class Recent(Generic[V]):
    """A mapping bounded to ``limit`` entries; the least recently used go first."""

    __slots__ = ("_data", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._data: OrderedDict[str, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def get(self, key: str) -> V | None:
        """The value for ``key`` (now the most recently used), or ``None``."""
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        data = self._data
        data[key] = value
        data.move_to_end(key)
        if len(data) > self.limit:
            data.popitem(last=False)

    def pop(self, key: str) -> V | None:
        return self._data.pop(key, None)


class SlidingCount:
    """Events in the last ``span`` seconds, in :data:`BUCKETS` buckets of ``span/BUCKETS``.

    The newest bucket's events are only counted in ``total`` (``total - _older``)
    until a later bucket starts, so an event in the newest bucket costs two
    comparisons and an addition. The per-bucket list is only made once events
    span two buckets: an identity seen once costs one small object.
    """

    __slots__ = ("_head", "_older", "_ring", "_start", "_stop", "_width", "total")

    def __init__(self, span: float) -> None:
        if span <= 0:
            raise ValueError("span must be positive")
        self._width = span / BUCKETS
        self._ring: list[int] | None = None  # per bucket, but the newest's; None: all 0
        self._head = -(1 << 62)  # the newest bucket's number (time // width)
        self._start = self._stop = 0.0  # the newest bucket's time span [start, stop)
        self._older = 0  # events in the window before the newest bucket
        self.total = 0

    def add(self, now: float) -> int:
        """Count one event at ``now``; returns how many are in the window."""
        if self._start <= now < self._stop or self._move(now):
            self.total += 1
        return self.total

    def clear(self) -> None:
        self._ring = None
        self._older = self.total = 0

    def _move(self, now: float) -> bool:
        """Make room for an event at ``now`` outside the newest bucket; True: the caller
        counts it as the newest bucket's. Late events (the clock went back) are counted
        here, in their own bucket, or not at all once out of the window."""
        bucket = int(now // self._width)
        gap = bucket - self._head
        if gap == 0:  # rounding at the bucket's edge
            return True
        if gap < 0:
            if gap > -BUCKETS:
                ring = self._ring or [0] * BUCKETS
                ring[bucket & _MASK] += 1
                self._ring = ring
                self._older += 1
                self.total += 1
            return False
        if gap >= BUCKETS:
            self.clear()
        elif self.total:
            ring = self._ring or [0] * BUCKETS
            ring[self._head & _MASK] = self.total - self._older
            for number in range(self._head + 1, bucket + 1):
                slot = number & _MASK
                self.total -= ring[slot]
                ring[slot] = 0
            self._ring = ring
        self._older = self.total
        self._head = bucket
        self._start = bucket * self._width
        self._stop = self._start + self._width
        return True


class RecentCounts:
    """A :class:`SlidingCount` of ``span`` seconds per key, for the ``limit`` most recent keys."""

    __slots__ = ("_recent", "span")

    def __init__(self, span: float, limit: int) -> None:
        self.span = span
        self._recent: Recent[SlidingCount] = Recent(limit)

    def __len__(self) -> int:
        return len(self._recent)

    def add(self, key: str, now: float) -> int:
        """Count one event of ``key`` at ``now``; returns how many of its are in the window."""
        counter = self._recent.get(key)
        if counter is None:
            counter = SlidingCount(self.span)
            self._recent.put(key, counter)
        return counter.add(now)

    def clear(self, key: str) -> None:
        """Start ``key``'s count again (after it fired)."""
        counter = self._recent.get(key)
        if counter is not None:
            counter.clear()
