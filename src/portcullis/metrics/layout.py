"""Where each number lives: the cells of one worker's slot, as small integer offsets.

A worker's metrics are a flat array of 64-bit integer *cells* (its *slot*); every series is
one cell, or a fixed run of cells, at an offset computed here once. The hot path only
indexes: ``cells[TOKEN_CACHE_HITS] += 1``. Every worker runs the same code, so every worker
agrees on the layout; :mod:`portcullis.metrics.region` places one slot per worker in shared
memory and sums them at scrape time.

The labels are closed sets (decision, reason, identity kind, status class, result) except
two: the route (``host`` + ``path`` prefix of a configured route) and the violation rule,
which are looked up in a bounded table of names shared by the workers
(:class:`~portcullis.metrics.region.Region`). No label ever carries a user, a token or a
client address.
"""

from __future__ import annotations

from typing import Final

from portcullis.decision import Reason

__all__ = [
    "AUDIT_DROPPED",
    "AUDIT_ERRORS",
    "AUDIT_QUEUED",
    "BOUNDS",
    "CLAIMS",
    "CONNECTIONS",
    "COUNTERS",
    "DECISIONS",
    "DECISION_HISTOGRAMS",
    "GAUGES",
    "GRAPH_CALLS_ERROR",
    "GRAPH_CALLS_OK",
    "HISTOGRAM_CELLS",
    "JWKS_REFRESHES_ERROR",
    "JWKS_REFRESHES_OK",
    "KINDS",
    "KIND_INDEX",
    "OWNER",
    "REASONS",
    "REASON_INDEX",
    "RELOADS_OK",
    "RELOADS_REFUSED",
    "REQUEST_HISTOGRAMS",
    "ROUTE_BLOCK",
    "SAMPLED_COUNTERS",
    "STATUS_BASE",
    "STATUS_CLASSES",
    "SUM",
    "TOKEN_CACHE_HITS",
    "TOKEN_CACHE_MISSES",
    "VIOLATIONS_BASE",
    "VIOLATION_CAPACITY",
    "SlotLayout",
    "request_offset",
]

# --- bookkeeping ------------------------------------------------------------------------------
OWNER: Final = 0  # the pid of the worker that owns the slot (0: never claimed)
CLAIMS: Final = 1  # how often the slot was claimed (> 0: it holds numbers worth summing)

# --- counters the hot path increments directly --------------------------------------------------
TOKEN_CACHE_HITS: Final = 8
TOKEN_CACHE_MISSES: Final = 9
JWKS_REFRESHES_OK: Final = 10
JWKS_REFRESHES_ERROR: Final = 11
GRAPH_CALLS_OK: Final = 12
GRAPH_CALLS_ERROR: Final = 13
RELOADS_OK: Final = 14
RELOADS_REFUSED: Final = 15

# --- values copied in from their owner about once a second (see Metrics.sample) ---------------
AUDIT_QUEUED: Final = 24  # gauge
CONNECTIONS: Final = 25  # gauge
AUDIT_DROPPED: Final = 26  # counter (the owner's running total)
AUDIT_ERRORS: Final = 27  # counter
GAUGES: Final = (AUDIT_QUEUED, CONNECTIONS)
SAMPLED_COUNTERS: Final = (AUDIT_DROPPED, AUDIT_ERRORS)
COUNTERS: Final = (
    TOKEN_CACHE_HITS,
    TOKEN_CACHE_MISSES,
    JWKS_REFRESHES_OK,
    JWKS_REFRESHES_ERROR,
    GRAPH_CALLS_OK,
    GRAPH_CALLS_ERROR,
    RELOADS_OK,
    RELOADS_REFUSED,
    *SAMPLED_COUNTERS,
)

# --- responses by status class: 1xx ... 5xx (index status // 100) -----------------------------
STATUS_BASE: Final = 32
STATUS_CLASSES: Final = ("1xx", "2xx", "3xx", "4xx", "5xx")

# --- histograms ---------------------------------------------------------------------------------
BOUNDS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Upper bounds (seconds) of the latency buckets; a last, unbounded bucket follows."""
SUM: Final = len(BOUNDS) + 1  # after the buckets: the sum of observations (a double)
HISTOGRAM_CELLS: Final = SUM + 1
DECISIONS: Final = ("deny", "allow")  # index: int(allowed)
_HISTOGRAMS: Final = 48
DECISION_HISTOGRAMS: Final = tuple(_HISTOGRAMS + i * HISTOGRAM_CELLS for i in range(2))
REQUEST_HISTOGRAMS: Final = tuple(_HISTOGRAMS + (2 + i) * HISTOGRAM_CELLS for i in range(2))

# --- violations by rule: one cell per name in the shared violation table ------------------------
VIOLATIONS_BASE: Final = _HISTOGRAMS + 4 * HISTOGRAM_CELLS
VIOLATION_CAPACITY: Final = 64  # distinct rule names; later ones count as "other"

# --- requests by route, decision, reason and kind: one block of cells per route ---------------
REASONS: Final = tuple(Reason)
REASON_INDEX: Final = {reason: index for index, reason in enumerate(REASONS)}
KINDS: Final = ("none", "user", "app", "agent", "obo")
KIND_INDEX: Final[dict[str | None, int]] = {None: 0, **{k: i for i, k in enumerate(KINDS)}}
ROUTE_BLOCK: Final = len(DECISIONS) * len(REASONS) * len(KINDS)
_ROUTES: Final = VIOLATIONS_BASE + VIOLATION_CAPACITY


def request_offset(allowed: bool, reason: Reason, kind: int) -> int:
    """The cell of (decision, reason, kind) inside a route's block."""
    return (int(allowed) * len(REASONS) + REASON_INDEX[reason]) * len(KINDS) + kind


class SlotLayout:
    """The size of a slot holding ``route_capacity`` route blocks (the rest is fixed)."""

    __slots__ = ("cells", "route_capacity")

    def __init__(self, route_capacity: int) -> None:
        if route_capacity < 1:
            raise ValueError("route_capacity must be at least 1")
        self.route_capacity = route_capacity
        self.cells = _ROUTES + route_capacity * ROUTE_BLOCK

    def route_block(self, index: int) -> int:
        """The first cell of the block of the route at ``index`` in the route table."""
        return _ROUTES + index * ROUTE_BLOCK

    def __repr__(self) -> str:
        return f"SlotLayout(route_capacity={self.route_capacity}, cells={self.cells})"
