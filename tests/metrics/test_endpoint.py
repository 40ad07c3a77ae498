"""GET /.portcullis/metrics: who may scrape, and what they get."""

from __future__ import annotations

import pytest

from portcullis.config.schema import MetricsSettings
from portcullis.http.request import RequestHead
from portcullis.metrics import METRICS_PATH, Metrics, MetricsEndpoint, metrics_endpoints
from portcullis.metrics.exposition import CONTENT_TYPE, Family, Sample
from tests.support.heads import request_head


def head(client: str, forwarded_for: str | None = None, method: str = "GET") -> RequestHead:
    """A request head as the proxy builds it: X-Forwarded-For always names the peer last."""
    chain = f"{forwarded_for}, {client}" if forwarded_for else client
    return request_head(
        method,
        METRICS_PATH,
        host="127.0.0.1",
        headers=[(b"X-Forwarded-For", chain.encode())],
        client_ip=client,
        request_id="r1",
    )


def endpoint(settings: MetricsSettings, extra: list[Family] | None = None) -> MetricsEndpoint:
    return MetricsEndpoint(Metrics(), lambda: settings, lambda: extra or [])


@pytest.mark.parametrize("client", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_loopback_may_scrape_by_default(client: str) -> None:
    response = endpoint(MetricsSettings())(head(client), b"")
    assert response.status == 200
    assert response.content_type == CONTENT_TYPE
    assert b"portcullis_build_info{" in response.body
    assert b"# TYPE portcullis_requests_total counter" in response.body


@pytest.mark.parametrize(
    ("allow", "client", "forwarded_for", "status"),
    [
        (None, "10.1.2.3", None, 403),  # the default: loopback only
        (["10.0.0.0/8"], "10.1.2.3", None, 200),  # a listed Prometheus
        (None, "127.0.0.1", "203.0.113.7", 403),  # a local front proxy relaying a visitor
        (["127.0.0.1", "10.9.9.9"], "127.0.0.1", "10.9.9.9", 200),  # relaying a listed one
        (["127.0.0.1", "10.9.9.9"], "127.0.0.1", "10.9.9.9, 203.0.113.7", 403),  # one outside
        (None, "127.0.0.1", "not-an-address", 403),
    ],
)
def test_every_address_on_the_way_must_be_allowed(
    allow: list[str] | None, client: str, forwarded_for: str | None, status: int
) -> None:
    settings = MetricsSettings() if allow is None else MetricsSettings(allow=allow)
    response = endpoint(settings)(head(client, forwarded_for), b"")
    assert response.status == status, response.body
    assert (b"portcullis_build_info" in response.body) == (status == 200)


def test_disabled_is_not_found() -> None:
    response = endpoint(MetricsSettings(enabled=False))(head("127.0.0.1"), b"")
    assert response.status == 404


def test_only_get_and_head() -> None:
    handler = endpoint(MetricsSettings())
    assert handler(head("127.0.0.1", method="HEAD"), b"").status == 200
    refused = handler(head("127.0.0.1", method="POST"), b"")
    assert refused.status == 405
    assert (b"Allow", b"GET, HEAD") in refused.headers


def test_settings_are_read_at_each_request() -> None:
    current = [MetricsSettings()]
    handler = MetricsEndpoint(Metrics(), lambda: current[0])
    assert handler(head("127.0.0.1"), b"").status == 200
    current[0] = MetricsSettings(allow=["192.0.2.0/24"])  # a reload
    assert handler(head("127.0.0.1"), b"").status == 403


def test_extra_families_are_appended() -> None:
    extra = [Family("portcullis_extra", "gauge", "x", (Sample((), 2),))]
    body = endpoint(MetricsSettings(), extra)(head("127.0.0.1"), b"").body
    assert body.endswith(b"portcullis_extra 2\n")


def test_the_endpoint_table() -> None:
    endpoints = metrics_endpoints(Metrics(), MetricsSettings)
    assert list(endpoints) == ["/.portcullis/metrics"]
