"""``new_client``: a client application never seen before (after a warm-up)."""

from __future__ import annotations

from tests.guardrails.stream import ALICE, BOB, START, fired, monitor, obs, rule

KNOWN = "11111111-1111-1111-1111-111111111111"
STRANGER = "22222222-2222-2222-2222-222222222222"
MINUTE = 60.0


def test_apps_seen_during_the_warm_up_are_learned_silently() -> None:
    check = rule("new_client", warmup_minutes=30)
    assert check.check(obs(0, client_id=STRANGER)) is None
    assert check.check(obs(29 * MINUTE, client_id=KNOWN)) is None
    assert check.check(obs(31 * MINUTE, client_id=STRANGER)) is None
    assert check.check(obs(31 * MINUTE, client_id=KNOWN)) is None


def test_a_new_app_after_the_warm_up_fires_once() -> None:
    check = rule("new_client", warmup_minutes=30)
    detail = check.check(obs(30 * MINUTE, client_id=STRANGER))
    assert detail == f"client app {STRANGER} not seen before"
    assert check.check(obs(31 * MINUTE, BOB, client_id=STRANGER)) is None


def test_known_clients_and_requests_without_one() -> None:
    check = rule("new_client", warmup_minutes=0, known_clients=[KNOWN])
    assert check.check(obs(0, client_id=KNOWN)) is None
    assert check.check(obs(0, client_id=None)) is None
    assert check.check(obs(0, client_id=STRANGER)) is not None


def test_default_warm_up_is_an_hour() -> None:
    check = rule("new_client")
    assert check.check(obs(59 * MINUTE, client_id=STRANGER)) is None
    assert check.check(obs(60 * MINUTE, client_id=KNOWN)) is not None


def test_the_warm_up_starts_when_the_guardrails_do() -> None:
    check = rule("new_client", warmup_minutes=10, started=START + 3600)
    assert check.check(obs(3600 + 9 * MINUTE, client_id=STRANGER)) is None
    assert check.check(obs(3600 + 10 * MINUTE, client_id=KNOWN)) is not None


def test_learned_apps_are_bounded() -> None:
    guardrails = monitor(
        {"name": "new-app", "kind": "new_client", "warmup_minutes": 0}, max_identities=100
    )
    apps = [f"app-{n}" for n in range(150)]
    first = fired(guardrails, [obs(n, f"{ALICE}-{n}", client_id=a) for n, a in enumerate(apps)])
    assert len(first) == 150
    rule_ = guardrails.rules[0]
    assert len(rule_._seen) == 100  # type: ignore[attr-defined]
    # The 100 most recent are remembered; the 50 least recent were forgotten: new again.
    remembered = [obs(200 + n, BOB, client_id=a) for n, a in enumerate(apps[50:])]
    assert fired(guardrails, remembered) == []
    assert fired(guardrails, [obs(300, BOB, client_id=apps[0])]) == [(300, "new-app")]
