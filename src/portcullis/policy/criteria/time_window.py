"""``time: {days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:30", zone: Europe/Paris}``.

The request time (the clock passed in) falls on one of ``days`` (default: every day)
between ``from`` (inclusive) and ``to`` (exclusive) in the time zone ``zone`` (IANA name;
default UTC). ``from`` later than ``to`` spans midnight: the day is the one the window
started on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portcullis.policy.criterion import Context, Criterion, PolicyError, PolicyProblem
from portcullis.policy.facts import Facts

NAME = "time"
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_KEYS = frozenset({"days", "from", "to", "zone"})


def compile(value: object, ctx: Context, path: str) -> Criterion:
    if not isinstance(value, Mapping):
        raise PolicyError([PolicyProblem(path, "expected {days, from, to, zone}")])
    problems = [
        PolicyProblem(f"{path}.{key}", "unknown key: days, from, to or zone")
        for key in value
        if key not in _KEYS
    ]
    days = value.get("days", list(_DAYS))
    if not isinstance(days, list) or not days or any(d not in _DAYS for d in days):
        problems.append(PolicyProblem(f"{path}.days", "expected a list of mon, tue, ... sun"))
        days = []
    start = _minutes(value.get("from", "00:00"), f"{path}.from", problems)
    end = _minutes(value.get("to", "24:00"), f"{path}.to", problems)
    zone_name = value.get("zone", "UTC")
    zone: ZoneInfo | None = None
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(PolicyProblem(f"{path}.zone", f"unknown time zone {zone_name!r}"))
    if problems or zone is None:
        raise PolicyError(problems)
    weekdays = frozenset(_DAYS.index(d) for d in days)
    tz = zone

    def test(facts: Facts) -> bool:
        local = datetime.fromtimestamp(facts.now, tz)
        minute = local.hour * 60 + local.minute
        if start <= end:
            return local.weekday() in weekdays and start <= minute < end
        if minute >= start:  # the evening part of an overnight window
            return local.weekday() in weekdays
        return minute < end and (local.weekday() - 1) % 7 in weekdays

    shown = f"{','.join(days)} {_clock(start)}-{_clock(end)} {zone_name}"
    return Criterion(NAME, test, f"time within {shown}")


def _minutes(value: object, path: str, problems: list[PolicyProblem]) -> int:
    if value == "24:00":
        return 24 * 60
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        problems.append(PolicyProblem(path, 'expected a time of day such as "08:30"'))
        return 0
    return int(match[1]) * 60 + int(match[2])


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
