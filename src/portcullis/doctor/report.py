"""What ``portcullis doctor`` found: checks with OK / WARN / FAIL, as text or JSON (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import orjson

__all__ = ["Check", "Status", "overall", "render_json", "render_text"]


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works now, needs attention (a secret expiring soon, a slow clock)
    FAIL = "fail"  # Portcullis cannot work like this (doctor exits 1)


@dataclass(frozen=True, slots=True)
class Check:
    """One check: a short ``name`` (what was looked at) and a one-line ``detail``."""

    name: str
    status: Status
    detail: str


def overall(checks: Sequence[Check]) -> Status:
    """The worst status of ``checks`` (OK for none)."""
    statuses = {check.status for check in checks}
    for status in (Status.FAIL, Status.WARN):
        if status in statuses:
            return status
    return Status.OK


def render_text(checks: Sequence[Check]) -> str:
    """One aligned line per check, then a summary line."""
    width = max((len(check.name) for check in checks), default=0)
    lines = [
        f"{check.status.upper():<4}  {check.name:<{width}}  {_one_line(check.detail)}"
        for check in checks
    ]
    counts = {s: sum(1 for c in checks if c.status is s) for s in Status}
    lines.append(
        f"{overall(checks).upper()}: {counts[Status.OK]} ok, "
        f"{_plural(counts[Status.WARN], 'warning')}, {_plural(counts[Status.FAIL], 'failure')}"
    )
    return "\n".join(lines) + "\n"


def render_json(checks: Sequence[Check]) -> str:
    document = {
        "status": overall(checks).value,
        "checks": [
            {"name": c.name, "status": c.status.value, "detail": _one_line(c.detail)}
            for c in checks
        ],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
