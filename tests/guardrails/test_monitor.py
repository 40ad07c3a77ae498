"""The guardrails as the gate uses them: observe, cooldown, blocks, audit, alerts, memory."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from pathlib import Path

import orjson
import pytest

from portcullis.audit.record import AuditRecord, Event
from portcullis.config import ConfigError
from portcullis.config.schema import GuardrailSettings
from portcullis.guardrails.blocks import BlockStore
from portcullis.guardrails.monitor import build_guardrails
from portcullis.guardrails.webhook import AlertSender, Webhook
from portcullis.secret import Secret
from tests.guardrails.receiver import receiver
from tests.guardrails.stream import (
    AGENT,
    ALICE,
    BOB,
    OTHER_TID,
    START,
    TID,
    denied,
    fired,
    monitor,
    obs,
)

DENIALS = {"name": "probing", "kind": "denials", "count": 3, "window_minutes": 10,
           "severity": "high", "block": {"minutes": 15}}  # fmt: skip
TENANT = {"name": "tenant", "kind": "foreign_tenant", "tenants": [TID]}
BURST = {"name": "burst", "kind": "agent_burst", "max_requests": 2, "window_seconds": 10}


def test_no_rules_no_violations() -> None:
    assert monitor().observe(obs(0)) == ()


def test_several_rules_fire_on_one_request_in_configuration_order() -> None:
    guardrails = monitor(DENIALS, TENANT)
    stream = [denied(n, tenant_id=OTHER_TID) for n in range(3)]
    assert fired(guardrails, stream) == [(0, "tenant"), (2, "probing")]


def test_the_violation() -> None:
    guardrails = monitor(DENIALS)
    (found,) = [v for n in range(3) for v in guardrails.observe(denied(n, path="/x"))]
    assert (found.rule, found.rule_kind, found.severity.value) == ("probing", "denials", "high")
    assert (found.identity, found.kind, found.time) == (ALICE, "user", START + 2)
    assert found.block_seconds == 900.0
    assert found.observation.path == "/x"
    assert guardrails.violations == 1


def test_cooldown_is_per_rule_and_identity() -> None:
    guardrails = monitor(TENANT, {**TENANT, "name": "tenant-2"})
    stream = [obs(n, who, tenant_id=OTHER_TID) for n in range(3) for who in (ALICE, BOB)]
    assert fired(guardrails, stream) == [
        (0, "tenant"), (0, "tenant-2"), (0, "tenant"), (0, "tenant-2"),
    ]  # fmt: skip


def test_rules_only_see_the_kinds_and_outcomes_they_watch() -> None:
    guardrails = monitor(DENIALS, BURST)
    probing, burst = (rule._recent for rule in guardrails.rules)  # type: ignore[attr-defined]
    guardrails.observe(obs(0))  # an allowed user: neither rule looks
    assert (len(probing), len(burst)) == (0, 0)
    guardrails.observe(obs(1, AGENT, kind="agent"))
    assert (len(probing), len(burst)) == (0, 1)
    guardrails.observe(denied(2, AGENT, kind="agent"))
    assert (len(probing), len(burst)) == (1, 1)


def test_handle_blocks_audits_and_alerts() -> None:
    records: list[AuditRecord] = []
    sender = AlertSender([Webhook(Secret("http://127.0.0.1:9/x"))])
    guardrails = monitor(
        DENIALS, blocks=BlockStore(":memory:"), alerts=sender, audit=records.append
    )
    found = [v for n in range(3) for v in guardrails.observe(denied(n))]
    assert not guardrails.is_blocked(ALICE, START + 2)  # observing does not act
    guardrails.handle(found)
    assert guardrails.is_blocked(ALICE, START + 2)
    assert not guardrails.is_blocked(ALICE, START + 2 + 900)
    assert not guardrails.is_blocked(BOB, START + 2)
    assert [(r.event, r.rule) for r in records] == [(Event.VIOLATION, "probing")]
    assert sender.queued == 1


def test_a_block_that_cannot_be_stored_is_counted(caplog: pytest.LogCaptureFixture) -> None:
    store = BlockStore(":memory:")
    guardrails = monitor(DENIALS, blocks=store)
    found = [v for n in range(3) for v in guardrails.observe(denied(n))]
    store.close()
    guardrails.handle(found)
    assert guardrails.block_errors == 1
    assert "block of" in caplog.text


def test_without_a_store_nobody_is_blocked() -> None:
    guardrails = monitor(DENIALS)
    guardrails.handle([v for n in range(3) for v in guardrails.observe(denied(n))])
    assert not guardrails.is_blocked(ALICE, START)


def test_memory_is_bounded_under_100k_identities() -> None:
    guardrails = monitor(
        {**DENIALS, "count": 5},
        {**BURST, "kinds": ["user", "agent"], "max_requests": 5},
        {"name": "new-app", "kind": "new_client", "warmup_minutes": 0},
        TENANT,
        max_identities=10_000,
    )
    identities = [f"{TID}/{n:08d}" for n in range(100_000)]

    def feed(part: list[str], at: float) -> None:
        for n, who in enumerate(part):
            client = f"app-{n}"
            guardrails.observe(denied(at, who, client_id=client, tenant_id=OTHER_TID))
            guardrails.observe(obs(at, who, client_id=client, tenant_id=OTHER_TID))

    tracemalloc.start()
    try:
        feed(identities[:20_000], 0)  # past the bound: from here memory must stay flat
        gc.collect()
        bounded = tracemalloc.get_traced_memory()[0]
        feed(identities[20_000:], 1)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - bounded
    finally:
        tracemalloc.stop()
    sizes = [len(r._recent) for r in guardrails.rules if hasattr(r, "_recent")]  # type: ignore[attr-defined]
    sizes += [len(guardrails.rules[2]._seen)]  # type: ignore[attr-defined]
    sizes += [len(f) for f in guardrails._fired.values()]
    assert sizes and max(sizes) == 10_000
    assert bounded > 5_000_000  # what 4 rules x 10 000 identities take
    assert grown < bounded / 20, (bounded, grown)  # 80 000 more identities: no more memory


def settings(tmp_path: Path, **extra: object) -> GuardrailSettings:
    return GuardrailSettings.model_validate(
        {
            "rules": [DENIALS],
            "blocks": {"sqlite_path": str(tmp_path / "blocks.db"), "refresh_seconds": 0.1},
            **extra,
        }
    )


def test_build_reads_the_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main(url: str) -> None:
        monkeypatch.setenv("ALERT_URL", url)
        records: list[AuditRecord] = []
        hooks_settings = settings(
            tmp_path, webhooks=[{"url": {"env": "ALERT_URL"}, "format": "slack"}]
        )
        guardrails = build_guardrails(hooks_settings, now=START, audit=records.append)
        guardrails.start()
        for n in range(3):
            guardrails.handle(guardrails.observe(denied(n)))
        await guardrails.close()
        assert [r.rule for r in records] == ["probing"]

    with receiver() as hooks:
        asyncio.run(main(hooks.url))
        (got,) = hooks.wait_for(1)
    assert orjson.loads(got.body)["blocks"][0]["text"]["text"].startswith("[HIGH] probing: ")
    assert BlockStore(tmp_path / "blocks.db").active(START) != []


def test_build_names_the_key_of_a_bad_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_URL", "http://hooks.example.com/s3cr3t")
    hooks = [{"url": {"env": "ALERT_URL"}}, {"url": {"env": "NOT_SET_ANYWHERE"}}]
    with pytest.raises(ConfigError) as caught:
        build_guardrails(settings(tmp_path, webhooks=hooks), now=START)
    assert [str(p) for p in caught.value.problems] == [
        "guardrails.webhooks[0].url: the webhook URL must be https "
        "(http only to a loopback address)",
        "guardrails.webhooks[1].url.env: environment variable NOT_SET_ANYWHERE is not set",
    ]
    assert "s3cr3t" not in str(caught.value)


def test_build_opens_the_store_only_when_a_rule_blocks(tmp_path: Path) -> None:
    plain = settings(tmp_path, rules=[TENANT])
    assert build_guardrails(plain, now=START).blocks is None
    assert not (tmp_path / "blocks.db").exists()
    bad = settings(tmp_path / "missing-dir")
    with pytest.raises(ConfigError, match=r"^guardrails.blocks.sqlite_path: cannot open"):
        build_guardrails(bad, now=START)
