"""Token lifespan: how long the tokens that reached Portcullis were valid, per client app and kind.

A record carries ``token_lifetime`` (``exp - iat``, or ``token_age +
token_remaining`` at the time of the decision). Each token counts once, by its
``token_id`` (``uti``/``jti``); records without an id count one each. The
report gives count, min, p50, p90 and max per (client app, kind) and lists
every token whose lifetime exceeds ``max_lifetime`` (Entra's default access
token lives 60-90 minutes; a much longer one deserves a look).

Pure: :func:`token_report` takes records, :func:`format_token_report` renders.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from portcullis.audit.table import format_time, printable

__all__ = [
    "LifetimeStats",
    "LongToken",
    "TokenReport",
    "format_duration",
    "format_token_report",
    "token_report",
]


@dataclass(frozen=True, slots=True)
class LifetimeStats:
    client_id: str
    kind: str
    count: int
    min: float
    p50: float
    p90: float
    max: float


@dataclass(frozen=True, slots=True)
class LongToken:
    token_id: str
    client_id: str
    kind: str
    lifetime: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class TokenReport:
    max_lifetime: float
    groups: tuple[LifetimeStats, ...]
    too_long: tuple[LongToken, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_lifetime": self.max_lifetime,
            "groups": [vars_of(g) for g in self.groups],
            "too_long": [vars_of(t) for t in self.too_long],
        }


def vars_of(item: LifetimeStats | LongToken) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__slots__}


def token_report(records: Iterable[Mapping[str, Any]], *, max_lifetime: float) -> TokenReport:
    """Lifetimes per (client, kind), and the tokens living longer than ``max_lifetime``."""
    tokens: dict[object, tuple[str, str, float, float, str]] = {}
    for index, record in enumerate(records):
        lifetime = _lifetime(record)
        if lifetime is None:
            continue
        token_id = record.get("token_id")
        key: object = token_id if isinstance(token_id, str) and token_id else index
        client = str(record.get("client_id") or "-")
        kind = str(record.get("kind") or "-")
        seen = record.get("time")
        tokens[key] = (
            client,
            kind,
            lifetime,
            seen if isinstance(seen, int | float) else 0.0,
            token_id if isinstance(token_id, str) else "-",
        )
    by_group: dict[tuple[str, str], list[float]] = {}
    too_long = []
    for client, kind, lifetime, seen, token_id in tokens.values():
        by_group.setdefault((client, kind), []).append(lifetime)
        if lifetime > max_lifetime:
            too_long.append(LongToken(token_id, client, kind, lifetime, seen))
    groups = tuple(
        _stats(client, kind, sorted(values)) for (client, kind), values in sorted(by_group.items())
    )
    too_long.sort(key=lambda t: (-t.lifetime, t.client_id, t.token_id))
    return TokenReport(max_lifetime, groups, tuple(too_long))


def _lifetime(record: Mapping[str, Any]) -> float | None:
    value = record.get("token_lifetime")
    if not isinstance(value, int | float):
        age, remaining = record.get("token_age"), record.get("token_remaining")
        if not (isinstance(age, int | float) and isinstance(remaining, int | float)):
            return None
        value = age + remaining
    return float(value) if math.isfinite(value) else None


def _stats(client: str, kind: str, values: list[float]) -> LifetimeStats:
    return LifetimeStats(
        client,
        kind,
        len(values),
        values[0],
        _percentile(values, 0.5),
        _percentile(values, 0.9),
        values[-1],
    )


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least ``q`` of the values at or below it."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def format_duration(seconds: float) -> str:
    """``5400`` → ``1h30m``; ``86400`` → ``1d``; ``45`` → ``45s``."""
    total = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts[:2]) or "0s"


def format_token_report(report: TokenReport) -> str:
    if not report.groups:
        return "no token lifetimes recorded"
    header = (
        f"{'CLIENT':<38}  {'KIND':<5}  {'COUNT':>6}  {'MIN':>7}  {'P50':>7}  {'P90':>7}  {'MAX':>7}"
    )
    lines = [header]
    for g in report.groups:
        lines.append(
            f"{_cell(g.client_id, 38)}  {_cell(g.kind, 5)}  {g.count:>6}  "
            + "  ".join(f"{format_duration(v):>7}" for v in (g.min, g.p50, g.p90, g.max))
        )
    limit = format_duration(report.max_lifetime)
    if not report.too_long:
        lines.append(f"\nno token lived longer than {limit}")
        return "\n".join(lines)
    count = len(report.too_long)
    lines.append(f"\n{count} token{'s' * (count != 1)} lived longer than {limit}:")
    lines.append(f"{'TOKEN ID':<38}  {'CLIENT':<38}  {'KIND':<5}  {'LIFETIME':>8}  LAST SEEN")
    for t in report.too_long:
        lines.append(
            f"{_cell(t.token_id, 38)}  {_cell(t.client_id, 38)}  {_cell(t.kind, 5)}  "
            f"{format_duration(t.lifetime):>8}  {format_time(t.last_seen)}"
        )
    return "\n".join(lines)


def _cell(text: str, width: int) -> str:
    text = printable(text)
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"
