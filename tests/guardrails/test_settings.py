"""The ``guardrails`` settings: every problem with its key path (config/schema.py)."""

from __future__ import annotations

from typing import Any

import pytest

from portcullis.config import ConfigError, validate
from tests.guardrails.stream import TID

ROUTES = [{"upstream": "http://127.0.0.1:8080"}]


def problems(guardrails: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate({"routes": ROUTES, "guardrails": guardrails})
    return [str(p) for p in info.value.problems]


def one_rule(**rule: Any) -> list[str]:
    return problems({"rules": [{"name": "r", **rule}]})


def test_every_kind_with_its_parameters() -> None:
    config = validate(
        {
            "routes": ROUTES,
            "guardrails": {
                "rules": [
                    {"name": "a", "kind": "denials", "count": 5, "window_minutes": 10,
                     "severity": "high", "block": {"minutes": 15}},
                    {"name": "b", "kind": "machine_on_human_route", "paths": ["/admin/**"],
                     "allowed_only": True},
                    {"name": "c", "kind": "outside_hours",
                     "hours": {"days": ["mon"], "from": "08:00", "to": "18:00", "zone": "UTC"}},
                    {"name": "d", "kind": "new_client", "warmup_minutes": 0,
                     "known_clients": ["x"]},
                    {"name": "e", "kind": "foreign_tenant", "tenants": [TID.upper()]},
                    {"name": "f", "kind": "old_token", "max_age_minutes": 60,
                     "cooldown_minutes": 5, "kinds": ["app"]},
                    {"name": "g", "kind": "agent_burst", "max_requests": 100, "window_seconds": 10},
                ],
                "webhooks": [{"url": {"env": "TEAMS_WEBHOOK"}, "format": "teams",
                              "min_severity": "medium"}],
                "blocks": {"sqlite_path": "/var/lib/portcullis/blocks.db"},
            },
        }
    )  # fmt: skip
    settings = config.guardrails
    assert settings is not None
    assert [r.kind for r in settings.rules][-1] == "agent_burst"
    assert settings.rules[4].tenants == [TID]  # tenant ids are lower-cased
    assert settings.blocks.refresh_seconds == 1.0


def test_guardrails_are_off_by_default() -> None:
    assert validate({"routes": ROUTES}).guardrails is None


def test_missing_and_stray_parameters() -> None:
    assert one_rule(kind="denials", count=5, paths=["/x"]) == [
        "guardrails.rules[0]: 'window_minutes' is required for kind denials; "
        "'paths' is not used by kind denials"
    ]
    assert one_rule(kind="old_token") == [
        "guardrails.rules[0]: give max_age_minutes, max_lifetime_minutes or both"
    ]


def test_values_are_checked_at_their_key() -> None:
    assert one_rule(kind="denials", count=0, window_minutes=10) == [
        "guardrails.rules[0].count: must be at least 1, got 0"
    ]
    assert one_rule(kind="foreign_tenant", tenants=["contoso"]) == [
        "guardrails.rules[0].tenants[0]: 'contoso' is not a tenant id (GUID)"
    ]
    assert one_rule(kind="machine_on_human_route", paths=["admin"]) == [
        "guardrails.rules[0].paths[0]: a path pattern must start with '/'"
    ]
    assert one_rule(kind="denials", count=5, window_minutes=10, block={"minutes": 0}) == [
        "guardrails.rules[0].block.minutes: must be greater than 0, got 0"
    ]


def test_hours_are_read_as_the_policy_time_criterion() -> None:
    assert one_rule(kind="outside_hours", hours={"days": ["monday"], "zone": "Mars/Base"}) == [
        "guardrails.rules[0].hours: days: expected a list of mon, tue, ... sun; "
        "zone: unknown time zone 'Mars/Base'"
    ]


def test_unknown_kind_and_names() -> None:
    (kind,) = one_rule(kind="denial")
    assert kind.startswith("guardrails.rules[0].kind: expected 'denials', ")
    assert problems({"rules": [{"name": "bad name", "kind": "new_client"}]})[0].startswith(
        "guardrails.rules[0].name: "
    )
    rule = {"name": "twice", "kind": "new_client"}
    assert problems({"rules": [rule, rule]}) == [
        "guardrails: rules[1].name: duplicates rules[0] ('twice')"
    ]


def test_an_inline_webhook_url_is_checked_and_never_shown() -> None:
    found = problems({"webhooks": [{"url": {"value": "http://hooks.example.com/s3cr3t"}}]})
    assert found == [
        "guardrails.webhooks[0]: the webhook URL must be https (http only to a loopback address)"
    ]
    assert problems({"webhooks": [{"url": "https://hooks.example.com/s3cr3t"}]}) == [
        "guardrails.webhooks[0].url: expected a mapping, got a string"
    ]


def test_unknown_keys_are_named() -> None:
    assert problems({"rule": []}) == ["guardrails.rule: unknown key (did you mean 'rules'?)"]
    assert problems({"webhooks": [{"url": {"env": "X"}, "format": "discord"}]}) == [
        "guardrails.webhooks[0].format: expected 'json', 'teams' or 'slack', got 'discord'"
    ]
