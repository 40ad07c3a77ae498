"""A scrape sums every worker's slot: real forked workers counting into one region."""

from __future__ import annotations

import os
import time

from portcullis.decision import Reason
from portcullis.metrics import Metrics, Region
from portcullis.metrics.collect import collect
from portcullis.metrics.exposition import render
from portcullis.metrics.layout import CONNECTIONS
from tests.metrics.support import decision, samples, target


def test_one_scrape_sees_every_worker() -> None:
    region = Region.shared_memory(4, routes=8)
    try:
        read, write = os.pipe()
        children = []
        for user_requests in (2, 3):
            pid = os.fork()
            if pid == 0:  # a worker: count, publish a gauge, stay alive until told
                os.close(write)
                metrics = Metrics(region)
                for _ in range(user_requests):
                    metrics.request(
                        target("/api"), decision(True, Reason.SIGNED_IN, "user"), 200, 0.01
                    )
                metrics.request(target("/"), decision(False, Reason.FORBIDDEN), 403, 0.01)
                metrics.sample(CONNECTIONS, lambda: 5)
                metrics.publish()
                os.read(read, 1)
                os._exit(0)
            children.append(pid)
        os.close(read)
        _wait_for_slots(region, 2)
        # The parent scrapes, as the worker answering /.portcullis/metrics would.
        live = samples(render(collect(region)))
        os.write(write, b"xx")
        os.close(write)
        for pid in children:
            os.waitpid(pid, 0)
        after = samples(render(collect(region)))
    finally:
        region.close()
    key = 'portcullis_requests_total{route="*/api",decision="allow",reason="signed-in",kind="user"}'
    assert live[key] == 5
    assert (
        live['portcullis_requests_total{route="*/",decision="deny",reason="forbidden",kind="none"}']
        == 2
    )
    assert live['portcullis_request_duration_seconds_count{decision="allow"}'] == 5
    assert live["portcullis_workers"] == 2
    assert live["portcullis_connections"] == 10
    # The workers are gone: their counts stay, their gauges do not.
    assert after[key] == 5
    assert after["portcullis_workers"] == 0
    assert after["portcullis_connections"] == 0


def _wait_for_slots(region: Region, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        slots = region.used_slots()
        if len(slots) >= count and all(region.cells(s)[CONNECTIONS] for s in slots):
            return
        time.sleep(0.01)
    raise AssertionError("the workers did not start")
