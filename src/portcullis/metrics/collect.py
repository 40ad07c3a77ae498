"""A scrape: the slots of every worker summed into Prometheus families.

Counters and histograms are summed over every slot that was ever claimed (a dead worker's
counts still happened); gauges only over slots whose worker is alive. Series with a small,
fixed label set (``result="ok|error"``, the audit counters) are always written, zero
included; labelled by route, reason, rule or status class, only those that counted
something (a route that never saw a request has no series).
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Sequence

from portcullis import __version__
from portcullis.metrics.exposition import Family, Labels, Sample, histogram
from portcullis.metrics.layout import (
    AUDIT_DROPPED,
    AUDIT_ERRORS,
    AUDIT_QUEUED,
    BOUNDS,
    CONNECTIONS,
    DECISION_HISTOGRAMS,
    DECISIONS,
    GRAPH_CALLS_ERROR,
    GRAPH_CALLS_OK,
    JWKS_REFRESHES_ERROR,
    JWKS_REFRESHES_OK,
    KINDS,
    REASONS,
    RELOADS_OK,
    RELOADS_REFUSED,
    REQUEST_HISTOGRAMS,
    ROUTE_BLOCK,
    STATUS_BASE,
    STATUS_CLASSES,
    SUM,
    TOKEN_CACHE_HITS,
    TOKEN_CACHE_MISSES,
    VIOLATIONS_BASE,
)
from portcullis.metrics.region import ROUTES, VIOLATIONS, Region

__all__ = ["collect"]

_FIXED_END = VIOLATIONS_BASE  # cells before the label-indexed parts


def collect(region: Region, extra: Iterable[Family] = ()) -> list[Family]:
    """Every family, summed over the region's slots, followed by ``extra``."""
    slots = region.used_slots()
    live = [slot for slot in slots if region.alive(slot)]
    fixed = _sum(region, slots, 0, _FIXED_END)
    gauges = _sum(region, live, 0, _FIXED_END)
    families = [
        Family(
            "portcullis_build_info",
            "gauge",
            "Always 1; the labels name the running version.",
            (Sample((("version", __version__), ("python", platform.python_version())), 1),),
        ),
        Family(
            "portcullis_workers",
            "gauge",
            "Worker processes whose numbers this scrape includes, alive now.",
            (Sample((), len(live)),),
        ),
        _requests(region, slots),
        Family(
            "portcullis_responses_total",
            "counter",
            "Decided requests by the status class of the response.",
            tuple(
                Sample((("code", name),), fixed[STATUS_BASE + index])
                for index, name in enumerate(STATUS_CLASSES)
                if fixed[STATUS_BASE + index]
            ),
        ),
        _histograms(
            "portcullis_decision_duration_seconds",
            "Time from the request head to the gate's decision.",
            region,
            slots,
            DECISION_HISTOGRAMS,
        ),
        _histograms(
            "portcullis_request_duration_seconds",
            "Time from the request head to the end of the response, for decided requests.",
            region,
            slots,
            REQUEST_HISTOGRAMS,
        ),
        _results(
            "portcullis_token_cache_total",
            "Bearer token lookups in the verified-token cache.",
            ("hit", fixed[TOKEN_CACHE_HITS]),
            ("miss", fixed[TOKEN_CACHE_MISSES]),
        ),
        _results(
            "portcullis_jwks_refreshes_total",
            "Fetches of an identity provider's signing keys.",
            ("ok", fixed[JWKS_REFRESHES_OK]),
            ("error", fixed[JWKS_REFRESHES_ERROR]),
        ),
        _results(
            "portcullis_graph_calls_total",
            "Microsoft Graph lookups of groups (overage).",
            ("ok", fixed[GRAPH_CALLS_OK]),
            ("error", fixed[GRAPH_CALLS_ERROR]),
        ),
        _results(
            "portcullis_reloads_total",
            "Configuration reloads, applied or refused (per worker: each worker reloads).",
            ("ok", fixed[RELOADS_OK]),
            ("refused", fixed[RELOADS_REFUSED]),
        ),
        _violations(region, slots),
        Family(
            "portcullis_audit_queue_depth",
            "gauge",
            "Audit records waiting to be written, all workers.",
            (Sample((), gauges[AUDIT_QUEUED]),),
        ),
        Family(
            "portcullis_audit_dropped_total",
            "counter",
            "Audit records dropped because the queue was full.",
            (Sample((), fixed[AUDIT_DROPPED]),),
        ),
        Family(
            "portcullis_audit_errors_total",
            "counter",
            "Audit records that could not be written (a sink failed).",
            (Sample((), fixed[AUDIT_ERRORS]),),
        ),
        Family(
            "portcullis_connections",
            "gauge",
            "Open client connections, all workers.",
            (Sample((), gauges[CONNECTIONS]),),
        ),
    ]
    return [*families, *extra]


def _sum(region: Region, slots: Sequence[int], start: int, stop: int) -> list[int]:
    total = [0] * (stop - start)
    for slot in slots:
        total = [a + b for a, b in zip(total, region.cells(slot)[start:stop].tolist(), strict=True)]
    return total


def _requests(region: Region, slots: Sequence[int]) -> Family:
    samples = []
    for index, name in sorted(region.names(ROUTES), key=lambda pair: pair[1]):
        start = region.layout.route_block(index)
        block = _sum(region, slots, start, start + ROUTE_BLOCK)
        for offset, count in enumerate(block):
            if not count:
                continue
            rest, kind = divmod(offset, len(KINDS))
            allowed, reason = divmod(rest, len(REASONS))
            labels: Labels = (
                ("route", name),
                ("decision", DECISIONS[allowed]),
                ("reason", REASONS[reason].value),
                ("kind", KINDS[kind]),
            )
            samples.append(Sample(labels, count))
    return Family(
        "portcullis_requests_total",
        "counter",
        "Requests the gate decided, by route, decision, reason and identity kind.",
        tuple(samples),
    )


def _histograms(
    name: str, text: str, region: Region, slots: Sequence[int], bases: Sequence[int]
) -> Family:
    samples: list[Sample] = []
    for allowed, base in enumerate(bases):
        buckets = _sum(region, slots, base, base + SUM)
        if any(buckets):
            total = sum(region.seconds(slot)[base + SUM] for slot in slots)
            labels: Labels = (("decision", DECISIONS[allowed]),)
            samples += histogram(labels, BOUNDS, buckets, total)
    return Family(name, "histogram", text, tuple(samples))


def _results(name: str, text: str, *pairs: tuple[str, int]) -> Family:
    return Family(name, "counter", text, tuple(Sample((("result", r),), n) for r, n in pairs))


def _violations(region: Region, slots: Sequence[int]) -> Family:
    names = region.names(VIOLATIONS)
    counts = _sum(region, slots, VIOLATIONS_BASE, VIOLATIONS_BASE + max(i for i, _ in names) + 1)
    return Family(
        "portcullis_violations_total",
        "counter",
        "Security violations detected (forged headers, replays, mix-ups, ...), by rule.",
        tuple(
            Sample((("rule", n),), counts[i])
            for i, n in sorted(names, key=lambda p: p[1])
            if counts[i]
        ),
    )
