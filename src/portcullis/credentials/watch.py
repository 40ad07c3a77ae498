"""A running worker's eye on its credentials: logs at start and daily, and a metric.

:class:`ExpiryWatch` reads the dated credentials of the *current* configuration (it asks
for it each time, so a reload is seen) and logs each one that expires within
``server.expiry_warn_days`` (WARNING) or has expired (ERROR), at start and then once a
day. For the metric it offers the Prometheus family
``portcullis_secret_expiry_timestamp_seconds{what, key}`` (the Unix time each one ends).

``listen.tls`` is loaded once, at start (a new certificate takes a restart), so the TLS
certificate the watch reports is the one it read at its first check — at start, the one
being served — not a renewed file waiting on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from portcullis.config.schema import Config
from portcullis.credentials.dated import Dated, dated_credentials
from portcullis.credentials.expiry import Finding, Urgency, findings
from portcullis.metrics.exposition import Family, Sample

__all__ = ["DAILY", "ExpiryWatch"]

log = logging.getLogger("portcullis.credentials")

DAILY = 86400.0
_REREAD = 3600.0  # files behind an unchanged configuration are looked at again after this


class ExpiryWatch:
    def __init__(
        self, config: Callable[[], Config], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._config = config  # not called before the first check: it may not be ready yet
        self._clock = clock
        self._pinned: dict[str, bytes] | None = None  # listen.tls as read at the first check
        self._seen: Config | None = None
        self._read_at = float("-inf")
        self._dated: list[Dated] = []
        self._timer: asyncio.TimerHandle | None = None

    def dated(self) -> list[Dated]:
        """The current configuration's dated credentials (cached; re-read on a change)."""
        config = self._config()
        now = self._clock()
        if self._pinned is None:
            self._pinned = {}
            tls = config.listen.tls
            if tls is not None:
                with contextlib.suppress(OSError):  # reported as unreadable when dated
                    self._pinned[tls.cert_file] = Path(tls.cert_file).read_bytes()
        if config is not self._seen or now - self._read_at > _REREAD:
            self._dated, problems = dated_credentials(config, read=self._read)
            for problem in problems:
                log.warning("cannot tell when %s expires: %s", problem.path, problem.message)
            self._seen, self._read_at = config, now
        return self._dated

    def check(self) -> list[Finding]:
        """Log every credential that expires soon or has expired; returns them."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        warn_days = self._config().server.expiry_warn_days
        urgent = [
            f
            for f in findings(self.dated(), now=now, warn_days=warn_days)
            if f.urgency is not Urgency.OK
        ]
        for finding in urgent:
            level = logging.ERROR if finding.urgency is Urgency.EXPIRED else logging.WARNING
            log.log(level, "%s; rotate it (docs/operations.md)", finding)
        return urgent

    def start(self, loop: asyncio.AbstractEventLoop, interval: float = DAILY) -> None:
        """Check now, then every ``interval`` seconds until :meth:`stop`."""

        def tick() -> None:
            self._timer = loop.call_later(interval, tick)
            try:
                self.check()
            except Exception:
                log.exception("checking credential expiry failed")

        self.stop()
        tick()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def families(self) -> list[Family]:
        """The expiry gauge, one series per dated credential."""
        samples = tuple(
            Sample((("what", d.what), ("key", d.key_path)), d.expires.timestamp())
            for d in self.dated()
        )
        return [
            Family(
                "portcullis_secret_expiry_timestamp_seconds",
                "gauge",
                "When a dated secret or a certificate expires (Unix time); "
                "alert on this minus time().",
                samples,
            )
        ]

    def _read(self, path: str) -> bytes:
        pinned = (self._pinned or {}).get(path)
        return pinned if pinned is not None else Path(path).read_bytes()
