"""``machine_on_human_route``: app-only or agent tokens on paths meant for people."""

from __future__ import annotations

from tests.guardrails.stream import AGENT, ALICE, BOT, denied, fired, monitor, obs

HUMAN_ONLY = {
    "name": "machines-on-portal",
    "kind": "machine_on_human_route",
    "paths": ["/admin/**", "/me"],
}


def test_an_app_there_is_a_violation_allowed_or_denied() -> None:
    guardrails = monitor(HUMAN_ONLY)
    allowed = guardrails.observe(obs(0, BOT, kind="app", path="/admin/users"))
    assert [v.detail for v in allowed] == ["app token on a human-only path (allowed)"]
    refused = guardrails.observe(denied(1, AGENT, kind="agent", path="/me"))
    assert [v.detail for v in refused] == ["agent token on a human-only path (denied)"]


def test_people_and_other_paths_are_fine() -> None:
    guardrails = monitor(HUMAN_ONLY)
    stream = [
        obs(0, ALICE, path="/admin/users"),
        obs(1, ALICE, kind="obo", path="/admin"),
        obs(2, BOT, kind="app", path="/administrator"),
        obs(3, BOT, kind="app", path="/api/admin"),
        obs(4, BOT, kind="app", path="/me/too"),
    ]
    assert fired(guardrails, stream) == []
    assert fired(guardrails, [obs(5, BOT, kind="app", path="/admin")]) == [
        (5, "machines-on-portal")
    ]


def test_allowed_only() -> None:
    guardrails = monitor({**HUMAN_ONLY, "allowed_only": True})
    assert fired(guardrails, [denied(0, BOT, kind="app", path="/me")]) == []
    assert fired(guardrails, [obs(1, BOT, kind="app", path="/me")]) == [(1, "machines-on-portal")]


def test_once_per_cooldown() -> None:
    guardrails = monitor(HUMAN_ONLY)
    stream = [obs(n * 60, BOT, kind="app", path="/me") for n in range(61)]
    assert fired(guardrails, stream) == [(0, "machines-on-portal"), (3600, "machines-on-portal")]
