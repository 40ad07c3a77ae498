"""Groups overage end to end: the dev IdP signs carol in with the overage form instead of
`groups`; Portcullis resolves her groups through a local Microsoft Graph stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portcullis.devidp import DevIdp
from portcullis.devidp.defaults import GROUP_STAFF
from tests.auth.browser import Browser
from tests.auth.conftest import sign_in_config
from tests.support.graph_standin import CLIENT_ID, CLIENT_SECRET, GraphStandIn, run_graph_standin
from tests.support.proxy import Proxy, run_proxy

CAROL = "c3a1e5b7-9d2f-4a6c-8e10-3f5b7d9a1c03"


@pytest.fixture
def graph(idp: DevIdp) -> Iterator[GraphStandIn]:
    with run_graph_standin(tenants={idp.tenant_id}, secrets={CLIENT_ID: CLIENT_SECRET}) as standin:
        standin.memberships[CAROL] = [GROUP_STAFF, *standin.groups(260)]
        yield standin


@pytest.fixture
def proxy_with_graph(
    idp: DevIdp, app: str, spare_port: int, graph: GraphStandIn, tmp_path: Path
) -> Iterator[Proxy]:
    config: dict[str, Any] = sign_in_config(idp, app, spare_port, tmp_path)
    config["routes"].insert(
        0, {"path": "/team", "upstream": app, "allow": {"groups": [GROUP_STAFF]}}
    )
    config["auth"]["graph"] = {
        "provider": "default",
        "client_id": CLIENT_ID,
        "client_secret": [{"value": CLIENT_SECRET}],
        "authority_host": graph.url,
        "base_url": graph.url,
    }
    with run_proxy(config, tmp_path) as running:
        yield running


def test_overage_groups_are_resolved_through_graph_and_cached(
    proxy_with_graph: Proxy, graph: GraphStandIn
) -> None:
    carol = Browser()
    assert carol.login(proxy_with_graph.url, "carol").status == 302
    resp = carol.get(proxy_with_graph.url + "/team", headers={"Accept": "application/json"})
    assert resp.status == 200, resp.body[:300]
    seen = json.loads(resp.body)["identity"]
    assert GROUP_STAFF in seen["groups"].split(",")
    assert carol.get(proxy_with_graph.url + "/team").status == 200
    assert graph.graph_calls >= 1
    calls = graph.graph_calls
    assert carol.get(proxy_with_graph.url + "/team").status == 200
    assert graph.graph_calls == calls  # cached per (tid, oid)
    assert all(p.startswith("/v1.0/users/") for p in graph.graph_paths)
    assert "graph.microsoft.com" not in "".join(graph.graph_paths)


def test_graph_down_fails_group_rules_closed_and_others_still_work(
    proxy_with_graph: Proxy, graph: GraphStandIn
) -> None:
    graph.fail_next(500, times=1000)
    carol = Browser()
    carol.login(proxy_with_graph.url, "carol")
    refused = carol.get(proxy_with_graph.url + "/team", headers={"Accept": "application/json"})
    assert refused.status == 403
    assert json.loads(refused.body)["error"] == "groups-unresolved"
    assert graph.graph_calls >= 1  # refused because Graph failed, not because it was never asked
    assert carol.get(proxy_with_graph.url + "/hello").status == 200
    assert "Traceback" not in proxy_with_graph.log()
