"""Prometheus metrics: counters and histograms that cost a list increment on the request path.

* :mod:`~portcullis.metrics.layout` — which cell holds which number;
* :mod:`~portcullis.metrics.region` — the memory the worker processes share;
* :mod:`~portcullis.metrics.registry` — :data:`METRICS`, what the request path calls;
* :mod:`~portcullis.metrics.collect` and :mod:`~portcullis.metrics.exposition` — a scrape;
* :mod:`~portcullis.metrics.endpoint` — ``GET /.portcullis/metrics`` and who may ask.
"""

from __future__ import annotations

from portcullis.metrics.endpoint import METRICS_PATH, MetricsEndpoint, metrics_endpoints
from portcullis.metrics.layout import (
    AUDIT_DROPPED,
    AUDIT_ERRORS,
    AUDIT_QUEUED,
    CONNECTIONS,
    GRAPH_CALLS_ERROR,
    GRAPH_CALLS_OK,
    JWKS_REFRESHES_ERROR,
    JWKS_REFRESHES_OK,
    TOKEN_CACHE_HITS,
    TOKEN_CACHE_MISSES,
)
from portcullis.metrics.region import Region
from portcullis.metrics.registry import METRICS, Metrics

__all__ = [
    "AUDIT_DROPPED",
    "AUDIT_ERRORS",
    "AUDIT_QUEUED",
    "CONNECTIONS",
    "GRAPH_CALLS_ERROR",
    "GRAPH_CALLS_OK",
    "JWKS_REFRESHES_ERROR",
    "JWKS_REFRESHES_OK",
    "METRICS",
    "METRICS_PATH",
    "TOKEN_CACHE_HITS",
    "TOKEN_CACHE_MISSES",
    "Metrics",
    "MetricsEndpoint",
    "Region",
    "metrics_endpoints",
]
