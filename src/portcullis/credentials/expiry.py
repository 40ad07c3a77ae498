"""How soon each dated credential expires — pure: the credentials and ``now`` in, findings out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from portcullis.config.schema import Config
from portcullis.credentials.dated import Dated, Reader, dated_credentials

__all__ = ["Finding", "Urgency", "expiring", "findings"]

_DAY = 86400.0


class Urgency(StrEnum):
    OK = "ok"  # further away than the warning window
    SOON = "soon"  # within the warning window: rotate now
    EXPIRED = "expired"  # already over: whatever uses it fails


@dataclass(frozen=True, slots=True)
class Finding:
    """One credential's expiry as seen at a given moment."""

    what: str
    key_path: str
    expires: datetime
    days_left: float  # negative once expired
    urgency: Urgency

    def describe(self) -> str:
        """What expires when, without the key path: ``secret expires ... (in 12 days)``."""
        day = self.expires.strftime("%Y-%m-%d %H:%M UTC")
        if self.urgency is Urgency.EXPIRED:
            return f"{self.what} expired {day} ({_days(-self.days_left)} ago)"
        return f"{self.what} expires {day} (in {_days(self.days_left)})"

    def __str__(self) -> str:
        return f"{self.key_path}: {self.describe()}"


def findings(dated: Iterable[Dated], *, now: datetime, warn_days: float) -> list[Finding]:
    """Every credential with its urgency, soonest first."""
    result = []
    for item in dated:
        left = (item.expires - now).total_seconds() / _DAY
        urgency = (
            Urgency.EXPIRED if left <= 0 else Urgency.SOON if left <= warn_days else Urgency.OK
        )
        result.append(Finding(item.what, item.key_path, item.expires, left, urgency))
    return sorted(result, key=lambda f: (f.expires, f.key_path))


def expiring(
    config: Config, *, now: datetime, warn_days: float, read: Reader | None = None
) -> list[Finding]:
    """The credentials of ``config`` that expire within ``warn_days`` or have expired.

    Certificate files are read through ``read`` (default: from disk); unreadable ones are
    left out here (``portcullis check`` and ``doctor`` report them).
    """
    dated, _ = dated_credentials(config, read=read)
    return [f for f in findings(dated, now=now, warn_days=warn_days) if f.urgency is not Urgency.OK]


def _days(days: float) -> str:
    if days < 1:
        hours = max(int(days * 24), 0)
        return f"{hours} hour{'s' * (hours != 1)}"
    whole = int(days)
    return f"{whole} day{'s' * (whole != 1)}"
