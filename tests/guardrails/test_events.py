"""The observation the integrator builds per decision."""

from __future__ import annotations

from typing import Any

from portcullis.bearer.principal import TokenFacts
from portcullis.config.schema import Route
from portcullis.decision import Decision, Reason
from portcullis.guardrails.events import Observation
from portcullis.identity import Identity, Kind
from portcullis.routing import RouteTarget
from tests.guardrails.stream import START, TID, obs


def test_of_takes_what_the_gate_has() -> None:
    identity = Identity("https://login.example/v2.0", "sub", Kind.APP, TID, "oid", client_id="cid")
    route: RouteTarget[Any] = RouteTarget(
        2, Route(path="/api", upstream="http://127.0.0.1:9"), None
    )
    token = TokenFacts("uti", int(START) - 600, int(START) + 3000, "2.0", (), ())
    made = Observation.of(
        START,
        identity,
        Decision(False, Reason.FORBIDDEN),
        route,
        method="POST",
        path="/api/x",
        source_ip="192.0.2.1",
        token=token,
    )
    assert made == Observation(
        START, f"{TID}/oid", "app", False, "forbidden", 2, "/api", "POST", "/api/x",
        TID, "cid", 600.0, 3600.0, "192.0.2.1",
    )  # fmt: skip


def test_of_without_a_token() -> None:
    identity = Identity("https://idp.example", "alice")
    route: RouteTarget[Any] = RouteTarget(0, Route(upstream="http://127.0.0.1:9"), None)
    made = Observation.of(
        START, identity, Decision(True, Reason.SIGNED_IN), route, method="GET", path="/"
    )
    assert made.identity == "https://idp.example#alice"
    assert (made.token_age, made.token_lifetime, made.tenant_id) == (None, None, None)


def test_summary_leaves_out_what_is_missing() -> None:
    assert obs(0, client_id=None, source_ip="").summary() == {
        "route": 1,
        "route_path": "/",
        "method": "GET",
        "path": "/home",
        "allowed": True,
        "reason": "signed-in",
        "tenant_id": TID,
    }
