"""A worker's metrics wiring, so that :mod:`portcullis.runtime` needs only a few lines.

Before the fork, :func:`shared_region` makes the memory every worker counts into. In each
worker, :class:`WorkerMetrics` attaches :data:`~portcullis.metrics.registry.METRICS` to
it, samples the values other objects keep (open connections, the audit queue), watches
credential expiry (:class:`~portcullis.credentials.ExpiryWatch`: logs at start and daily,
and the expiry gauge) and offers the ``/.portcullis/metrics`` endpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from portcullis.config.schema import Config
from portcullis.control import Handler
from portcullis.credentials.watch import ExpiryWatch
from portcullis.metrics.endpoint import metrics_endpoints
from portcullis.metrics.layout import AUDIT_DROPPED, AUDIT_ERRORS, AUDIT_QUEUED, CONNECTIONS
from portcullis.metrics.region import Region
from portcullis.metrics.registry import METRICS, Metrics

__all__ = ["WorkerMetrics", "shared_region"]

log = logging.getLogger("portcullis.metrics")

_SPARE_SLOTS = 4  # for replacement workers while a dead one's pid is still taken


class AuditCounts(Protocol):
    """What is sampled from the audit log (:class:`~portcullis.audit.writer.AuditLog`)."""

    @property
    def queued(self) -> int: ...

    dropped: int
    errors: int


def shared_region(workers: int) -> Region | None:
    """Memory for ``workers`` worker processes (call before forking); None when unavailable."""
    try:
        return Region.shared_memory(workers + _SPARE_SLOTS)
    except OSError as exc:
        log.warning("metrics: no shared memory (%s); each worker counts alone", exc)
        return None


class WorkerMetrics:
    def __init__(
        self,
        region: Region | None,
        config: Callable[[], Config],
        *,
        connections: Callable[[], int],
        audit: AuditCounts | None = None,
        metrics: Metrics = METRICS,
    ) -> None:
        self.metrics = metrics
        if region is not None:
            metrics.attach(region)
        metrics.sample(CONNECTIONS, connections)
        if audit is not None:
            metrics.sample(AUDIT_QUEUED, lambda: audit.queued)
            metrics.sample(AUDIT_DROPPED, lambda: audit.dropped)
            metrics.sample(AUDIT_ERRORS, lambda: audit.errors)
        self.expiry = ExpiryWatch(config)
        self._config = config

    def endpoints(self) -> dict[str, Handler]:
        """``/.portcullis/metrics``, reading ``metrics`` settings from the current config."""
        return metrics_endpoints(self.metrics, lambda: self._config().metrics, self.expiry.families)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Publish samples every second; check credential expiry now and daily."""
        self.metrics.start(loop)
        self.expiry.start(loop)

    def stop(self) -> None:
        self.metrics.stop()
        self.expiry.stop()
