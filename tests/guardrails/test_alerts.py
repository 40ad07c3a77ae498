"""Alert payloads: golden JSON per format, and what a crafted request cannot put in them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from portcullis.guardrails.alerts import BUILDERS, json_payload, slack_payload, teams_payload
from portcullis.guardrails.violation import Severity, Violation
from tests.guardrails.stream import BOT, START, obs

GOLDEN = Path(__file__).parent / "golden"

VIOLATION = Violation(
    rule="machines-on-portal",
    rule_kind="machine_on_human_route",
    severity=Severity.HIGH,
    identity=BOT,
    kind="app",
    detail="app token on a human-only path (denied)",
    time=START,
    observation=obs(
        0, BOT, kind="app", allowed=False, reason="forbidden", path="/admin/users",
        token_age=120.0, token_lifetime=3600.0,
    ),
    block_seconds=900.0,
)  # fmt: skip


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_golden(name: str) -> None:
    payload = BUILDERS[name](VIOLATION)
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    assert payload == json.loads(golden.read_text())


def crafted(path: str, detail: str = "d", **fields: Any) -> Violation:
    observation = obs(0, BOT, kind="app", path=path, **fields)
    return Violation("r", "new_client", Severity.LOW, BOT, "app", detail, START, observation)


def every_string(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in every_string(v)]
    if isinstance(value, list):
        return [s for v in value for s in every_string(v)]
    return []


@pytest.mark.parametrize("build", [teams_payload, slack_payload])
def test_a_crafted_path_cannot_become_a_link(build: Any) -> None:
    texts = every_string(build(crafted("/[click here](https://evil.example/x)")))
    shown = [t for t in texts if "click here" in t]
    assert shown, texts
    for text in shown:
        assert "](" not in text and "://" not in text


@pytest.mark.parametrize("build", [json_payload, teams_payload, slack_payload])
def test_credentials_and_queries_never_reach_an_alert(build: Any) -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    violation = crafted(f"/x;jsessionid=s3cr3t/{jwt}?code=abc\r\nInjected: 1")
    text = json.dumps(build(violation))
    for secret in ("s3cr3t", jwt, "code=abc", "\\r", "\\n"):
        assert secret not in text


def test_slack_fallback_text_is_escaped() -> None:
    payload = slack_payload(crafted("/", detail="client app <!channel>& not seen before"))
    assert "<!channel>" not in payload["text"]
    assert "&lt;!channel&gt;&amp;" in payload["text"]


def test_low_severity_teams_card_has_no_color() -> None:
    head = teams_payload(crafted("/"))["attachments"][0]["content"]["body"][0]
    assert "color" not in head
