"""A worker's wiring: its slot, the sampled values, the expiry watch, the endpoint."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from portcullis.config import validate
from portcullis.metrics import METRICS_PATH, Metrics
from portcullis.metrics.worker import WorkerMetrics, shared_region
from tests.metrics.support import samples
from tests.metrics.test_endpoint import head


@dataclass
class FakeAudit:
    """What WorkerMetrics reads of an AuditLog."""

    queued: int = 3
    dropped: int = 2
    errors: int = 1


def config(tmp_path: Path) -> object:
    return validate(
        {
            "routes": [{"upstream": "http://127.0.0.1:1"}],
            "auth": {
                "external_url": "https://p.example.com",
                "providers": [
                    {
                        "type": "oidc",
                        "issuer": "https://i.example.com",
                        "client_id": "c",
                        "client_secret": [{"value": "s", "expires": "2030-01-01"}],
                    }
                ],
                "session": {"keys": [{"value": "k" * 40}]},
            },
        }
    )


def test_a_worker_serves_its_numbers_and_the_expiry_gauge(tmp_path: Path) -> None:
    region = shared_region(2)
    assert region is not None
    try:
        current = config(tmp_path)
        observed = WorkerMetrics(
            region,
            lambda: current,  # type: ignore[arg-type,return-value]
            connections=lambda: 4,
            audit=FakeAudit(),
            metrics=Metrics(),
        )
        assert observed.metrics.region is region
        handler = observed.endpoints()[METRICS_PATH]

        async def main() -> bytes:
            observed.start(asyncio.get_running_loop())
            response = handler(head("127.0.0.1"), b"")
            observed.stop()
            assert not isinstance(response, asyncio.Future)
            return response.body  # type: ignore[union-attr]

        found = samples(asyncio.run(main()))
    finally:
        region.close()
    assert found["portcullis_connections"] == 4
    assert found["portcullis_audit_queue_depth"] == 3
    assert found["portcullis_audit_dropped_total"] == 2
    assert found["portcullis_audit_errors_total"] == 1
    key = (
        'portcullis_secret_expiry_timestamp_seconds{what="secret",'
        'key="auth.providers[0].client_secret[0]"}'
    )
    assert found[key] == 1893456000  # 2030-01-01T00:00:00Z


def test_without_shared_memory_a_worker_counts_alone() -> None:
    plain = validate({"routes": [{"upstream": "http://127.0.0.1:1"}]})
    observed = WorkerMetrics(None, lambda: plain, connections=lambda: 0, metrics=Metrics())
    assert not observed.metrics.region.shared
    assert observed.metrics.region.used_slots() == [0]
