"""This process's metrics: what the request path calls, and a snapshot for a scrape.

There is one :data:`METRICS` per process (like a logger): components count into it
without being handed anything. It starts on private memory, so counting works anywhere
(tests, tools); a worker :meth:`~Metrics.attach` es it to the shared
:class:`~portcullis.metrics.region.Region` after the fork. Every method here runs on the
worker's event loop thread; none does I/O.

The request path::

    METRICS.decided(allowed, seconds)                 # the gate answered (decision latency)
    METRICS.request(route, decision, status, seconds) # the exchange is over
    METRICS.cells[TOKEN_CACHE_HITS] += 1              # any other counter: one increment

Values another object already keeps (the audit queue, open connections) are not counted
twice: :meth:`Metrics.sample` registers a function, and :meth:`Metrics.publish` (a one
second timer, and before each scrape) copies its value into the slot.
"""

from __future__ import annotations

import asyncio
import logging
import os
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from portcullis.decision import Decision
from portcullis.metrics.layout import (
    BOUNDS,
    DECISION_HISTOGRAMS,
    KIND_INDEX,
    REASONS,
    RELOADS_OK,
    RELOADS_REFUSED,
    REQUEST_HISTOGRAMS,
    SAMPLED_COUNTERS,
    STATUS_BASE,
    SUM,
    VIOLATIONS_BASE,
    request_offset,
)
from portcullis.metrics.region import ROUTES, VIOLATIONS, Region

__all__ = ["METRICS", "Metrics"]

log = logging.getLogger("portcullis.metrics")

_MAX_REMEMBERED_ROUTES = 4096


class Metrics:
    """Counters and histograms in one slot of a :class:`Region`."""

    __slots__ = (
        "_base",
        "_offsets",
        "_routes",
        "_samples",
        "_timer",
        "cells",
        "region",
        "seconds",
        "slot",
    )

    def __init__(self, region: Region | None = None) -> None:
        # [allowed][reason] -> offset in a route's block (two small dicts: no tuple to hash)
        self._offsets = tuple(
            {reason: request_offset(allowed, reason, 0) for reason in REASONS}
            for allowed in (False, True)
        )
        self._samples: dict[int, Callable[[], int]] = {}
        self._base: dict[int, int] = {}
        self._timer: asyncio.TimerHandle | None = None
        if region is None or not self.attach(region):
            private = Region.private()
            self._use(private, private.claim() or 0)

    def _use(self, region: Region, slot: int) -> None:
        self.region = region
        self.slot = slot
        self.cells = region.cells(slot)
        self.seconds = region.seconds(slot)  # the same cells read as doubles: histogram sums
        # route config (by identity) -> (the config, the first cell of its block)
        self._routes: dict[int, tuple[Any, int]] = {}
        self._base = {cell: self.cells[cell] for cell in SAMPLED_COUNTERS}

    def attach(self, region: Region) -> bool:
        """Count into a slot of the shared ``region`` from now on; False if none was free."""
        slot = region.claim()
        if slot is None:
            log.warning("metrics: no free slot in shared memory; this worker counts alone")
            return False
        self._use(region, slot)
        return True

    # the request path -------------------------------------------------------------------------
    def decided(self, allowed: bool, seconds: float) -> None:
        """The gate decided, ``seconds`` after the request head was read."""
        base = DECISION_HISTOGRAMS[allowed]
        self.cells[base + bisect_left(BOUNDS, seconds)] += 1
        self.seconds[base + SUM] += seconds

    def request(self, route: Any, decision: Decision, status: int, seconds: float) -> None:
        """A decided request is over: answered ``status`` after ``seconds`` in all.

        ``route`` is the :class:`~portcullis.routing.RouteTarget` it matched; the identity
        kind comes from the decision's audit subject, when it has one.
        """
        config = route.config
        known = self._routes.get(id(config))
        if known is None or known[0] is not config:
            known = self._route(config)
        subject = decision.subject
        kind = 0 if subject is None else KIND_INDEX.get(subject.identity.kind, 0)
        allowed = decision.allow
        cells = self.cells
        cells[known[1] + self._offsets[allowed][decision.reason] + kind] += 1
        if 99 < status < 600:
            cells[STATUS_BASE - 1 + status // 100] += 1
        base = REQUEST_HISTOGRAMS[allowed]
        cells[base + bisect_left(BOUNDS, seconds)] += 1
        self.seconds[base + SUM] += seconds

    def _route(self, config: Any) -> tuple[Any, int]:
        """Look a route up in the shared table the first time (per configuration object)."""
        index = self.region.label(ROUTES, route_name(config.host, config.path))
        if len(self._routes) >= _MAX_REMEMBERED_ROUTES:
            self._routes.clear()
        known = self._routes[id(config)] = (config, self.region.layout.route_block(index))
        return known

    def violation(self, rule: str) -> None:
        """A security violation was detected (forged header, replay, mix-up, ...)."""
        self.cells[VIOLATIONS_BASE + self.region.label(VIOLATIONS, rule)] += 1

    def reloaded(self, ok: bool) -> None:
        """A configuration reload was applied (``ok``) or refused."""
        self.cells[RELOADS_OK if ok else RELOADS_REFUSED] += 1

    # values kept elsewhere --------------------------------------------------------------------
    def sample(self, cell: int, read: Callable[[], int]) -> None:
        """Copy ``read()`` into ``cell`` at each :meth:`publish` (replacing an earlier one).

        For a sampled *counter* the slot keeps counting on from what a dead predecessor left
        in it, so the total never goes backwards.
        """
        self._samples[cell] = read

    def publish(self) -> None:
        """Copy every sampled value into the slot now."""
        cells = self.cells
        for cell, read in self._samples.items():
            try:
                value = int(read())
            except Exception:
                log.exception("metrics: reading a sampled value failed")
                continue
            cells[cell] = self._base.get(cell, 0) + value

    def start(self, loop: asyncio.AbstractEventLoop, interval: float = 1.0) -> None:
        """Publish every ``interval`` seconds on ``loop`` until :meth:`stop`."""

        def tick() -> None:
            self.publish()
            self._timer = loop.call_later(interval, tick)

        self.stop()
        self._timer = loop.call_later(interval, tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def __repr__(self) -> str:
        return f"Metrics({self.region!r}, slot={self.slot}, pid={os.getpid()})"


def route_name(host: str, path: str) -> str:
    """A route's label: its host pattern and path prefix, e.g. ``*/api`` or ``a.example/``."""
    return f"{host}{path}"


METRICS = Metrics()
"""This process's metrics (see the module docstring)."""
