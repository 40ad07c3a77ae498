"""``GET /.portcullis/metrics``: the Prometheus text, for the addresses ``metrics.allow`` names.

Who may scrape: the connecting address *and* every address in the request's
``X-Forwarded-For`` must be in ``metrics.allow`` (default: loopback). The proxy builds that
header itself — from the peer alone, or, behind a trusted proxy (``listen.trusted_proxies``),
the chain that proxy reported plus the peer — so a front proxy on the same host that
forwards a visitor's ``/.portcullis/metrics`` still names the visitor, and is refused.
Everyone else gets ``403``; ``metrics.enabled: false`` answers ``404``.

The numbers are labelled by route, decision, reason, identity kind, status class, result
and violation rule — never by user, client address or token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Final

from portcullis.config.schema import MetricsSettings
from portcullis.control import Handler, method_not_allowed
from portcullis.http.headers import TrustedProxies
from portcullis.http.pages import LocalResponse, error_response
from portcullis.http.request import RequestHead
from portcullis.metrics.collect import collect
from portcullis.metrics.exposition import CONTENT_TYPE, Family, render
from portcullis.metrics.registry import Metrics

__all__ = ["METRICS_PATH", "MetricsEndpoint", "metrics_endpoints"]

log = logging.getLogger("portcullis.metrics")

METRICS_PATH: Final = "/.portcullis/metrics"
_XFF: Final = b"x-forwarded-for"


class MetricsEndpoint:
    """The handler; reads the settings at each request (a reload may change them)."""

    def __init__(
        self,
        metrics: Metrics,
        settings: Callable[[], MetricsSettings],
        extra: Callable[[], Iterable[Family]] = tuple,
    ) -> None:
        self._metrics = metrics
        self._settings = settings
        self._extra = extra
        self._allow: tuple[MetricsSettings | None, TrustedProxies] = (None, TrustedProxies(()))

    def __call__(self, head: RequestHead, body: bytes) -> LocalResponse:
        settings = self._settings()
        if not settings.enabled:
            return error_response(
                404, "Unknown Portcullis endpoint.", request_id=head.request_id, accept=head.accept
            )
        if refused := method_not_allowed(head, ("GET", "HEAD")):
            return refused
        if not self.allowed(head, settings):
            log.info("metrics asked by %s, not in metrics.allow; refused", head.client_ip)
            return error_response(
                403,
                "Metrics are served to the addresses in metrics.allow only.",
                request_id=head.request_id,
                accept=head.accept,
            )
        self._metrics.publish()
        families = collect(self._metrics.region, self._extra())
        return LocalResponse(200, render(families), CONTENT_TYPE)

    def allowed(self, head: RequestHead, settings: MetricsSettings) -> bool:
        """The peer and every forwarded-for address are in ``settings.allow``."""
        known, allow = self._allow
        if known is not settings:
            allow = TrustedProxies(settings.allow)
            self._allow = (settings, allow)
        if head.client_ip not in allow:
            return False
        for name, value in head.headers:
            if name.lower() == _XFF:
                for address in value.decode("latin-1").split(","):
                    if address.strip() not in allow:
                        return False
        return True


def metrics_endpoints(
    metrics: Metrics,
    settings: Callable[[], MetricsSettings],
    extra: Callable[[], Iterable[Family]] = tuple,
) -> dict[str, Handler]:
    """The control endpoint, for :class:`~portcullis.control.ControlEndpoints`."""
    return {METRICS_PATH: MetricsEndpoint(metrics, settings, extra)}
