"""A coarse clock for deadlines on the hot path.

Setting a deadline per request must not cost a call into the event loop; the
server's sweeper refreshes ``now`` every tick and fires deadlines that passed,
so a timeout fires between ``timeout - tick`` and ``timeout + tick`` seconds.
"""

from __future__ import annotations

import asyncio

__all__ = ["CoarseClock"]


class CoarseClock:
    __slots__ = ("_loop", "now", "tick")

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float = 0.25) -> None:
        self._loop = loop
        self.tick = tick
        self.now = loop.time()

    def refresh(self) -> float:
        self.now = self._loop.time()
        return self.now
